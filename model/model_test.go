package model

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/internal/cpu"
	"github.com/grformer/grformer/internal/npy"
)

// goldenCase is one forward case of the reference's golden tensors.
type goldenCase struct {
	name    string
	dir     string
	weights string
	tol     float64 // max abs error against output_f64.npy
}

const sharedGolden = "../../shared/golden"

var goldenCases = []goldenCase{
	// The tiny cases live in testdata so that they always run.
	{"tiny_x2", "../testdata/golden/tiny_x2", "weights.pth", 1e-5},
	{"tiny_x3", "../testdata/golden/tiny_x3", "weights.pth", 1e-5},
	{"tiny_x4", "../testdata/golden/tiny_x4", "weights.safetensors", 1e-5},
	// The light cases are read from ../shared when it is there.
	{"dev_x2", sharedGolden + "/dev_x2", "weights_slim.safetensors", 1e-4},
	{"dev_x3", sharedGolden + "/dev_x3", "weights_slim.pth", 1e-4},
	{"dev_x4_a", sharedGolden + "/dev_x4_a", "weights_slim.pth", 1e-4},
	{"dev_x4_b", sharedGolden + "/dev_x4_b", "weights_slim.pth", 1e-4},
}

func loadGoldenModel(t testing.TB, path string) *Model {
	t.Helper()
	sd, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFrom(sd)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readNpy(t testing.TB, path string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func maxAbsDiff(got []float32, want []float64) (float64, int) {
	worst, at := 0.0, -1
	for i, w := range want {
		d := math.Abs(float64(got[i]) - w)
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
			if math.IsNaN(d) {
				return math.Inf(1), i
			}
		}
	}
	return worst, at
}

func TestForwardGolden(t *testing.T) {
	testForwardGolden(t, goldenCases)
}

// TestForwardGoldenGeneric runs the golden cases again with the portable Go
// kernels forced, so the fallback of other platforms is checked on every run.
func TestForwardGoldenGeneric(t *testing.T) {
	defer cpu.SetGeneric(cpu.SetGeneric(true))
	testForwardGolden(t, goldenCases)

}

func testForwardGolden(t *testing.T, cases []goldenCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.dir); err != nil {
				t.Skipf("golden case %s not found (%v): ../shared is absent", tc.name, err)
			}
			m := loadGoldenModel(t, filepath.Join(tc.dir, tc.weights))
			in := readNpy(t, filepath.Join(tc.dir, "input.npy"))
			want := readNpy(t, filepath.Join(tc.dir, "output_f64.npy"))
			n, h, w := in.Shape[0], in.Shape[2], in.Shape[3]
			got, err := m.Forward(in.Float32(), n, h, w, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want.Data) {
				t.Fatalf("output has %d values, want %d (shape %v)", len(got), len(want.Data), want.Shape)
			}
			d, at := maxAbsDiff(got, want.Data)
			t.Logf("%s: max abs error vs output_f64 = %.3g (tolerance %.0e)", tc.name, d, tc.tol)
			if d > tc.tol {
				t.Errorf("max abs error %.3g at %d (got %v, want %v) > %.0e", d, at, got[at], want.Data[at], tc.tol)
			}
		})
	}
}

