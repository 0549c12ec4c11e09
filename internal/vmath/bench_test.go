package vmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/grformer/grformer/internal/cpu"
)

// Benchmarks of the model's shapes, one goroutine, every implementation available here and the
// reference (scalar math.Exp / math.Erfc) version. values/ns counts the values transformed.

func benchImpls(b *testing.B, values int, ref, f func()) {
	run := func(b *testing.B, f func()) {
		f()
		b.ResetTimer()
		best := time.Duration(math.MaxInt64)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			f()
			best = min(best, time.Since(t0))
		}
		b.ReportMetric(float64(values)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "values/ns")
		// The machine is shared: the fastest call is the figure that says what the kernel does.
		b.ReportMetric(float64(values)/float64(best.Nanoseconds()), "best-values/ns")
	}
	for _, name := range cpu.Impls() {
		b.Run(name, func(b *testing.B) {
			prev, _ := cpu.SetImpl(name)
			defer cpu.SetImpl(prev)
			run(b, f)
		})
	}
	b.Run("ref", func(b *testing.B) { run(b, ref) })
}

func benchData(n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	randFill(rand.New(rand.NewPCG(uint64(n), 1)), x, lo, hi)
	return x
}

// Rows of 256 (one head of one 16x16 window: 256x256 logits), 64 and 1024 values: 65536 values
// each.
func BenchmarkSoftmaxRows(b *testing.B) {
	for _, n := range []int{256, 64, 1024} {
		m := 65536 / n
		b.Run(fmt.Sprintf("%dx%d", m, n), func(b *testing.B) {
			// Repeated in place: the rows stay softmax inputs, the work the same.
			x := benchData(m*n, -10, 10)
			benchImpls(b, m*n,
				func() { SoftmaxRowsRef(x, n, m, n) },
				func() { SoftmaxRows(x, n, m, n) })
		})
	}
}

func BenchmarkScaleBiasSoftmaxRows256x256(b *testing.B) {
	const n = 256
	x := benchData(n*n, -10, 10)
	bias := benchData(n*n, -2, 2)
	lab := make([]int32, n)
	for j := range lab {
		lab[j] = int32(j % 16 / 12) // a shifted window: two regions
	}
	benchImpls(b, n*n,
		func() { ScaleBiasSoftmaxRowsRef(x, n, n, n, 0.2236068, bias, n, lab, lab) },
		func() { ScaleBiasSoftmaxRows(x, n, n, n, 0.2236068, bias, n, lab, lab) })
}

// GELU on 61440x120 values (MLP hidden activations: 61440 tokens, 120 channels).
func BenchmarkGELU(b *testing.B) {
	n := 61440 * 120
	if testing.Short() {
		n = 1 << 16
	}
	src := benchData(n, -4, 4)
	dst := make([]float32, n)
	benchImpls(b, n,
		func() { copy(dst, src); GELURef(dst) },
		func() { GELUInto(dst, src) })
}

func BenchmarkExp(b *testing.B) {
	n := 1 << 16
	src := benchData(n, -20, 5)
	dst := make([]float32, n)
	benchImpls(b, n, func() { ExpRef(dst, src) }, func() { Exp(dst, src) })
}
