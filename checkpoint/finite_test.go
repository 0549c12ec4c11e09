package checkpoint

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestCheckFinite: the first NaN or Inf in sorted key order is reported
// with its key and index (issue 12, item 7); include leaves keys out.
func TestCheckFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	sd := StateDict{
		"a.weight":  NewF32([]int{2, 2}, []float32{1, 2, 3, 4}),
		"b.weight":  NewF32([]int{3}, []float32{0, 1e38, nan}),
		"c.mask":    NewF32([]int{2}, []float32{inf, 0}),
		"d.index":   NewI64([]int{1}, []int64{math.MaxInt64}),
		"e.largest": NewF32([]int{1}, []float32{math.MaxFloat32}),
	}
	err := sd.CheckFinite(nil)
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Key != "b.weight" || nf.Index != 2 || nf.Numel != 3 || !math.IsNaN(float64(nf.Value)) {
		t.Fatalf("error %v (%+v)", err, nf)
	}
	if want := `checkpoint: tensor "b.weight" holds NaN at index 2 (of 3)`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want it to start with %q", err, want)
	}
	sd["b.weight"].F32[2] = 0
	err = sd.CheckFinite(nil)
	if !errors.As(err, &nf) || nf.Key != "c.mask" || nf.Index != 0 || !math.IsInf(float64(nf.Value), -1) || !strings.Contains(err.Error(), "-Inf at index 0") {
		t.Errorf("error %v", err)
	}
	if err := sd.CheckFinite(func(k string) bool { return !strings.HasSuffix(k, ".mask") }); err != nil {
		t.Errorf("masks left out: %v", err)
	}
}
