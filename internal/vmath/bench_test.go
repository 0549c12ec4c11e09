package vmath

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

// Benchmarks of the model's shapes, one goroutine, every implementation available here and the
// reference (scalar math.Exp / math.Erfc) version. values/ns counts the values transformed.

// benchImpls reports values/ns for values transformed per call of f, on every implementation
// and on ref.
func benchImpls(b *testing.B, values int, ref, f func()) {
	kerneltest.BenchImpls(b, float64(values)*1e-9, "values/ns", ref, f)
}

func benchData(n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	kerneltest.Fill(rand.New(rand.NewPCG(uint64(n), 1)), x, lo, hi)
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
