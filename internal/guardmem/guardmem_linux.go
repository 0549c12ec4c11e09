//go:build linux

// Package guardmem allocates float32 slices that sit right against an
// inaccessible page, for the kernel packages' tests: an assembly kernel
// that reads or writes one element outside a slice (a missing mask, a wrong
// border) faults instead of passing silently. Elsewhere than Linux it
// falls back to ordinary slices.
package guardmem

import (
	"sync"
	"syscall"
	"unsafe"
)

// Enabled reports whether slices are really guarded on this system.
const Enabled = true

var (
	mu   sync.Mutex
	maps [][]byte
)

// Floats returns n float32 values (zero) with an inaccessible page right
// after the last one, or, with front, right before the first one. Release
// frees them all.
func Floats(n int, front bool) []float32 {
	if n == 0 {
		return nil
	}
	page := syscall.Getpagesize()
	data := (n*4 + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, data+2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(err)
	}
	for _, g := range [][]byte{mem[:page], mem[page+data:]} {
		if err := syscall.Mprotect(g, syscall.PROT_NONE); err != nil {
			panic(err)
		}
	}
	mu.Lock()
	maps = append(maps, mem)
	mu.Unlock()
	start := page + data - n*4
	if front {
		start = page
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[start])), n)
}

// Release unmaps every slice Floats returned.
func Release() {
	mu.Lock()
	defer mu.Unlock()
	for _, m := range maps {
		syscall.Munmap(m)
	}
	maps = maps[:0]
}
