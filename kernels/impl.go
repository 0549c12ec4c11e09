package kernels

import (
	"github.com/grformer/grformer/internal/dwconv"
	"github.com/grformer/grformer/internal/gemm"
	"github.com/grformer/grformer/internal/vmath"
)

// SetGeneric forces (on) or releases (off) the portable Go fallbacks of every
// fast kernel, whatever the CPU supports, and returns the previous setting.
// It is for tests and for measuring the fallback; it must not be called
// while kernels are running.
func SetGeneric(on bool) (prev bool) {
	vmath.SetGeneric(on)
	dwconv.SetGeneric(on)
	return gemm.SetGeneric(on)
}

// Impl names the implementations in use ("avx512", "avx2" or "generic").
func Impl() string {
	return "gemm " + gemm.Impl() + ", vmath " + vmath.Impl() + ", dwconv " + dwconv.Impl()
}
