//go:build !amd64 || purego

package cpu

func detect() (avx2, avx512, bf16 bool) { return false, false, false }
