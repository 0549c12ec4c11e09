package dwconv

import (
	"syscall"
	"testing"
	"unsafe"
)

// On Linux every test slice sits right against an inaccessible page, after its last element
// or, with guardFront, before its first one, so that a kernel reading or writing one element
// outside a slice (a missing mask, a wrong border) faults instead of passing silently.
func init() {
	alloc = guardedAlloc
	release = func() {
		for _, m := range guardMaps {
			syscall.Munmap(m)
		}
		guardMaps = guardMaps[:0]
	}
	guarded = true
}

var guardMaps [][]byte

func guardedAlloc(n int) []float32 {
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
	guardMaps = append(guardMaps, mem)
	start := page + data - n*4
	if guardFront {
		start = page
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[start])), n)
}

func TestGuardPageWorks(t *testing.T) {
	defer release()
	x := guardedAlloc(3)
	x[0], x[2] = 1, 1 // both ends are accessible
	if len(guardMaps) == 0 {
		t.Fatal("no guard map")
	}
}
