package backprop

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/internal/npy"
	"github.com/grformer/grformer/model"
)

// The tiny golden cases live in testdata so that they always run; the light
// case is read from ../shared when it is there.
const (
	testdataGolden = "../testdata/golden"
	sharedGolden   = "../../shared/golden"
)

// loadStateDict reads a checkpoint and derives its configuration.
func loadStateDict(t testing.TB, path string) (model.Config, checkpoint.StateDict) {
	t.Helper()
	sd, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ConfigFrom(sd)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, sd
}

func loadNet(t testing.TB, path string) *Net {
	t.Helper()
	n, err := NewNet(loadStateDict(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func readNpy(t testing.TB, path string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestGradientsGolden compares every parameter gradient and the input
// gradient of the mean L1 loss with the reference's float64 gradients.
// Tolerance, per tensor, from the cases' meta.json: the reference's own
// float32 and float64 gradients differ by at most 8.9e-5 of a tensor's
// largest gradient; we allow max|g - g64| <= 1e-3 * max|g64| (plus 1e-9
// absolute for all-zero tensors such as clamped logit scales).
func TestGradientsGolden(t *testing.T) {
	for _, tc := range []struct {
		name, dir string
		weights   string // path of the weights
		slow      bool
	}{
		// grad_tiny_x2's weights are tiny_x2's (the same file), kept once.
		{"grad_tiny_x2", testdataGolden + "/grad_tiny_x2", testdataGolden + "/tiny_x2/weights.pth", false},
		{"grad_light_x4", sharedGolden + "/grad_light_x4", sharedGolden + "/grad_light_x4/weights_slim.safetensors", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if _, err := os.Stat(dir); err != nil {
				if !strings.HasPrefix(dir, sharedGolden) {
					t.Fatal(err) // testdata is part of the repository
				}
				t.Skipf("%s not found: ../shared is absent", dir)
			}
			if tc.slow && testing.Short() {
				t.Skip("light case; run without -short")
			}
			n := loadNet(t, tc.weights)
			in := readNpy(t, filepath.Join(dir, "input.npy"))
			target := readNpy(t, filepath.Join(dir, "target.npy"))
			N, H, W := in.Shape[0], in.Shape[2], in.Shape[3]
			loss, err := n.Step(in.Float32(), target.Float32(), N, H, W, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var meta struct {
				Loss    float64 `json:"loss"`
				LossF64 float64 `json:"loss_f64"`
			}
			raw, _ := os.ReadFile(filepath.Join(dir, "meta.json"))
			if err := json.Unmarshal(raw, &meta); err != nil {
				t.Fatal(err)
			}
			t.Logf("loss %.8f, reference f64 %.8f", loss, meta.LossF64)
			if math.Abs(loss-meta.LossF64) > 1e-6 {
				t.Errorf("loss %.8f, reference %.8f", loss, meta.LossF64)
			}
			want, err := checkpoint.Load(filepath.Join(dir, "grads_f64.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			names := make([]string, 0, len(want))
			for k := range want {
				names = append(names, k)
			}
			sort.Strings(names)
			if len(names) != len(n.Params()) {
				t.Errorf("reference has %d gradients, the net %d parameters", len(names), len(n.Params()))
			}
			worst, worstName := 0.0, ""
			for _, k := range names {
				p := n.Param(k)
				if p == nil {
					t.Errorf("no parameter %s", k)
					continue
				}
				g64 := want[k].F32
				mx, d := 0.0, 0.0
				for i, v := range g64 {
					mx = math.Max(mx, math.Abs(float64(v)))
					d = math.Max(d, math.Abs(float64(p.Grad[i])-float64(v)))
				}
				rel := d / math.Max(mx, 1e-30)
				if rel > worst && mx > 0 {
					worst, worstName = rel, k
				}
				if d > 1e-3*mx+1e-9 {
					t.Errorf("%s: max |g - g64| = %.3g, max |g64| = %.3g (ratio %.3g)", k, d, mx, rel)
				}
			}
			t.Logf("worst tensor %s: max|g-g64|/max|g64| = %.3g", worstName, worst)
			gin := readNpy(t, filepath.Join(dir, "grad_input_f64.npy"))
			mx, d := 0.0, 0.0
			for i, v := range gin.Data {
				mx = math.Max(mx, math.Abs(v))
				d = math.Max(d, math.Abs(float64(n.InputGrad()[i])-v))
			}
			t.Logf("input gradient: max|g-g64|/max|g64| = %.3g", d/mx)
			if d > 1e-3*mx {
				t.Errorf("input gradient: max |g - g64| = %.3g, max |g64| = %.3g", d, mx)
			}
		})
	}
}
