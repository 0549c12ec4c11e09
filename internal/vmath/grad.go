package vmath

import (
	"fmt"

	"github.com/grformer/grformer/internal/cpu"
)

// Row kernels of the model's normalisations and of the training backward pass (see doc.go):
// LayerNorm forward, residual add and backward, GELU', column sums, L2 normalisation of head
// slices, softmax backward and row dot products. Each dispatches like Exp: assembly
// (asmgen_grad.go) or the portable version (grad_generic.go); the references are in
// grad_ref.go.

// Kernel flags.
const (
	lnStats = 1 // ln: store mean and rstd
	lnAdd   = 2 // ln: t += mul*y instead of dst = y
	lnAcc   = 1 // lnBwd: dx += instead of dx =
	smAcc   = 1 // smBwd: acc += ds too
)

func checkLen(name, what string, x []float32, need int) {
	if len(x) < need {
		panic(fmt.Sprintf("vmath: %s: len(%s) = %d < %d", name, what, len(x), need))
	}
}

func checkSize(name string, m, c int) {
	if m < 0 || c < 0 {
		panic(fmt.Sprintf("vmath: %s: negative size %dx%d", name, m, c))
	}
}

// rowsPerCall bounds the rows of n values one assembly call processes (see chunk).
func rowsPerCall(n int) int { return max(1, chunk/max(n, 1)) }

// LayerNormRows normalises each of the m rows of src (c values each, contiguous) over its c
// values, as torch.nn.LayerNorm(c, eps): dst = (x - mean)*rstd*gamma + beta with the biased
// variance and rstd = 1/sqrt(var + eps). mean and rstd are both nil or both hold m values: they
// receive the statistics of each row. dst may be src. The assembly kernels sum in float32
// lanes, in two passes (the second one corrects the mean), and agree with the float64
// reference to about 2e-7 of |xhat*gamma| + |beta| (doc.go).
func LayerNormRows(dst, src []float32, m, c int, gamma, beta []float32, eps float32, mean, rstd []float32) {
	const name = "LayerNormRows"
	checkSize(name, m, c)
	checkLen(name, "dst", dst, m*c)
	checkLen(name, "src", src, m*c)
	checkLen(name, "gamma", gamma, c)
	checkLen(name, "beta", beta, c)
	if (mean == nil) != (rstd == nil) {
		panic("vmath: LayerNormRows: mean and rstd must be both nil or both set")
	}
	flags := 0
	if mean != nil {
		checkLen(name, "mean", mean, m)
		checkLen(name, "rstd", rstd, m)
		flags |= lnStats
	}
	if m == 0 || c == 0 {
		return
	}
	layerNorm(dst, src, m, c, gamma, beta, eps, 0, mean, rstd, flags)
}

// LayerNormAddRows adds mul*LayerNorm(src) to t (m rows of c values each, contiguous): the
// post-norm residual t = s + norm(a). With y the value LayerNormRows would store, t = mul*y + t
// in one fused multiply-add (float64 in the generic version); src is not modified and must not
// overlap t. mean and rstd are both nil or both hold m values: they receive the statistics of
// each row, as LayerNormRows stores them.
func LayerNormAddRows(t, src []float32, m, c int, gamma, beta []float32, eps float32, mul float32, mean, rstd []float32) {
	const name = "LayerNormAddRows"
	checkSize(name, m, c)
	checkLen(name, "t", t, m*c)
	checkLen(name, "src", src, m*c)
	checkLen(name, "gamma", gamma, c)
	checkLen(name, "beta", beta, c)
	if (mean == nil) != (rstd == nil) {
		panic("vmath: LayerNormAddRows: mean and rstd must be both nil or both set")
	}
	flags := lnAdd
	if mean != nil {
		checkLen(name, "mean", mean, m)
		checkLen(name, "rstd", rstd, m)
		flags |= lnStats
	}
	if m == 0 || c == 0 {
		return
	}
	layerNorm(t, src, m, c, gamma, beta, eps, mul, mean, rstd, flags)
}