// TestIntermediatesGolden compares every traced stage with the reference's
// per-stage tensors.
func TestIntermediatesGolden(t *testing.T) {
	for _, tc := range []struct {
		name, dir, weights, inter string
		tol                       float64 // relative to max(1, max|want|)
	}{
		{"tiny_x2", "../testdata/golden/tiny_x2", "weights.pth", "intermediates_f64", 1e-5},
		{"dev_x4_a", sharedGolden + "/dev_x4_a", "weights_slim.pth", "intermediates", 1e-4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.dir); err != nil {
				t.Skipf("golden case %s not found: ../shared is absent", tc.name)
			}
			files, err := filepath.Glob(filepath.Join(tc.dir, tc.inter, "*.npy"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no intermediates in %s", tc.dir)
			}
			golden := map[string]string{}
			for _, f := range files {
				golden[strings.TrimSuffix(filepath.Base(f), ".npy")] = f
			}
			m := loadGoldenModel(t, filepath.Join(tc.dir, tc.weights))
			in := readNpy(t, filepath.Join(tc.dir, "input.npy"))
			seen := map[string]bool{}
			trace := func(name, layout string, data []float32, dims ...int) {
				f, ok := golden[name]
				if !ok {
					return
				}
				seen[name] = true
				want := readNpy(t, f)
				got := data
				if layout == "HWC" && strings.HasSuffix(name, "NCHW") {
					got = hwcToCHW(data, dims[0], dims[1], dims[2])
				}
				if len(got) != len(want.Data) {
					t.Errorf("%s: %d values, golden has %d %v", name, len(got), len(want.Data), want.Shape)
					return
				}
				d, at := maxAbsDiff(got, want.Data)
				scale := 1.0
				for _, v := range want.Data {
					scale = math.Max(scale, math.Abs(v))
				}
				t.Logf("%-55s max abs err %.3g (max |ref| %.3g)", name, d, scale)
				if d > tc.tol*scale {
					t.Errorf("%s: max abs error %.3g at %d (got %v want %v) > %.0e x %.3g", name, d, at, got[at], want.Data[at], tc.tol, scale)
				}
			}
			n, h, w := in.Shape[0], in.Shape[2], in.Shape[3]
			if _, err := m.Forward(in.Float32(), n, h, w, Options{Trace: trace}); err != nil {
				t.Fatal(err)
			}
			var missed []string
			for name := range golden {
				if !seen[name] && !strings.Contains(name, "mlp_out") {
					missed = append(missed, name)
				}
			}
			sort.Strings(missed)
			if len(missed) > 0 {
				t.Errorf("stages not traced: %v", missed)
			}
		})
	}
}

func hwcToCHW(x []float32, h, w, c int) []float32 {
	out := make([]float32, len(x))
	for i := range h * w {
		for ch := range c {
			out[ch*h*w+i] = x[i*c+ch]
		}
	}
	return out
}

func TestNumParamsPresets(t *testing.T) {
	for _, tc := range []struct{ scale, want int }{{2, 780936}, {3, 789051}, {4, 800412}} {
		if got := Light(tc.scale).NumParams(); got != tc.want {
			t.Errorf("Light(%d).NumParams() = %d, want %d", tc.scale, got, tc.want)
		}
	}
}

func TestBlockWindowQuirk(t *testing.T) {
	cfg := Light(4)
	want := [][4]int{{8, 32, 0, 0}, {8, 32, 4, 16}, {32, 8, 0, 0}, {32, 8, 4, 16}, {8, 32, 0, 0}, {8, 32, 4, 16}}
	for i, w := range want {
		wh, ww, sh, sw := cfg.BlockWindow(i)
		if [4]int{wh, ww, sh, sw} != w {
			t.Errorf("block %d: window (%d,%d) shift (%d,%d), want %v", i, wh, ww, sh, sw, w)
		}
	}
}

func TestConfigFromGolden(t *testing.T) {
	for _, tc := range []struct {
		path string
		want string
	}{
		{"../testdata/golden/tiny_x2/weights.pth", "C=16 depths=[2 2] heads=[2 2] window=[4 8] mlp=2 scale=2 img=16"},
		{"../testdata/golden/tiny_x3/weights.safetensors", "C=12 depths=[4] heads=[3] window=[4 8] mlp=1.5 scale=3 img=16"},
		{"../testdata/golden/tiny_x4/weights.pth", "C=8 depths=[6] heads=[2] window=[4 4] mlp=2 scale=4 img=8"},
	} {
		sd, err := checkpoint.Load(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ConfigFrom(sd)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("C=%d depths=%v heads=%v window=%v mlp=%g scale=%d img=%d",
			cfg.EmbedDim, cfg.Depths, cfg.NumHeads, cfg.Window, cfg.MLPRatio, cfg.Scale, cfg.ImgSize)
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.path, got, tc.want)
		}
	}
}
