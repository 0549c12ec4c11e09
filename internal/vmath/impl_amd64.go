//go:build amd64 && !purego

package vmath

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// detect reports which kernels this CPU and its operating system support. AVX2 needs AVX, FMA
// and AVX2 with the YMM state enabled by the OS (XCR0 bits 1-2); AVX-512 additionally needs
// AVX512F and the opmask/ZMM state (XCR0 bits 5-7). The AVX-512 kernels use AVX512F
// instructions only.
func detect() (avx2, avx512 bool) {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false, false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false, false
	}
	xcr0, _ := xgetbv()
	if xcr0&0x6 != 0x6 {
		return false, false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	avx2 = ebx7&(1<<5) != 0
	avx512 = avx2 && ebx7&(1<<16) != 0 && xcr0&0xe0 == 0xe0
	return avx2, avx512
}

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
	implAVX2:   {expAVX2, geluAVX2, softmaxAVX2, sbSoftmaxAVX2},
	implAVX512: {expAVX512, geluAVX512, softmaxAVX512, sbSoftmaxAVX512},
}

func kernelsFor(impl int32) *kernels { return &asmKernels[impl] }
