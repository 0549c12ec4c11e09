package grformer

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/grformer/grformer/eval"
	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/metrics"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/resize"
	"github.com/grformer/grformer/weights"
)

// TestShippedWeights loads every shipped model and checks on a Set5 image
// that it beats MATLAB-exact bicubic by a clear margin, so that broken or
// swapped weights cannot ship.
func TestShippedWeights(t *testing.T) {
	if got := weights.Scales(); !slices.Equal(got, []int{2, 3, 4}) {
		t.Errorf("shipped scales %v", got)
	}
	if _, err := LoadDefault(5); err == nil {
		t.Error("LoadDefault(5): no error")
	}
	set := "../shared/datasets/benchmark/Set5"
	hrPath := filepath.Join(set, "HR", "butterfly.png")
	for _, s := range weights.Scales() {
		m, err := LoadDefault(s)
		if err != nil {
			t.Fatal(err)
		}
		if m.Scale() != s || m.Config().NumParams() != model.Light(s).NumParams() {
			t.Fatalf("shipped x%d: scale %d, %d params", s, m.Scale(), m.Config().NumParams())
		}
		if _, err := os.Stat(hrPath); err != nil {
			t.Skipf("%s not found: ../shared is absent", hrPath)
		}
		hr, err := eval.ReadImage(hrPath)
		if err != nil {
			t.Fatal(err)
		}
		lr, err := eval.MakeLR(hr, s)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := m.Upscale(context.Background(), lr, Options{})
		if err != nil {
			t.Fatal(err)
		}
		bic, err := resize.Upscale(lr, s)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := metrics.ModCrop(hr, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := metrics.Compare(ref, sr, s)
		if err != nil {
			t.Fatal(err)
		}
		base, err := metrics.Compare(ref, bic, s)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("butterfly x%d: shipped weights %.2f dB, bicubic %.2f dB", s, got.PSNR, base.PSNR)
		if got.PSNR < base.PSNR+0.5 {
			t.Errorf("shipped x%d: %.2f dB does not beat bicubic %.2f dB by 0.5 dB", s, got.PSNR, base.PSNR)
		}
	}
}

// TestShippedFlat: flat images come back flat with every shipped model
// (every output level within 2 of the input's), and a fully transparent
// background stays transparent with alpha through the model. Without the
// border context the x2 weights put speckles of up to 28 levels in the top
// corners of a flat black image (zero padding at the top and left edges).
func TestShippedFlat(t *testing.T) {
	for _, s := range weights.Scales() {
		m, err := LoadDefault(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			w, h  int
			level float32
		}{{64, 48, 0}, {64, 48, 128}, {100, 70, 0}, {37, 29, 255}, {64, 64, 60}} {
			img := &imageio.Image{W: tc.w, H: tc.h, Depth: 8, Pix: make([]float32, 3*tc.w*tc.h)}
			for i := range img.Pix {
				img.Pix[i] = tc.level / 255
			}
			// A transparent background with an opaque square in the middle;
			// alpha is checked more than 4 LR pixels from the square (nearer,
			// the model rings as bicubic does).
			img.Alpha = make([]float32, tc.w*tc.h)
			for y := tc.h / 3; y < 2*tc.h/3; y++ {
				for x := tc.w / 3; x < 2*tc.w/3; x++ {
					img.Alpha[y*tc.w+x] = 1
				}
			}
			out, err := m.UpscaleImage(context.Background(), img, Options{})
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for _, v := range out.Pix {
				worst = math.Max(worst, math.Abs(float64(v*255-tc.level)))
			}
			if worst > 2 {
				t.Errorf("x%d, %dx%d at level %v: an output level is %.1f away", s, tc.w, tc.h, tc.level, worst)
			}
			leak := 0.0
			W := tc.w * s
			for i, a := range out.Alpha {
				y, x := i/W/s, i%W/s // the LR pixel it lies in
				far := y < tc.h/3-4 || y >= 2*tc.h/3+4 || x < tc.w/3-4 || x >= 2*tc.w/3+4
				if far {
					leak = math.Max(leak, float64(a*255))
				}
			}
			if leak > 2 {
				t.Errorf("x%d, %dx%d: alpha %.1f/255 in the transparent background", s, tc.w, tc.h, leak)
			}
		}
	}
}
