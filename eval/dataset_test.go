package eval

import (
	"context"
	"fmt"
	"math"
	"os"
	"testing"
)

// sharedBenchmark is where the project's benchmark sets live, relative to
// this package's directory.
const sharedBenchmark = "../../shared/datasets/benchmark"

// manifestBicubic holds the BasicSR-convention scores of the MATLAB-exact
// bicubic upscale listed in ../shared/datasets/MANIFEST.md.
var manifestBicubic = []struct {
	set        string
	scale      int
	psnr, ssim float64
	images     int
}{
	{"Set5", 2, 33.6734, 0.9303, 5},
	{"Set14", 2, 30.2302, 0.8691, 14},
	{"B100", 2, 29.5599, 0.8434, 100},
	{"Set5", 3, 30.4033, 0.8689, 5},
	{"Set14", 3, 27.5367, 0.7745, 14},
	{"B100", 3, 27.2090, 0.7391, 100},
	{"Set5", 4, 28.4290, 0.8111, 5},
	{"Set14", 4, 25.9940, 0.7029, 14},
	{"B100", 4, 25.9613, 0.6681, 100},
}

// TestBicubicBaselineFigures checks Run with the Bicubic method against the
// MANIFEST's figures: within 0.001 dB (rounding to 4 decimals leaves 0.00005)
// and 0.0001 SSIM. All nine cases together take about 8 s on one core, so
// they run in -short mode too.
func TestBicubicBaselineFigures(t *testing.T) {
	if _, err := os.Stat(sharedBenchmark); err != nil {
		t.Skipf("benchmark images not found at %s (../shared/datasets beside the repository): %v", sharedBenchmark, err)
	}
	for _, c := range manifestBicubic {
		t.Run(fmt.Sprintf("%s/x%d", c.set, c.scale), func(t *testing.T) {
			rep, err := Run(context.Background(), Bicubic{}, Config{Dir: sharedBenchmark, Sets: []string{c.set}, Scale: c.scale, CropBorder: -1})
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Err(); err != nil {
				t.Fatal(err)
			}
			s := rep.Sets[0]
			t.Logf("%s x%d: PSNR %.6f (manifest %.4f)  SSIM %.6f (manifest %.4f)  images %d", c.set, c.scale, s.PSNR, c.psnr, s.SSIM, c.ssim, s.Scored)
			if s.Scored != c.images || s.CropBorder != c.scale {
				t.Errorf("scored %d images with crop %d, want %d with crop %d", s.Scored, s.CropBorder, c.images, c.scale)
			}
			if math.Abs(s.PSNR-c.psnr) > 0.001 {
				t.Errorf("PSNR %.5f, want %.4f", s.PSNR, c.psnr)
			}
			if math.Abs(s.SSIM-c.ssim) > 0.0001 {
				t.Errorf("SSIM %.5f, want %.4f", s.SSIM, c.ssim)
			}
		})
	}
}