func layerNorm(dst, src []float32, m, c int, gamma, beta []float32, eps, mul float32, mean, rstd []float32, flags int) {
	v := cpu.Level()
	if v == cpu.Generic {
		lnGeneric(dst, src, m, c, gamma, beta, eps, mul, mean, rstd, flags)
		return
	}
	rows := rowsPerCall(c)
	for i := 0; i < m; i += rows {
		r := min(rows, m-i)
		var mp, rp *float32
		if mean != nil {
			mp, rp = &mean[i], &rstd[i]
		}
		if v == cpu.AVX512 {
			lnAVX512(&dst[i*c], &src[i*c], r, c, &gamma[0], &beta[0], eps, mul, mp, rp, flags)
		} else {
			lnAVX2(&dst[i*c], &src[i*c], r, c, &gamma[0], &beta[0], eps, mul, mp, rp, flags)
		}
	}
}

// LayerNormBackwardRows is the input gradient of LayerNormRows on m rows of c values (all
// contiguous), given the saved statistics mean and rstd (m values each):
//
//	dx (+)= rstd*(g - mean_j(g) - xhat*mean_j(g*xhat)),  g = dy*gamma, xhat = (x - mean)*rstd
//
// added to dx when accumulate, stored otherwise. dx may be dy (not x). The row sums run in
// float32 lanes (float64 in the generic version).
func LayerNormBackwardRows(dx, dy, x []float32, m, c int, gamma, mean, rstd []float32, accumulate bool) {
	const name = "LayerNormBackwardRows"
	checkSize(name, m, c)
	checkLen(name, "dx", dx, m*c)
	checkLen(name, "dy", dy, m*c)
	checkLen(name, "x", x, m*c)
	checkLen(name, "gamma", gamma, c)
	checkLen(name, "mean", mean, m)
	checkLen(name, "rstd", rstd, m)
	if m == 0 || c == 0 {
		return
	}
	flags := 0
	if accumulate {
		flags |= lnAcc
	}
	v := cpu.Level()
	if v == cpu.Generic {
		lnBwdGeneric(dx, dy, x, m, c, gamma, mean, rstd, accumulate)
		return
	}
	rows := rowsPerCall(c)
	for i := 0; i < m; i += rows {
		r := min(rows, m-i)
		o := i * c
		if v == cpu.AVX512 {
			lnBwdAVX512(&dx[o], &dy[o], &x[o], r, c, &gamma[0], &mean[i], &rstd[i], flags)
		} else {
			lnBwdAVX2(&dx[o], &dy[o], &x[o], r, c, &gamma[0], &mean[i], &rstd[i], flags)
		}
	}
}

// LayerNormParamGrad adds the gradients of gamma and beta over m rows of c values (contiguous):
// dgamma[j] += sum_i dy[i][j]*xhat[i][j], dbeta[j] += sum_i dy[i][j], xhat = (x - mean)*rstd.
// It is LayerNormParamGradCols with ld = n = c.
func LayerNormParamGrad(dgamma, dbeta []float32, dy, x []float32, m, c int, mean, rstd []float32) {
	LayerNormParamGradCols(dgamma, dbeta, dy, x, c, m, c, mean, rstd)
}

// LayerNormParamGradCols is LayerNormParamGrad on n columns of rows with stride ld: dy[i*ld+j]
// and x[i*ld+j] for j < n, with dgamma and dbeta (which may be nil) holding those n columns. To
// split the work between goroutines, give each a range [j0, j1) of the c columns:
// LayerNormParamGradCols(dgamma[j0:j1], dbeta[j0:j1], dy[j0:], x[j0:], c, m, j1-j0, mean, rstd).
//
// Every column is summed on its own, row after row, in float64 (xhat in float64 too, each
// product added with one fused multiply-add), and rounded once when added: the result has the
// same bits in every implementation and for every split of the columns.
func LayerNormParamGradCols(dgamma, dbeta []float32, dy, x []float32, ld, m, n int, mean, rstd []float32) {
	const name = "LayerNormParamGradCols"
	checkRows(name, dy, ld, m, n)
	checkRows(name, x, ld, m, n)
	checkLen(name, "dgamma", dgamma, n)
	checkLen(name, "mean", mean, m)
	checkLen(name, "rstd", rstd, m)
	if dbeta != nil {
		checkLen(name, "dbeta", dbeta, n)
	}
	if m == 0 || n == 0 {
		return
	}
	np := (n + 7) &^ 7
	var buf [256]float64
	var accg, accb []float64
	if 2*np <= len(buf) {
		accg, accb = buf[:np], buf[np:2*np]
	} else {
		accg, accb = make([]float64, np), make([]float64, np)
	}
	v := cpu.Level()
	if v == cpu.Generic {
		lnPGGeneric(accg, accb, dy, x, ld, m, n, mean, rstd)
	} else {
		bw := lnPG256Cols
		if v == cpu.AVX512 {
			bw = lnPG512Cols
		}
		rows := rowsPerCall(n)
		for i0 := 0; i0 < m; i0 += rows {
			r := min(rows, m-i0)
			for j0 := 0; j0 < n; j0 += bw {
				cols, o := min(bw, n-j0), i0*ld+j0
				if v == cpu.AVX512 {
					lnPGAVX512(&accg[j0], &accb[j0], &dy[o], &x[o], uintptr(4*ld), r, &mean[i0], &rstd[i0], cols)
				} else {
					lnPGAVX2(&accg[j0], &accb[j0], &dy[o], &x[o], uintptr(4*ld), r, &mean[i0], &rstd[i0], cols)
				}
			}
		}
	}
	for j := range n {
		dgamma[j] += float32(accg[j])
	}
	if dbeta != nil {
		for j := range n {
			dbeta[j] += float32(accb[j])
		}
	}
}

