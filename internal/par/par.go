// Package par splits loops over goroutines. It is the one parallel-for of
// the module, shared by the model and the training code.
package par

import "sync"

// For splits [0, n) into up to threads contiguous ranges and runs
// f(tid, lo, hi) on each in its own goroutine (tid < threads, distinct per
// range), returning when all are done. With threads <= 1 or n <= 1 it runs
// f(0, 0, n) on the calling goroutine.
func For(n, threads int, f func(tid, lo, hi int)) {
	if threads <= 1 || n <= 1 {
		f(0, 0, n)
		return
	}
	threads = min(threads, n)
	var wg sync.WaitGroup
	for t := range threads {
		lo, hi := t*n/threads, (t+1)*n/threads
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(t, lo, hi)
		}()
	}
	wg.Wait()
}
