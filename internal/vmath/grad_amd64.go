//go:build amd64 && !purego

package vmath

// Kernels of grad.go (kernels_amd64.s, written by asmgen_grad.go). Pointers must cover what the
// arguments describe; strides are in bytes; m = 0 does nothing. None of them keeps a pointer.

//go:noescape
func lnAVX512(dst, src *float32, m, c int, gamma, beta *float32, eps, mul float32, mean, rstd *float32, flags int)

//go:noescape
func lnBwdAVX512(dx, dy, x *float32, m, c int, gamma, mean, rstd *float32, flags int)

//go:noescape
func l2HeadsAVX512(x *float32, ld uintptr, m, nh, d int, norms *float32)

//go:noescape
func smBwdAVX512(ds, p, dp *float32, ld uintptr, m, n int, D, acc *float32, ldacc uintptr, flags int)

//go:noescape
func rowDotsAVX512(D, a, b *float32, lda, ldb uintptr, m, d int)

//go:noescape
func geluBwdAVX512(dx, x *float32, n int)

//go:noescape
func lnAVX2(dst, src *float32, m, c int, gamma, beta *float32, eps, mul float32, mean, rstd *float32, flags int)

//go:noescape
func lnBwdAVX2(dx, dy, x *float32, m, c int, gamma, mean, rstd *float32, flags int)

//go:noescape
func l2HeadsAVX2(x *float32, ld uintptr, m, nh, d int, norms *float32)

//go:noescape
func smBwdAVX2(ds, p, dp *float32, ld uintptr, m, n int, D, acc *float32, ldacc uintptr, flags int)

//go:noescape
func rowDotsAVX2(D, a, b *float32, lda, ldb uintptr, m, d int)

//go:noescape
func geluBwdAVX2(dx, x *float32, n int)

// One block of cols columns, float64 accumulators (acc, accg, accb: cols values rounded up to
// a multiple of 8 (AVX-512) or 4 (AVX2), read and written whole); cols <= the *Cols below.
// colSums: acc[j] += src[i*ld/4+j] for m rows. lnPG: accg[j] = fma(dy, (x - mean)*rstd,
// accg[j]), accb[j] += dy, in float64, row by row.

//go:noescape
func colSumsAVX512(acc *float64, src *float32, ld uintptr, m, cols int)

//go:noescape
func colSumsAVX2(acc *float64, src *float32, ld uintptr, m, cols int)

//go:noescape
func lnPGAVX512(accg, accb *float64, dy, x *float32, ld uintptr, m int, mean, rstd *float32, cols int)

//go:noescape
func lnPGAVX2(accg, accb *float64, dy, x *float32, ld uintptr, m int, mean, rstd *float32, cols int)

// Largest blocks (asmgen_grad.go): 16 (12) vectors of 8 (4) accumulators for the column sums,
// 8 (5) for the parameter gradients (two accumulators per column).
const (
	colSums512Cols = 128
	colSums256Cols = 48
	lnPG512Cols    = 64
	lnPG256Cols    = 20
)
