//go:build !amd64 || purego

package dwconv

func run512(dst, src []float32, h, w, c int, wp, bias []float32, y0, y1 int, acc bool) {
	panic("dwconv: no AVX-512 kernels in this build")
}

func run256(dst, src []float32, h, w, c int, wp, bias []float32, y0, y1 int, acc bool) {
	panic("dwconv: no AVX2 kernels in this build")
}
