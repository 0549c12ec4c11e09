package vmath

import (
	"syscall"
	"testing"
	"unsafe"
)

// On Linux every test slice ends right before an inaccessible page, so that a kernel reading or
// writing one element past a matrix (a missing mask) faults instead of passing silently.
func init() {
	alloc = guardedAlloc
	release = func() {
		for _, m := range guardMaps {
			syscall.Munmap(m)
		}
		guardMaps = guardMaps[:0]
	}
}

var guardMaps [][]byte

func guardedAlloc(n int) []float32 {
	if n == 0 {
		return nil
	}
	page := syscall.Getpagesize()
	size := (n*4+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(err)
	}
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		panic(err)
	}
	guardMaps = append(guardMaps, mem)
	end := size - page
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[end-n*4])), n)
}

func TestGuardPageWorks(t *testing.T) {
	x := guardedAlloc(3)
	x[2] = 1 // the last element is writable
	if len(guardMaps) == 0 {
		t.Fatal("no guard map")
	}
}
