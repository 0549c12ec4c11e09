package backprop

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/training"
)

// TestAdamGolden runs three steps of Adam (lr 2e-4, betas 0.9/0.99, eps
// 1e-8) from the golden weights and batch, as the reference did, and
// compares the losses before each step and the parameters after each step.
// Tolerance: the reference's float32 and float64 parameters differ by at
// most 2.9e-7 after three steps; 2e-6 absolute catches the usual Adam
// mistakes (eps placement, missing bias correction, wrong beta2), as the
// golden README says.
func TestAdamGolden(t *testing.T) {
	// adam_tiny_x2 starts from grad_tiny_x2's weights and batch (the same
	// files, kept once in testdata: tiny_x2's weights, grad_tiny_x2's batch).
	dir := testdataGolden + "/adam_tiny_x2"
	n := loadNet(t, testdataGolden+"/tiny_x2/weights.pth")
	in := readNpy(t, testdataGolden+"/grad_tiny_x2/input.npy")
	target := readNpy(t, testdataGolden+"/grad_tiny_x2/target.npy")
	var meta struct {
		Losses []float64 `json:"loss_before_step_f64"`
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err := json.Unmarshal(raw, &meta); err != nil || len(meta.Losses) != 3 {
		t.Fatalf("meta.json: %v (%d losses)", err, len(meta.Losses))
	}
	adam, err := training.NewAdam(n.Params(), training.DefaultAdam())
	if err != nil {
		t.Fatal(err)
	}
	N, H, W := in.Shape[0], in.Shape[2], in.Shape[3]
	for step := 1; step <= 3; step++ {
		loss, err := n.Step(in.Float32(), target.Float32(), N, H, W, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(loss - meta.Losses[step-1]); d > 1e-6 {
			t.Errorf("step %d: loss %.8f, reference %.8f", step, loss, meta.Losses[step-1])
		}
		adam.Step(2e-4)
		name := map[int]string{1: "params_after1.safetensors", 2: "params_after2.safetensors", 3: "params_after3_f64.safetensors"}[step]
		want, err := checkpoint.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for _, p := range n.Params() {
			w, ok := want[p.Name]
			if !ok {
				t.Fatalf("%s has no %s", name, p.Name)
			}
			for i, v := range w.F32 {
				worst = math.Max(worst, math.Abs(float64(p.Data[i])-float64(v)))
			}
		}
		t.Logf("after step %d: max |param - reference| = %.3g (%s)", step, worst, name)
		if worst > 2e-6 {
			t.Errorf("after step %d: parameters differ from the reference by %.3g > 2e-6", step, worst)
		}
	}
	// The moments after three steps, per tensor within 1e-3 of the tensor's
	// largest value (they are sums of gradients, as tolerant as those).
	moments, err := checkpoint.Load(filepath.Join(dir, "adam_state_after3.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range n.Params() {
		for _, m := range []struct {
			suffix string
			got    []float32
		}{{".exp_avg", adam.M[i]}, {".exp_avg_sq", adam.V[i]}} {
			w, ok := moments[p.Name+m.suffix]
			if !ok {
				t.Fatalf("no %s%s in the reference state", p.Name, m.suffix)
			}
			mx, d := 0.0, 0.0
			for j, v := range w.F32 {
				mx = math.Max(mx, math.Abs(float64(v)))
				d = math.Max(d, math.Abs(float64(m.got[j])-float64(v)))
			}
			if d > 1e-3*mx+1e-12 {
				t.Errorf("%s%s: max diff %.3g, max %.3g", p.Name, m.suffix, d, mx)
			}
		}
	}
}
