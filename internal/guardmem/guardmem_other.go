//go:build !linux

// Package guardmem allocates float32 slices that sit right against an
// inaccessible page, for the kernel packages' tests; on this system it
// falls back to ordinary slices.
package guardmem

// Enabled reports whether slices are really guarded on this system.
const Enabled = false

// Floats returns n float32 values (unguarded here).
func Floats(n int, front bool) []float32 { return make([]float32, n) }

// Release does nothing here.
func Release() {}
