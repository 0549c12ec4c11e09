package vmath

//go:generate go run asmgen.go asmgen_grad.go

import (
	"fmt"

	"github.com/grformer/grformer/internal/cpu"
)

// kernels is one assembly implementation (impl_amd64.go).
type kernels struct {
	exp     func(dst, src *float32, n int)
	gelu    func(dst, src *float32, n int)
	softmax func(x *float32, ld uintptr, m, n int)
	sb      func(x *float32, ld uintptr, m, n int, scale float32, bias *float32, ldb uintptr, rowLabels, colLabels *int32, flags int)
}

// Flags of the sb kernels.
const (
	sbBias   = 1
	sbLabels = 2
)

// chunk bounds the values one assembly call processes (a few microseconds of work): assembly
// functions cannot be preempted, so long slices are cut into several calls.
const chunk = 1 << 15

// Exp sets dst[i] = exp(src[i]). dst and src must have the same length; dst may be src.
// Relative error below 1e-7 (about 1 ulp) where the result is a normal float32; results below
// 2^-126 underflow gradually (avx512, generic) or with one extra rounding (avx2), to exactly 0
// for src < -103.98; src > 88.73 gives +Inf; NaN gives NaN.
func Exp(dst, src []float32) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("vmath: Exp: len(dst) = %d, len(src) = %d", len(dst), len(src)))
	}
	v := cpu.Level()
	if v == cpu.Generic {
		expGeneric(dst, src)
		return
	}
	k := kernelsFor(v)
	for i := 0; i < len(src); i += chunk {
		n := min(chunk, len(src)-i)
		k.exp(&dst[i], &src[i], n)
	}
}

// GELU applies the exact GELU of torch.nn.GELU(), x*Phi(x) = 0.5*x*(1 + erf(x/sqrt 2)), to x
// in place. Absolute error below 2e-7 where |GELU(x)| <= 1 and relative error below 2e-7
// above; GELU(x) = x for x >= 5.6 (float32 rounding), tiny or -0 for x <= -5.6,
// GELU(-Inf) = -0, GELU(+Inf) = +Inf, NaN gives NaN.
func GELU(x []float32) { GELUInto(x, x) }

// GELUInto sets dst[i] = GELU(src[i]). dst and src must have the same length; dst may be src.
func GELUInto(dst, src []float32) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("vmath: GELUInto: len(dst) = %d, len(src) = %d", len(dst), len(src)))
	}
	v := cpu.Level()
	if v == cpu.Generic {
		geluGeneric(dst, src)
		return
	}
	k := kernelsFor(v)
	for i := 0; i < len(src); i += chunk {
		n := min(chunk, len(src)-i)
		k.gelu(&dst[i], &src[i], n)
	}
}

func checkRows(name string, x []float32, ld, m, n int) {
	if m < 0 || n < 0 {
		panic(fmt.Sprintf("vmath: %s: negative size %dx%d", name, m, n))
	}
	if m > 1 && ld < n {
		panic(fmt.Sprintf("vmath: %s: row stride %d < n = %d", name, ld, n))
	}
	if m > 0 && n > 0 && len(x) < (m-1)*ld+n {
		panic(fmt.Sprintf("vmath: %s: len = %d < %d for %dx%d with stride %d", name, len(x), (m-1)*ld+n, m, n, ld))
	}
}

// SoftmaxRows replaces each of the m rows of x (n values each, row i at x[i*ld:]) with its
// softmax, exp(x - max(x)) / sum(exp(x - max(x))). The exponentials are summed in float32
// lanes (avx512, avx2) or in float64 (generic); the error against the exact softmax is below
// 1e-6 absolute for n <= 1024. Entries of -1e9 (masked logits) give exactly 0 when some entry of
// the row is > -1e9+1e3. A row holding NaN or +Inf becomes all NaN, as does a row of -Inf.
func SoftmaxRows(x []float32, ld, m, n int) {
	checkRows("SoftmaxRows", x, ld, m, n)
	if m == 0 || n == 0 {
		return
	}
	v := cpu.Level()
	if v == cpu.Generic {
		softmaxGeneric(x, ld, m, n)
		return
	}
	k := kernelsFor(v)
	rows := max(1, chunk/n)
	for i := 0; i < m; i += rows {
		r := min(rows, m-i)
		k.softmax(&x[i*ld], uintptr(ld*4), r, n)
	}
}

// ScaleBiasSoftmaxRows is the fused attention step on the m×n logits x (row stride ld):
//
//	x[i][j] = x[i][j]*scale + bias[i*ldb+j] - (1e9 if rowLabels[i] != colLabels[j])
//
// then the softmax of every row, as SoftmaxRows. bias may be nil (no bias); ldb may be 0 (one
// bias row for all rows). rowLabels and colLabels are both nil (no mask) or both set, with at
// least m and n entries: for a whole window of n tokens with region labels l, pass l for both;
// for rows i0..i1 of that window, pass l[i0:i1] and l. Masked entries come out exactly 0, as
// adding -1e9 in float32 does; x*scale + bias is one fused multiply-add in the assembly
// kernels (two roundings in the generic one).
func ScaleBiasSoftmaxRows(x []float32, ld int, m, n int, scale float32, bias []float32, ldb int, rowLabels, colLabels []int32) {
	checkRows("ScaleBiasSoftmaxRows", x, ld, m, n)
	if (rowLabels == nil) != (colLabels == nil) {
		panic("vmath: ScaleBiasSoftmaxRows: rowLabels and colLabels must be both nil or both set")
	}
	if m == 0 || n == 0 {
		return
	}
	flags := 0
	if bias != nil {
		if ldb < 0 || len(bias) < (m-1)*ldb+n {
			panic(fmt.Sprintf("vmath: ScaleBiasSoftmaxRows: len(bias) = %d too short for %dx%d with stride %d", len(bias), m, n, ldb))
		}
		flags |= sbBias
	}
	if rowLabels != nil {
		if len(rowLabels) < m || len(colLabels) < n {
			panic(fmt.Sprintf("vmath: ScaleBiasSoftmaxRows: %d row labels and %d column labels for %dx%d", len(rowLabels), len(colLabels), m, n))
		}
		flags |= sbLabels
	}
	v := cpu.Level()
	if v == cpu.Generic {
		sbSoftmaxGeneric(x, ld, m, n, scale, bias, ldb, rowLabels, colLabels)
		return
	}
	k := kernelsFor(v)
	rows := max(1, chunk/n)
	for i := 0; i < m; i += rows {
		r := min(rows, m-i)
		var bp *float32
		if bias != nil {
			bp = &bias[i*ldb]
		}
		var rl, cl *int32
		if rowLabels != nil {
			rl, cl = &rowLabels[i], &colLabels[0]
		}
		k.sb(&x[i*ld], uintptr(ld*4), r, n, scale, bp, uintptr(ldb*4), rl, cl, flags)
	}
}
