package kerneltest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/grformer/grformer/internal/cpu"
	"github.com/grformer/grformer/internal/guardmem"
)

// ForEachImpl runs f as a subtest (named "avx512", "avx2", "generic") once per
// implementation this machine runs, with that implementation forced for every
// kernel package; it restores the previous one afterwards. On an AVX-512
// machine it thus also runs the AVX2 kernels.
func ForEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, name := range cpu.Impls() {
		t.Run(name, func(t *testing.T) {
			prev, err := cpu.SetImpl(name)
			if err != nil {
				t.Fatal(err)
			}
			defer cpu.SetImpl(prev)
			f(t)
		})
	}
}

// front places the guard page of Floats before the slice instead of after
// it (ForEachPlacement).
var front bool

// ForEachPlacement runs f as a subtest with the buffers of Floats ending
// right at an inaccessible page ("guard=after") and, where guard pages are
// real, starting right after one ("guard=before"): a kernel reading or
// writing one value past either end of a slice faults.
func ForEachPlacement(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	defer func() { front = false }()
	for _, before := range []bool{false, true} {
		if before && !guardmem.Enabled {
			continue
		}
		front = before
		name := "guard=after"
		if before {
			name = "guard=before"
		}
		t.Run(name, f)
	}
}

// Floats returns n zero float32 placed against an inaccessible page (after
// the last value, or before the first inside ForEachPlacement's second run)
// where the system allows, ordinary memory elsewhere. Release frees them.
// Floats(0) is nil.
func Floats(n int) []float32 { return guardmem.Floats(n, front) }

// Int32s is Floats for int32 values; Int32s(0) is empty but not nil.
func Int32s(n int) []int32 {
	if n == 0 {
		return []int32{}
	}
	f := Floats(n)
	return unsafe.Slice((*int32)(unsafe.Pointer(&f[0])), n)
}

// Release frees every buffer Floats and Int32s returned so far.
func Release() { guardmem.Release() }

// Sentinel marks values a kernel must not touch (gaps between strided rows,
// rows outside a range): Close requires them unchanged.
const Sentinel = 1234.5

// Fill sets x to values uniform in [lo, hi).
func Fill(rng *rand.Rand, x []float32, lo, hi float64) {
	for i := range x {
		x[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}

// Abs returns the magnitudes of x in a new slice (nil for nil): run the
// reference on the magnitudes of its inputs to get the scale of each output
// that Close measures errors against.
func Abs(x []float32) []float32 {
	if x == nil {
		return nil
	}
	a := make([]float32, len(x))
	for i, v := range x {
		a[i] = float32(math.Abs(float64(v)))
	}
	return a
}

// Close compares got with want, the reference's result: where want holds
// Sentinel, got must hold it too (the kernel did not write there);
// elsewhere |got - want| must be at most tol*scale[i] (tol alone when scale
// is nil), and a NaN is accepted only against a NaN. It reports up to 5
// errors, then stops the test, and returns the largest error, relative to
// scale when given.
func Close(t testing.TB, what string, got, want, scale []float32, tol float64) (worst float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i, w := range want {
		g := got[i]
		var msg string
		if w == Sentinel {
			if g != Sentinel {
				msg = fmt.Sprintf("%s: [%d] = %v, should be left untouched", what, i, g)
			}
		} else if !(g != g && w != w) {
			d, bound := math.Abs(float64(g-w)), tol
			e := d
			if scale != nil {
				bound *= float64(scale[i])
				e /= float64(scale[i])
			}
			if !(d <= bound) {
				msg = fmt.Sprintf("%s: [%d] = %v, want %v (|diff| %.3g > %.3g)", what, i, g, w, d, bound)
			} else if e > worst {
				worst = e
			}
		}
		if msg != "" {
			t.Error(msg)
			if bad++; bad >= 5 {
				t.FailNow()
			}
		}
	}
	return worst
}

// BenchImpls runs Bench as a sub-benchmark for every implementation this
// machine runs (forcing it), then for ref, the plain reference, as "ref"
// unless ref is nil.
func BenchImpls(b *testing.B, work float64, unit string, ref, f func()) {
	for _, name := range cpu.Impls() {
		b.Run(name, func(b *testing.B) {
			prev, _ := cpu.SetImpl(name)
			defer cpu.SetImpl(prev)
			Bench(b, work, unit, f)
		})
	}
	if ref != nil {
		b.Run("ref", func(b *testing.B) { Bench(b, work, unit, ref) })
	}
}

// Bench times f after one warm-up call and reports its rate, work per call
// per second in unit (work 2e-9*m*n*k for "GFLOP/s" of a matrix product),
// for the mean call and, as "best-"+unit, for the fastest one: the machine
// is shared, and the fastest call is the figure that says what the kernel
// does. No rate is reported with work 0.
func Bench(b *testing.B, work float64, unit string, f func()) {
	f()
	b.ResetTimer()
	best := time.Duration(math.MaxInt64)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		f()
		best = min(best, time.Since(t0))
	}
	if work > 0 {
		b.ReportMetric(work*float64(b.N)/b.Elapsed().Seconds(), unit)
		b.ReportMetric(work/best.Seconds(), "best-"+unit)
	}
}

// MustPanic checks that every function of cases panics (the kernels' argument
// checks: a slice too short for its shape, a bad row range), reporting the
// names of those that return.
func MustPanic(t testing.TB, cases map[string]func()) {
	t.Helper()
	for name, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