// GELUBackward multiplies dx by the derivative of the exact GELU at x: dx[i] *= GELU'(x[i]),
// GELU'(x) = Phi(x) + x*phi(x). dx and x have the same length. GELU' comes within 2e-7 of the
// exact value (absolute; relative above 1), as GELU does; GELU'(+Inf) = 1, GELU'(-Inf) = 0,
// NaN gives NaN.
func GELUBackward(dx, x []float32) {
	if len(dx) != len(x) {
		panic(fmt.Sprintf("vmath: GELUBackward: len(dx) = %d, len(x) = %d", len(dx), len(x)))
	}
	v := cpu.Level()
	if v == cpu.Generic {
		geluBwdGeneric(dx, x)
		return
	}
	for i := 0; i < len(x); i += chunk {
		n := min(chunk, len(x)-i)
		if v == cpu.AVX512 {
			geluBwdAVX512(&dx[i], &x[i], n)
		} else {
			geluBwdAVX2(&dx[i], &x[i], n)
		}
	}
}

// ColSums adds the column sums of the m×n matrix src (row stride ld) to dst:
// dst[j] += sum_{i<m} src[i*ld+j] (bias gradients). Every column is summed on its own, row
// after row, in float64, and rounded once when added: every implementation gives the bits of
// ColSumsRef, whatever m and n.
func ColSums(dst, src []float32, ld, m, n int) {
	checkRows("ColSums", src, ld, m, n)
	checkLen("ColSums", "dst", dst, n)
	if m == 0 || n == 0 {
		return
	}
	np := (n + 7) &^ 7
	var buf [256]float64
	acc := buf[:]
	if np <= len(buf) {
		acc = buf[:np]
	} else {
		acc = make([]float64, np)
	}
	v := cpu.Level()
	if v == cpu.Generic {
		colSumsGeneric(acc, src, ld, m, n)
	} else {
		bw := colSums256Cols
		if v == cpu.AVX512 {
			bw = colSums512Cols
		}
		rows := rowsPerCall(n)
		for i0 := 0; i0 < m; i0 += rows {
			r := min(rows, m-i0)
			for j0 := 0; j0 < n; j0 += bw {
				cols, o := min(bw, n-j0), i0*ld+j0
				if v == cpu.AVX512 {
					colSumsAVX512(&acc[j0], &src[o], uintptr(4*ld), r, cols)
				} else {
					colSumsAVX2(&acc[j0], &src[o], uintptr(4*ld), r, cols)
				}
			}
		}
	}
	for j := range n {
		dst[j] += float32(acc[j])
	}
}

// L2NormalizeHeads divides, in each of the m rows of x (row stride ld), each of the C/d slices
// of d values of the first C columns by its L2 norm, max(||slice||, 1e-12), as
// torch.nn.functional.normalize per attention head. norms is nil or holds m*(C/d) values: it
// receives the norms (before the max), row by row. The assembly kernels sum the squares in
// float32 lanes and multiply by 1/max(norm, 1e-12).
func L2NormalizeHeads(x []float32, ld, m, C, d int, norms []float32) {
	if d <= 0 || C < 0 || C%d != 0 {
		panic(fmt.Sprintf("vmath: L2NormalizeHeads: C = %d is not a multiple of d = %d", C, d))
	}
	checkRows("L2NormalizeHeads", x, ld, m, C)
	nh := C / d
	if norms != nil {
		checkLen("L2NormalizeHeads", "norms", norms, m*nh)
	}
	if m == 0 || C == 0 {
		return
	}
	v := cpu.Level()
	if v == cpu.Generic {
		l2HeadsGeneric(x, ld, m, C, d, norms)
		return
	}
	rows := rowsPerCall(C)
	for i := 0; i < m; i += rows {
		r := min(rows, m-i)
		var np *float32
		if norms != nil {
			np = &norms[i*nh]
		}
		if v == cpu.AVX512 {
			l2HeadsAVX512(&x[i*ld], uintptr(4*ld), r, nh, d, np)
		} else {
			l2HeadsAVX2(&x[i*ld], uintptr(4*ld), r, nh, d, np)
		}
	}
}

