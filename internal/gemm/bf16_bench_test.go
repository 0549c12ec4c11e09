package gemm

import (
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

// BF16 benchmarks on the shapes of bench_test.go; compare with the fp32 ones of the same name
// (BenchmarkLinear60to60_... against BenchmarkBF16Linear60to60_...). GFLOP/s counts 2·M·N·K.

func benchPackedBF16(b *testing.B, m, n, k, lda, ldc int) {
	a := randSlice((m-1)*lda + k)
	w := PackNTBF16(n, k, randSlice(n*k), k)
	bias := randSlice(n)
	c := make([]float32, (m-1)*ldc+n)
	benchImpls(b, float64(2*m*n*k), func() { w.Mul(m, a, lda, c, ldc, bias, false) })
}

// A converted once by the caller (ConvertBF16), the kernel alone.
func benchPackedBF16A(b *testing.B, m, n, k, ldc int) {
	kp := k + k&1
	ah := make([]uint16, m*kp)
	ConvertBF16(m, k, randSlice(m*k), k, ah, kp)
	w := PackNTBF16(n, k, randSlice(n*k), k)
	bias := randSlice(n)
	c := make([]float32, (m-1)*ldc+n)
	kerneltest.BenchImpls(b, float64(2*m*n*k)*1e-9, "GFLOP/s", nil, func() { w.MulBF16(m, ah, kp, c, ldc, bias, false) })
}

func BenchmarkBF16Linear60to60_4096x60x60(b *testing.B)   { benchPackedBF16(b, 4096, 60, 60, 60, 60) }
func BenchmarkBF16Linear60to120_4096x120x60(b *testing.B) { benchPackedBF16(b, 4096, 120, 60, 60, 120) }
func BenchmarkBF16Linear120to60_4096x60x120(b *testing.B) { benchPackedBF16(b, 4096, 60, 120, 120, 60) }
func BenchmarkBF16LinearGrouped30_4096x30x30(b *testing.B) {
	benchPackedBF16(b, 4096, 30, 30, 60, 60)
}
func BenchmarkBF16ConvIm2col_4096x60x540(b *testing.B) { benchPackedBF16(b, 4096, 60, 540, 540, 60) }

func BenchmarkBF16PreconvLinear60to60_4096x60x60(b *testing.B) { benchPackedBF16A(b, 4096, 60, 60, 60) }
func BenchmarkBF16PreconvConvIm2col_4096x60x540(b *testing.B) {
	benchPackedBF16A(b, 4096, 60, 540, 60)
}

// q·k^T per window and head, both operands converted (A) and packed (B) on every call.
func BenchmarkBF16AttnQK_48x256x256x20(b *testing.B) {
	q := randSlice(windows * tokens * dim)
	kk := randSlice(windows * tokens * dim)
	s := make([]float32, tokens*tokens)
	benchHeads(b, func(o int) { NTBF16(tokens, tokens, hd, q[o:], dim, kk[o:], dim, s, tokens, false) })
}

// attn·v per window and head: P converted and V packed on every call; N = 20 fills 20 of 32
// columns of a panel.
func BenchmarkBF16AttnV_NN_48x256x20x256(b *testing.B) {
	p := randSlice(tokens * tokens)
	v := randSlice(windows * tokens * dim)
	out := make([]float32, windows*tokens*dim)
	benchHeads(b, func(o int) { NNBF16(tokens, hd, tokens, p, tokens, v[o:], dim, out[o:], dim, false) })
}

// Converting A, 4096×60 (part of every Mul on fp32 A).
func BenchmarkConvertBF16_4096x60(b *testing.B) {
	src := randSlice(4096 * 60)
	dst := make([]uint16, 4096*60)
	kerneltest.BenchImpls(b, 4096*60*1e-9, "Gelem/s", nil, func() { ConvertBF16(4096, 60, src, 60, dst, 60) })
}

// Converting one block of A as Mul does (264 rows of 60, in L2).
func BenchmarkConvertBF16_264x60(b *testing.B) {
	src := randSlice(264 * 60)
	dst := make([]uint16, 264*60)
	kerneltest.BenchImpls(b, 264*60*1e-9, "Gelem/s", nil, func() { ConvertBF16(264, 60, src, 60, dst, 60) })
}

// q·k^T as a caller does best: each window's q converted once for its three heads (part of the
// time), each head's k packed into one reused PackedBF16.
func BenchmarkBF16AttnQKPreconv_48x256x256x20(b *testing.B) {
	q := randSlice(windows * tokens * dim)
	kk := randSlice(windows * tokens * dim)
	qh := make([]uint16, tokens*dim)
	s := make([]float32, tokens*tokens)
	var p PackedBF16
	benchImpls(b, 2*windows*heads*tokens*tokens*hd, func() {
		for w := 0; w < windows; w++ {
			ConvertBF16(tokens, dim, q[w*tokens*dim:], dim, qh, dim)
			for h := 0; h < heads; h++ {
				p.PackNT(tokens, hd, kk[w*tokens*dim+h*hd:], dim)
				p.MulBF16(tokens, qh[h*hd:], dim, s, tokens, nil, false)
			}
		}
	})
}

// attn·v with P already in bf16 (a softmax that writes bf16), each head's v packed into one
// reused PackedBF16; N = 20 of a 32-column panel.
func BenchmarkBF16AttnVPreconv_48x256x20x256(b *testing.B) {
	ph := make([]uint16, tokens*tokens)
	ConvertBF16(tokens, tokens, randSlice(tokens*tokens), tokens, ph, tokens)
	v := randSlice(windows * tokens * dim)
	out := make([]float32, windows*tokens*dim)
	var p PackedBF16
	benchHeads(b, func(o int) {
		p.PackNN(tokens, hd, v[o:], dim)
		p.MulBF16(tokens, ph, tokens, out[o:], dim, nil, false)
	})
}

// Packing one head's v (256×20, stride 60) and k, as the attention products do per head.
func BenchmarkBF16PackNN_256x20(b *testing.B) {
	src := randSlice(tokens * dim)
	var p PackedBF16
	kerneltest.BenchImpls(b, tokens*hd*1e-9, "Gelem/s", nil, func() { p.PackNN(tokens, hd, src, dim) })
}

func BenchmarkBF16PackNT_256x20(b *testing.B) {
	src := randSlice(tokens * dim)
	var p PackedBF16
	kerneltest.BenchImpls(b, tokens*hd*1e-9, "Gelem/s", nil, func() { p.PackNT(tokens, hd, src, dim) })
}

// attn·v transposed, (P·V)^T = V^T·P^T, both packed per call: P^T (256×256) costs as much to
// pack as the product.
func BenchmarkBF16AttnV_TN_48x20x256x256(b *testing.B) {
	pt := randSlice(tokens * tokens)
	v := randSlice(windows * tokens * dim)
	outT := make([]float32, hd*tokens)
	benchHeads(b, func(o int) {
		GemmBF16(true, false, hd, tokens, tokens, v[o:], dim, pt, tokens, outT, tokens, nil, false)
	})
}

// Weight gradient of a Linear 60->60 over 4096 tokens, dW = dY^T·X (k = tokens), fp32 and bf16.
func BenchmarkWeightGrad_60x60x4096(b *testing.B) {
	dy, x, dw := randSlice(4096*60), randSlice(4096*60), make([]float32, 60*60)
	benchImpls(b, 2*60*60*4096, func() { Gemm(true, false, 60, 60, 4096, dy, 60, x, 60, dw, 60, nil, false) })
}

func BenchmarkBF16WeightGrad_60x60x4096(b *testing.B) {
	dy, x, dw := randSlice(4096*60), randSlice(4096*60), make([]float32, 60*60)
	benchImpls(b, 2*60*60*4096, func() { GemmBF16(true, false, 60, 60, 4096, dy, 60, x, 60, dw, 60, nil, false) })
}

// Input gradient of a Linear 60->120, dX = dY·W with W [120×60] packed once (PackNNBF16).
func BenchmarkBF16InputGrad_4096x60x120(b *testing.B) {
	dy, dx := randSlice(4096*120), make([]float32, 4096*60)
	w := PackNNBF16(120, 60, randSlice(120*60), 60)
	benchImpls(b, 2*4096*60*120, func() { w.Mul(4096, dy, 120, dx, 60, nil, false) })
}

// Packing P^T of one head (256×256) for the transposed attn·v.
func BenchmarkBF16PackNN_256x256(b *testing.B) {
	src := randSlice(tokens * tokens)
	var p PackedBF16
	kerneltest.BenchImpls(b, tokens*tokens*1e-9, "Gelem/s", nil, func() { p.PackNN(tokens, tokens, src, tokens) })
}

// q·k^T with k packed and q converted beforehand (the kernel alone; compare with
// BenchmarkAttnQKPacked_256x256x20).
func BenchmarkBF16AttnQKPacked_256x256x20(b *testing.B) {
	qh := make([]uint16, tokens*dim)
	ConvertBF16(tokens, dim, randSlice(tokens*dim), dim, qh, dim)
	p := PackNTBF16(tokens, hd, randSlice(tokens*dim), dim)
	s := make([]float32, tokens*tokens)
	benchImpls(b, 2*tokens*tokens*hd, func() { p.MulBF16(tokens, qh, dim, s, tokens, nil, false) })
}
