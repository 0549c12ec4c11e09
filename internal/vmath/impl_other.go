//go:build !amd64 || purego

package vmath

func kernelsFor(impl int32) *kernels { panic("vmath: no assembly kernels in this build") }
