//go:build !amd64 || purego

package gemm

func run512(m, n, k int, a []float32, rsa, csa int, b bsrc, c []float32, ldc int, bias []float32, acc bool) {
	panic("gemm: no AVX-512 kernels in this build")
}

func run256(m, n, k int, a []float32, rsa, csa int, b bsrc, c []float32, ldc int, bias []float32, acc bool) {
	panic("gemm: no AVX2 kernels in this build")
}

func packNTFast(dst []float32, n, k int, b []float32, ldb int) int { return 0 }

// groupBudget only matters to the amd64 kernels.
var groupBudget = 0

func runBF16(m, n, kh int, a []uint16, rsa, csa int, b []uint32, c []float32, ldc int, bias []float32, acc bool) {
	panic("gemm: no BF16 kernels in this build")
}

func convertRowsFast(m, k int, src []float32, lds int, dst []uint16, ldd int) bool { return false }

func packPairsFast(dst []uint32, ss, ds, n, k int, b []float32, ldb int) bool { return false }
