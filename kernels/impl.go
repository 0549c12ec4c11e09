package kernels

import "github.com/grformer/grformer/internal/cpu"

// SetGeneric forces (on) or releases (off) the portable Go fallbacks of every
// fast kernel, whatever the CPU supports, and returns the previous setting
// (internal/cpu holds the one switch). It is for tests and for measuring the
// fallback; it must not be called while kernels are running.
func SetGeneric(on bool) (prev bool) { return cpu.SetGeneric(on) }

// Impl names the implementation in use ("avx512", "avx2" or "generic").
func Impl() string { return cpu.Impl() }
