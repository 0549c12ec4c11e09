// Package cpu detects the SIMD extensions the kernel packages use and holds
// the one implementation switch they all read: internal/gemm, internal/vmath
// and internal/dwconv dispatch on Level, so that one call forces the
// portable Go fallback (SetGeneric) or one instruction set (SetImpl) for
// every kernel at once. HasBF16 tells whether internal/gemm's bf16 products
// run on AVX512_BF16 at the selected level.
package cpu

import (
	"fmt"
	"sync/atomic"
)

// Implementation levels, best last.
const (
	Generic int32 = iota // portable Go
	AVX2                 // AVX2 + FMA, 256-bit
	AVX512               // AVX-512F, 512-bit
)

var names = [...]string{Generic: "generic", AVX2: "avx2", AVX512: "avx512"}

// HasAVX2 and HasAVX512 report what this CPU and its operating system
// support (always false in purego builds and on other architectures).
// HasAVX512BF16 reports AVX512_BF16 (VDPBF16PS, VCVTNEPS2BF16) together
// with AVX-512F and AVX512BW: the hardware of internal/gemm's BF16 kernels.
var HasAVX2, HasAVX512, HasAVX512BF16 = detect()

// HasBF16 reports whether bf16 products run on the BF16 instructions at the
// level in use: AVX512_BF16 is present and the AVX-512 level is selected.
// Elsewhere internal/gemm's bf16 functions still work, emulating bf16
// rounding and running the fp32 kernels of the level (slower, the same
// products up to the order of the fp32 additions).
func HasBF16() bool { return HasAVX512BF16 && Level() == AVX512 }

// Best is the best level this machine runs.
func Best() int32 {
	switch {
	case HasAVX512:
		return AVX512
	case HasAVX2:
		return AVX2
	}
	return Generic
}

// level is the implementation every kernel package runs, the best one
// unless forced.
var level atomic.Int32

func init() { level.Store(Best()) }

// Level returns the implementation level in use: the kernels' dispatch.
func Level() int32 { return level.Load() }

// Impl names the implementation in use: "avx512", "avx2" or "generic".
func Impl() string { return names[level.Load()] }

// Impls lists the implementations this machine can run, best first.
func Impls() []string {
	var l []string
	for i := Best(); i >= Generic; i-- {
		l = append(l, names[i])
	}
	return l
}

// SetGeneric forces the portable Go implementation of every kernel (on) or
// restores the best one (off), and reports whether the generic one was in
// use before. It is for tests and for measuring the fallback; it must not be
// called while kernels are running.
func SetGeneric(on bool) (prev bool) {
	v := Best()
	if on {
		v = Generic
	}
	return level.Swap(v) == Generic
}

// SetImpl selects the implementation of every kernel by name ("avx512",
// "avx2", "generic"; "" is the best one) and returns the previous name. It
// fails for an unknown name or one this machine cannot run. Like
// SetGeneric, it must not be called while kernels are running.
func SetImpl(name string) (prev string, err error) {
	v := Best()
	if name != "" {
		v = -1
		for i, n := range names {
			if n == name {
				v = int32(i)
			}
		}
		if v < 0 {
			return Impl(), fmt.Errorf("cpu: unknown implementation %q", name)
		}
		if v > Best() {
			return Impl(), fmt.Errorf("cpu: implementation %q not supported by this CPU", name)
		}
	}
	return names[level.Swap(v)], nil
}
