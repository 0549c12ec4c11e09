package model

import (
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

// TestWindowIndexMatchesReference: gathering through WindowIndex equals the
// reference's cyclic roll followed by the window partition, for both
// orientations and the quirky shift of block 3.
func TestWindowIndexMatchesReference(t *testing.T) {
	const c = 2
	for _, tc := range []struct{ hp, wp, wh, ww, sh, sw int }{
		{16, 24, 4, 8, 0, 0}, {16, 24, 4, 8, 2, 4}, {16, 24, 8, 4, 2, 4}, {64, 96, 32, 8, 4, 16}, {32, 64, 8, 32, 4, 16},
	} {
		P := tc.hp * tc.wp
		src := make([]float32, P*c)
		for i := range src {
			src[i] = float32(i)
		}
		rolled := make([]float32, P*c)
		kerneltest.Roll(rolled, src, tc.hp, tc.wp, c, tc.sh, tc.sw)
		want := make([]float32, P*c)
		kerneltest.WindowPartition(want, rolled, tc.hp, tc.wp, c, tc.wh, tc.ww)
		idx := WindowIndex(tc.hp, tc.wp, tc.wh, tc.ww, tc.sh, tc.sw)
		for j, p := range idx {
			for ch := range c {
				if got := src[int(p)*c+ch]; got != want[j*c+ch] {
					t.Fatalf("%+v: window token %d channel %d = %v, want %v", tc, j, ch, got, want[j*c+ch])
				}
			}
		}
	}
}
