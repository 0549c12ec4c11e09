//go:build amd64 && !purego

package cpu

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// detect reports which kernels this CPU and its operating system support. AVX2 needs AVX, FMA
// and AVX2 with the YMM state enabled by the OS (XCR0 bits 1-2); AVX-512 additionally needs
// AVX512F and the opmask/ZMM state (XCR0 bits 5-7); the BF16 kernels additionally need
// AVX512BW (CPUID 7.0 EBX bit 30, word masks) and AVX512_BF16 (CPUID 7.1 EAX bit 5).
func detect() (avx2, avx512, bf16 bool) {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false, false, false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false, false, false
	}
	xcr0, _ := xgetbv()
	if xcr0&0x6 != 0x6 {
		return false, false, false
	}
	maxSub7, ebx7, _, _ := cpuid(7, 0)
	avx2 = ebx7&(1<<5) != 0
	avx512 = avx2 && ebx7&(1<<16) != 0 && xcr0&0xe0 == 0xe0
	if avx512 && ebx7&(1<<30) != 0 && maxSub7 >= 1 {
		eax71, _, _, _ := cpuid(7, 1)
		bf16 = eax71&(1<<5) != 0
	}
	return avx2, avx512, bf16
}
