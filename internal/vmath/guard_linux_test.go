package vmath

import "github.com/grformer/grformer/internal/guardmem"

// On Linux every test slice sits right against an inaccessible page
// (internal/guardmem), so that a kernel reading or writing one element
// outside a slice faults instead of passing silently.
func init() {
	alloc = func(n int) []float32 { return guardmem.Floats(n, guardFront) }
	release = guardmem.Release
	guarded = true
}
