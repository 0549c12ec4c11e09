package vmath

import "unsafe"

func float32sAsInt32s(f []float32) []int32 {
	return unsafe.Slice((*int32)(unsafe.Pointer(&f[0])), len(f))
}
