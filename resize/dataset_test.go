package resize

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sharedDatasets is where the project's datasets live, relative to this
// package's directory.
const sharedDatasets = "../../shared/datasets/benchmark"

func readPNG(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// TestDatasetLRBitExact downscales every HR image of Set5 and Set14 and
// compares with the LR_bicubic files (57 of them) sample by sample.
func TestDatasetLRBitExact(t *testing.T) {
	if _, err := os.Stat(sharedDatasets); err != nil {
		t.Skipf("benchmark images not found at %s (../shared/datasets beside the repository): %v", sharedDatasets, err)
	}
	files := 0
	for _, set := range []string{"Set5", "Set14"} {
		hrs, err := filepath.Glob(filepath.Join(sharedDatasets, set, "HR", "*.png"))
		if err != nil || len(hrs) == 0 {
			t.Fatalf("%s: no HR images (%v)", set, err)
		}
		sort.Strings(hrs)
		for _, hrPath := range hrs {
			name := strings.TrimSuffix(filepath.Base(hrPath), ".png")
			hr := FromImage(readPNG(t, hrPath))
			for _, s := range []int{2, 3, 4} {
				t.Run(fmt.Sprintf("%s/%s/x%d", set, name, s), func(t *testing.T) {
					lrPath := filepath.Join(sharedDatasets, set, "LR_bicubic", fmt.Sprintf("X%d", s), fmt.Sprintf("%sx%d.png", name, s))
					want := FromImage(readPNG(t, lrPath))
					crop, err := hr.Crop(0, 0, hr.W/s*s, hr.H/s*s)
					if err != nil {
						t.Fatal(err)
					}
					got, err := Resize8(crop, 1/float64(s))
					if err != nil {
						t.Fatal(err)
					}
					if got.W != want.W || got.H != want.H || got.C != want.C {
						t.Fatalf("got %dx%dx%d, want %dx%dx%d", got.W, got.H, got.C, want.W, want.H, want.C)
					}
					diff, maxd := 0, 0
					for i := range got.Pix {
						d := int(got.Pix[i]) - int(want.Pix[i])
						if d < 0 {
							d = -d
						}
						if d != 0 {
							diff++
						}
						maxd = max(maxd, d)
					}
					if diff != 0 {
						t.Errorf("%d of %d samples differ (max %d)", diff, len(got.Pix), maxd)
					}
				})
				files++
			}
		}
	}
	if files != 57 {
		t.Errorf("checked %d LR files, want 57", files)
	}
}
