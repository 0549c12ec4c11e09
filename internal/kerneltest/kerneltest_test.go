package kerneltest

import (
	"math"
	"testing"

	"github.com/grformer/grformer/internal/cpu"
	"github.com/grformer/grformer/internal/guardmem"
)

func TestForEachImpl(t *testing.T) {
	start := cpu.Impl()
	var ran []string
	ForEachImpl(t, func(t *testing.T) { ran = append(ran, cpu.Impl()) })
	if len(ran) != len(cpu.Impls()) || ran[len(ran)-1] != "generic" {
		t.Errorf("ran %v, want %v", ran, cpu.Impls())
	}
	for i, name := range cpu.Impls() {
		if ran[i] != name {
			t.Errorf("run %d forced %q, want %q", i, ran[i], name)
		}
	}
	if cpu.Impl() != start {
		t.Errorf("implementation %q afterwards, want %q", cpu.Impl(), start)
	}
}

func TestForEachPlacement(t *testing.T) {
	defer Release()
	runs := 0
	ForEachPlacement(t, func(t *testing.T) {
		runs++
		x := Floats(3)
		x[0], x[2] = 1, 1 // both ends are accessible
		if l := Int32s(2); len(l) != 2 {
			t.Errorf("Int32s(2): %d values", len(l))
		}
		if front != (runs == 2) {
			t.Errorf("run %d: guard before = %v", runs, front)
		}
	})
	want := 1
	if guardmem.Enabled {
		want = 2
	}
	if runs != want {
		t.Errorf("%d runs, want %d", runs, want)
	}
	if front {
		t.Error("placement not restored")
	}
	if Floats(0) != nil || Int32s(0) == nil {
		t.Error("Floats(0) must be nil, Int32s(0) empty but not nil")
	}
}

// TestClose checks the comparison on a fake testing.TB that records errors.
func TestClose(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		name             string
		got, want, scale []float32
		tol              float64
		errs             int
	}{
		{"equal", []float32{1, 2}, []float32{1, 2}, nil, 0, 0},
		{"within", []float32{1.05, 2}, []float32{1, 2}, nil, 0.1, 0},
		{"beyond", []float32{1.2, 2}, []float32{1, 2}, nil, 0.1, 1},
		{"scaled", []float32{1.2, 2}, []float32{1, 2}, []float32{3, 1}, 0.1, 0},
		{"scaled beyond", []float32{1, 2.2}, []float32{1, 2}, []float32{3, 1}, 0.1, 1},
		{"sentinel kept", []float32{Sentinel, 1}, []float32{Sentinel, 1}, nil, 1, 0},
		{"sentinel overwritten", []float32{Sentinel + 0.01, 1}, []float32{Sentinel, 1}, nil, 1, 1},
		{"NaN both", []float32{nan}, []float32{nan}, nil, 0, 0},
		{"NaN got", []float32{nan}, []float32{1}, nil, 1, 1},
		{"NaN want", []float32{1}, []float32{nan}, nil, 1, 1},
	} {
		r := &recorder{TB: t}
		Close(r, c.name, c.got, c.want, c.scale, c.tol)
		if r.errs != c.errs {
			t.Errorf("%s: %d errors, want %d", c.name, r.errs, c.errs)
		}
	}
	if w := Close(t, "worst", []float32{1.1, 2.4}, []float32{1, 2}, []float32{1, 4}, 1); math.Abs(w-0.1) > 1e-6 {
		t.Errorf("worst = %v, want 0.1", w)
	}
}

type recorder struct {
	testing.TB
	errs int
}

func (r *recorder) Error(args ...any) { r.errs++ }
func (r *recorder) Helper()           {}
