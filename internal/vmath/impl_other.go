//go:build !amd64 || purego

package vmath

func detect() (avx2, avx512 bool) { return false, false }

func kernelsFor(impl int32) *kernels { panic("vmath: no assembly kernels in this build") }
