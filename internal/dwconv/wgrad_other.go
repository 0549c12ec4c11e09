//go:build !amd64 || purego

package dwconv

func wgRun512(dw, db []float32, g, src []float32, h, w, c int, y0, y1 int) {
	panic("dwconv: no AVX-512 kernels in this build")
}

func wgRun256(dw, db []float32, g, src []float32, h, w, c int, y0, y1 int) {
	panic("dwconv: no AVX2 kernels in this build")
}
