//go:build !amd64 || purego

package vmath

// Stubs of the assembly kernels of grad.go: never called here (cpu.Level() is always cpu.Generic).

const noAsm = "vmath: no assembly kernels in this build"

const (
	colSums512Cols = 128
	colSums256Cols = 48
	lnPG512Cols    = 64
	lnPG256Cols    = 20
)

func lnAVX512(dst, src *float32, m, c int, gamma, beta *float32, eps, mul float32, mean, rstd *float32, flags int) {
	panic(noAsm)
}
func lnAVX2(dst, src *float32, m, c int, gamma, beta *float32, eps, mul float32, mean, rstd *float32, flags int) {
	panic(noAsm)
}
func lnBwdAVX512(dx, dy, x *float32, m, c int, gamma, mean, rstd *float32, flags int) { panic(noAsm) }
func lnBwdAVX2(dx, dy, x *float32, m, c int, gamma, mean, rstd *float32, flags int)   { panic(noAsm) }
func l2HeadsAVX512(x *float32, ld uintptr, m, nh, d int, norms *float32)              { panic(noAsm) }
func l2HeadsAVX2(x *float32, ld uintptr, m, nh, d int, norms *float32)                { panic(noAsm) }
func smBwdAVX512(ds, p, dp *float32, ld uintptr, m, n int, D, acc *float32, ldacc uintptr, flags int) {
	panic(noAsm)
}
func smBwdAVX2(ds, p, dp *float32, ld uintptr, m, n int, D, acc *float32, ldacc uintptr, flags int) {
	panic(noAsm)
}
func rowDotsAVX512(D, a, b *float32, lda, ldb uintptr, m, d int)        { panic(noAsm) }
func rowDotsAVX2(D, a, b *float32, lda, ldb uintptr, m, d int)          { panic(noAsm) }
func geluBwdAVX512(dx, x *float32, n int)                               { panic(noAsm) }
func geluBwdAVX2(dx, x *float32, n int)                                 { panic(noAsm) }
func colSumsAVX512(acc *float64, src *float32, ld uintptr, m, cols int) { panic(noAsm) }
func colSumsAVX2(acc *float64, src *float32, ld uintptr, m, cols int)   { panic(noAsm) }
func lnPGAVX512(accg, accb *float64, dy, x *float32, ld uintptr, m int, mean, rstd *float32, cols int) {
	panic(noAsm)
}
func lnPGAVX2(accg, accb *float64, dy, x *float32, ld uintptr, m int, mean, rstd *float32, cols int) {
	panic(noAsm)
}
