//go:build amd64 && !purego

package dwconv

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/grformer/grformer/internal/cpu"
	"github.com/grformer/grformer/internal/kerneltest"
)

// TestGroupSizes runs every generated kernel as the full-group one (the default sizes only
// reach the others as the rest of a row), with several groups per call, both image borders
// inside and outside a call, and narrow tiles.
func TestGroupSizes(t *testing.T) {
	defer func(g5, g2, tb int) { p512, p256, tileBytes = g5, g2, tb }(p512, p256, tileBytes)
	sizes := map[string][]int{"avx512": {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, "avx2": {1, 2, 3, 4, 5}}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, g := range sizes[cpu.Impl()] {
			p512, p256 = g, g
			for _, tb := range []int{1, 1 << 30} {
				tileBytes = tb
				for _, tc := range []tcase{
					{3, 3*g + 1, 120, 0, 3, true, true},
					{4, 2 * g, 36, 0, 4, false, true},
					{3, g, 16, 0, 3, true, false},
					{2, 3*g + g/2 + 2, 18, 0, 2, false, false},
					{5, 2*g + 3, 240, 1, 4, true, true},
				} {
					tc.run(t, rng)
				}
			}
		}
	})
}

// BenchmarkGroupSizes compares the group sizes and x tile widths of the assembly kernels on
// 120 channels.
func BenchmarkGroupSizes(b *testing.B) {
	defer func(g5, g2, tb int) { p512, p256, tileBytes = g5, g2, tb }(p512, p256, tileBytes)
	for _, sz := range [][2]int{{64, 64}, {48, 1300}} {
		for _, tb := range []int{64 << 10, 192 << 10, 1 << 30} {
			for _, g := range []int{4, 8, 12} {
				b.Run(fmt.Sprintf("%dx%d/tile%dK/p%d", sz[0], sz[1], tb>>10, g), func(b *testing.B) {
					p512, p256, tileBytes = g, min(g, len(k256tab)-1), tb
					benchConv(b, sz[0], sz[1], 120, false)
				})
			}
		}
	}
}

// TestStreamPath runs the AVX-512 implementation with every call above and below
// streamBytes.
func TestStreamPath(t *testing.T) {
	if !cpu.HasAVX512 {
		t.Skip("no AVX-512")
	}
	defer func(v int) { streamBytes = v }(streamBytes)
	prev, _ := cpu.SetImpl("avx512")
	defer cpu.SetImpl(prev)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sb := range []int{0, 1 << 40} {
		streamBytes = sb
		for _, tc := range cases()[:400] {
			tc.run(t, rng)
		}
	}
}

// BenchmarkStream compares the 512-bit and the 256-bit kernels (one goroutine, 120 channels)
// from images that fit in L2 or L3 to ones that stream from memory: the measurements behind
// streamBytes.
func BenchmarkStream(b *testing.B) {
	if !cpu.HasAVX512 {
		b.Skip("no AVX-512")
	}
	defer func(v int) { streamBytes = v }(streamBytes)
	for _, sz := range [][2]int{{32, 64}, {64, 64}, {96, 160}, {112, 200}, {128, 240}, {192, 320}} {
		for _, k := range []struct {
			name string
			sb   int
		}{{"zmm", 1 << 40}, {"ymm", 0}} {
			b.Run(fmt.Sprintf("%dx%d_%.1fMiB/%s", sz[0], sz[1], float64(8*120*sz[0]*sz[1])/(1<<20), k.name), func(b *testing.B) {
				streamBytes = k.sb
				prev, _ := cpu.SetImpl("avx512")
				defer cpu.SetImpl(prev)
				h, w, c := sz[0], sz[1], 120
				dst, src, wp, bias := benchData(h, w, c)
				kerneltest.Bench(b, gflop(h, w, c), "GFLOP/s", func() { Conv3x3(dst, src, h, w, c, wp, bias, 0, h, false) })
			})
		}
	}
}
