package vmath

import (
	"fmt"
	"testing"
)

// Benchmarks of grad.go on the model's shapes, one goroutine, every implementation available
// here and the reference; values/ns counts the matrix values read (m*c, m*n, ...).

// 4096 tokens (a 64x64 patch) of 60 channels; 120 for the wider variants.
func BenchmarkLayerNormRows(b *testing.B) {
	for _, c := range []int{60, 120} {
		const m = 4096
		b.Run(fmt.Sprintf("%dx%d", m, c), func(b *testing.B) {
			x, g, be := benchData(m*c, -3, 3), benchData(c, -1, 1), benchData(c, -1, 1)
			dst, mean, rstd := make([]float32, m*c), make([]float32, m), make([]float32, m)
			benchImpls(b, m*c,
				func() { LayerNormRowsRef(dst, x, m, c, g, be, 1e-5, mean, rstd) },
				func() { LayerNormRows(dst, x, m, c, g, be, 1e-5, mean, rstd) })
		})
	}
}

func BenchmarkLayerNormAddRows4096x60(b *testing.B) {
	const m, c = 4096, 60
	x, g, be := benchData(m*c, -3, 3), benchData(c, -1, 1), benchData(c, -1, 1)
	t := make([]float32, m*c)
	benchImpls(b, m*c,
		func() { LayerNormAddRowsRef(t, x, m, c, g, be, 1e-5, 1) },
		func() { LayerNormAddRows(t, x, m, c, g, be, 1e-5, 1, nil, nil) })
}

func BenchmarkLayerNormBackwardRows4096x60(b *testing.B) {
	const m, c = 4096, 60
	x, dy, g := benchData(m*c, -3, 3), benchData(m*c, -1, 1), benchData(c, -1, 1)
	mean, rstd := benchData(m, -0.1, 0.1), benchData(m, 0.5, 1.5)
	dx := make([]float32, m*c)
	benchImpls(b, m*c,
		func() { LayerNormBackwardRowsRef(dx, dy, x, m, c, g, mean, rstd, true) },
		func() { LayerNormBackwardRows(dx, dy, x, m, c, g, mean, rstd, true) })
}

// 16384 tokens (4 patches of 64x64).
func BenchmarkLayerNormParamGrad16384x60(b *testing.B) {
	const m, c = 16384, 60
	x, dy := benchData(m*c, -3, 3), benchData(m*c, -1, 1)
	mean, rstd := benchData(m, -0.1, 0.1), benchData(m, 0.5, 1.5)
	dg, db := make([]float32, c), make([]float32, c)
	benchImpls(b, m*c,
		func() { LayerNormParamGradColsRef(dg, db, dy, x, c, m, c, mean, rstd) },
		func() { LayerNormParamGrad(dg, db, dy, x, m, c, mean, rstd) })
}

// MLP hidden activations of one patch: 4096 tokens x 120 channels.
func BenchmarkGELUBackward(b *testing.B) {
	n := 4096 * 120
	x, dx0 := benchData(n, -4, 4), benchData(n, -1, 1)
	dx := make([]float32, n)
	// dx is restored before every call: repeated products would end in subnormal numbers.
	benchImpls(b, n,
		func() { copy(dx, dx0); GELUBackwardRef(dx, x) },
		func() { copy(dx, dx0); GELUBackward(dx, x) })
}

// Bias gradients: 16384 rows.
func BenchmarkColSums(b *testing.B) {
	for _, n := range []int{60, 120, 180} {
		const m = 16384
		b.Run(fmt.Sprintf("%dx%d", m, n), func(b *testing.B) {
			src, dst := benchData(m*n, -1, 1), make([]float32, n)
			benchImpls(b, m*n, func() { ColSumsRef(dst, src, n, m, n) }, func() { ColSums(dst, src, n, m, n) })
		})
	}
}

// q or k of one patch: 4096 tokens, 3 heads of 20 channels, in a [4096, 180] qkv matrix.
func BenchmarkL2NormalizeHeads4096x3x20(b *testing.B) {
	const m, C, d, ld = 4096, 60, 20, 180
	x := benchData(m*ld, -1, 1)
	norms := make([]float32, m*C/d)
	// Repeated in place: unit vectors stay unit vectors, the work the same.
	benchImpls(b, m*C,
		func() { L2NormalizeHeadsRef(x, ld, m, C, d, norms) },
		func() { L2NormalizeHeads(x, ld, m, C, d, norms) })
}

// One head of a 16x16 window: 256x256 probabilities, the position-bias gradient accumulated.
func BenchmarkSoftmaxBackwardAccRows256x256(b *testing.B) {
	const n = 256
	p, dp, D := benchData(n*n, 0, 0.01), benchData(n*n, -1, 1), benchData(n, -0.1, 0.1)
	ds, acc := make([]float32, n*n), make([]float32, n*n)
	benchImpls(b, n*n,
		func() { SoftmaxBackwardAccRowsRef(ds, p, dp, n, n, n, D, acc, n) },
		func() { SoftmaxBackwardAccRows(ds, p, dp, n, n, n, D, acc, n) })
}

// D_i = dO_i . O_i for one head (20 of 60 channels) of a 16x16 window.
func BenchmarkRowDots256x20(b *testing.B) {
	const m, d, ld = 256, 20, 60
	a, c, D := benchData(m*ld, -1, 1), benchData(m*ld, -1, 1), make([]float32, m)
	benchImpls(b, m*d, func() { RowDotsRef(D, a, c, ld, ld, m, d) }, func() { RowDots(D, a, c, ld, ld, m, d) })
}
