package par

import (
	"sync/atomic"
	"testing"
)

func TestForCoversEveryIndexOnce(t *testing.T) {
	for _, tc := range []struct{ n, threads int }{{0, 2}, {1, 4}, {7, 1}, {7, 3}, {100, 8}, {3, 8}} {
		seen := make([]int32, tc.n)
		var maxTid atomic.Int32
		For(tc.n, tc.threads, func(tid, lo, hi int) {
			if int32(tid) > maxTid.Load() {
				maxTid.Store(int32(tid))
			}
			for i := lo; i < hi; i++ {
				atomic.AddInt32(&seen[i], 1)
			}
		})
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d threads=%d: index %d visited %d times", tc.n, tc.threads, i, c)
			}
		}
		if int(maxTid.Load()) >= max(tc.threads, 1) {
			t.Errorf("n=%d threads=%d: tid %d", tc.n, tc.threads, maxTid.Load())
		}
	}
}
