package gemm

import (
	"math/rand/v2"
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

// Benchmarks of the model's shapes, one goroutine, every implementation available here.
// Names give M×N×K of one product; "48x" means 16 windows × 3 heads per op.

// benchImpls reports GFLOP/s for flops per call of f, on every implementation.
func benchImpls(b *testing.B, flops float64, f func()) {
	kerneltest.BenchImpls(b, flops*1e-9, "GFLOP/s", nil, f)
}

func randSlice(n int) []float32 {
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	x := make([]float32, n)
	fill(rng, x)
	return x
}

func benchPacked(b *testing.B, m, n, k, lda, ldc int) {
	a := randSlice((m-1)*lda + k)
	w := PackNT(n, k, randSlice(n*k), k)
	bias := randSlice(n)
	c := make([]float32, (m-1)*ldc+n)
	benchImpls(b, float64(2*m*n*k), func() { w.Mul(m, a, lda, c, ldc, bias, false) })
}

func BenchmarkLinear60to60_4096x60x60(b *testing.B)   { benchPacked(b, 4096, 60, 60, 60, 60) }
func BenchmarkLinear60to120_4096x120x60(b *testing.B) { benchPacked(b, 4096, 120, 60, 60, 120) }
func BenchmarkLinear120to60_4096x60x120(b *testing.B) { benchPacked(b, 4096, 60, 120, 120, 60) }

// One half of a grouped Linear 60->60 (groups of 30), with the strides of the full width.
func BenchmarkLinearGrouped30_4096x30x30(b *testing.B) { benchPacked(b, 4096, 30, 30, 60, 60) }

// 3x3 convolution 60->60 as im2col × weights.
func BenchmarkConvIm2col_4096x60x540(b *testing.B) { benchPacked(b, 4096, 60, 540, 540, 60) }

const (
	windows = 16
	heads   = 3
	tokens  = 256
	hd      = 20
	dim     = heads * hd
)

// benchHeads times f(o) for every window and head, o the offset of the head's first column in
// a [windows*tokens, dim] matrix.
func benchHeads(b *testing.B, f func(o int)) {
	benchImpls(b, 2*windows*heads*tokens*tokens*hd, func() {
		for w := 0; w < windows; w++ {
			for h := 0; h < heads; h++ {
				f(w*tokens*dim + h*hd)
			}
		}
	})
}

// q·k^T per window and head: heads are column blocks of [256×60] matrices; B (k) is packed on
// every call.
func BenchmarkAttnQK_48x256x256x20(b *testing.B) {
	q := randSlice(windows * tokens * dim)
	kk := randSlice(windows * tokens * dim)
	s := make([]float32, tokens*tokens)
	benchHeads(b, func(o int) { NT(tokens, tokens, hd, q[o:], dim, kk[o:], dim, s, tokens, false) })
}

// attn·v as NN: N = 20 (the head dim), B = v read in place.
func BenchmarkAttnV_NN_48x256x20x256(b *testing.B) {
	p := randSlice(tokens * tokens)
	v := randSlice(windows * tokens * dim)
	out := make([]float32, windows*tokens*dim)
	benchHeads(b, func(o int) { NN(tokens, hd, tokens, p, tokens, v[o:], dim, out[o:], dim, false) })
}

// attn·v transposed: (P·V)^T = V^T·P^T as TN with P^T stored [256×256]; M = 20, N = 256.
func BenchmarkAttnV_TN_48x20x256x256(b *testing.B) {
	pt := randSlice(tokens * tokens)
	v := randSlice(windows * tokens * dim)
	outT := make([]float32, hd*tokens)
	benchHeads(b, func(o int) { TN(hd, tokens, tokens, v[o:], dim, pt, tokens, outT, tokens, false) })
}

// q·k^T with B already packed (the kernel alone, without the per-call packing of NT).
func BenchmarkAttnQKPacked_256x256x20(b *testing.B) {
	q := randSlice(tokens * dim)
	p := PackNT(tokens, hd, randSlice(tokens*dim), dim)
	s := make([]float32, tokens*tokens)
	benchImpls(b, 2*tokens*tokens*hd, func() { p.Mul(tokens, q, dim, s, tokens, nil, false) })
}

// Packing one head's k (256×20, row stride 60) as NT does on every call.
func BenchmarkPackNT_256x20(b *testing.B) {
	src := randSlice(tokens * dim)
	dst := make([]float32, packedLen(tokens, hd))
	benchImpls(b, 0, func() { packNT(dst, tokens, hd, src, dim) })
}

// A large square product, to show the panel grouping that keeps B in L2.
func BenchmarkSquareNN_1024(b *testing.B) {
	const s = 1024
	x, y, z := randSlice(s*s), randSlice(s*s), make([]float32, s*s)
	benchImpls(b, 2.0*s*s*s, func() { NN(s, s, s, x, s, y, s, z, s, false) })
}
