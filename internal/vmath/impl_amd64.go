//go:build amd64 && !purego

package vmath

import "github.com/grformer/grformer/internal/cpu"

// Kernels (kernels_amd64.s, written by asmgen.go). Pointers must cover what the arguments
// describe; strides are in bytes; n = 0 or m = 0 does nothing.

func expAVX512(dst, src *float32, n int)
func geluAVX512(dst, src *float32, n int)
func softmaxAVX512(x *float32, ld uintptr, m, n int)
func sbSoftmaxAVX512(x *float32, ld uintptr, m, n int, scale float32, bias *float32, ldb uintptr, rowLabels, colLabels *int32, flags int)

func expAVX2(dst, src *float32, n int)
func geluAVX2(dst, src *float32, n int)
func softmaxAVX2(x *float32, ld uintptr, m, n int)
func sbSoftmaxAVX2(x *float32, ld uintptr, m, n int, scale float32, bias *float32, ldb uintptr, rowLabels, colLabels *int32, flags int)

var asmKernels = [...]kernels{
	cpu.AVX2:   {expAVX2, geluAVX2, softmaxAVX2, sbSoftmaxAVX2},
	cpu.AVX512: {expAVX512, geluAVX512, softmaxAVX512, sbSoftmaxAVX512},
}

func kernelsFor(impl int32) *kernels { return &asmKernels[impl] }