// SoftmaxBackwardRows is the backward pass of a row softmax on m rows of n values (row stride
// ld, shared by ds, p and dp): ds[i][j] = p[i][j]*(dp[i][j] - D[i]), with p the probabilities,
// dp their gradient and D[i] = sum_j p[i][j]*dp[i][j] (for attention, dO_i . O_i: RowDots).
// It computes in float32, (dp - D) then the product, like the plain loop. ds may be dp.
func SoftmaxBackwardRows(ds, p, dp []float32, ld, m, n int, D []float32) {
	SoftmaxBackwardAccRows(ds, p, dp, ld, m, n, D, nil, 0)
}

// SoftmaxBackwardAccRows is SoftmaxBackwardRows that also adds ds to acc (m rows of n values,
// row stride ldacc; ldacc may be 0 for one row that all rows add to, as a position bias shared
// by the rows of a window): acc[i*ldacc+j] += ds[i][j], in float32. acc may be nil (nothing
// added).
func SoftmaxBackwardAccRows(ds, p, dp []float32, ld, m, n int, D []float32, acc []float32, ldacc int) {
	const name = "SoftmaxBackwardRows"
	checkRows(name, ds, ld, m, n)
	checkRows(name, p, ld, m, n)
	checkRows(name, dp, ld, m, n)
	checkLen(name, "D", D, m)
	flags := 0
	if acc != nil {
		if ldacc < 0 || ldacc > 0 && ldacc < n {
			panic(fmt.Sprintf("vmath: %s: accumulator stride %d for n = %d", name, ldacc, n))
		}
		if m > 0 && n > 0 {
			checkLen(name, "acc", acc, (m-1)*ldacc+n)
		}
		flags |= smAcc
	}
	if m == 0 || n == 0 {
		return
	}
	v := cpu.Level()
	if v == cpu.Generic {
		smBwdGeneric(ds, p, dp, ld, m, n, D, acc, ldacc)
		return
	}
	rows := rowsPerCall(n)
	for i := 0; i < m; i += rows {
		r := min(rows, m-i)
		o := i * ld
		var ap *float32
		if acc != nil {
			ap = &acc[i*ldacc]
		}
		if v == cpu.AVX512 {
			smBwdAVX512(&ds[o], &p[o], &dp[o], uintptr(4*ld), r, n, &D[i], ap, uintptr(4*ldacc), flags)
		} else {
			smBwdAVX2(&ds[o], &p[o], &dp[o], uintptr(4*ld), r, n, &D[i], ap, uintptr(4*ldacc), flags)
		}
	}
}

// RowDots sets D[i] = sum_{c<d} a[i*lda+c]*b[i*ldb+c] for i < m: the dot products of the rows
// of two matrices (D_i = dO_i . O_i of the attention backward pass, per head). The assembly
// kernels sum with fused multiply-adds in float32 lanes (float64 in the generic version).
func RowDots(D []float32, a, b []float32, lda, ldb, m, d int) {
	checkRows("RowDots", a, lda, m, d)
	checkRows("RowDots", b, ldb, m, d)
	checkLen("RowDots", "D", D, m)
	if m == 0 {
		return
	}
	if d == 0 {
		clear(D[:m])
		return
	}
	v := cpu.Level()
	if v == cpu.Generic {
		rowDotsGeneric(D, a, b, lda, ldb, m, d)
		return
	}
	rows := rowsPerCall(d)
	for i := 0; i < m; i += rows {
		r := min(rows, m-i)
		if v == cpu.AVX512 {
			rowDotsAVX512(&D[i], &a[i*lda], &b[i*ldb], uintptr(4*lda), uintptr(4*ldb), r, d)
		} else {
			rowDotsAVX2(&D[i], &a[i*lda], &b[i*ldb], uintptr(4*lda), uintptr(4*ldb), r, d)
		}
	}
}
