package dwconv

import (
	"fmt"

	"github.com/grformer/grformer/internal/cpu"
)

// Conv3x3 computes output rows [y0, y1) of dst from the whole of src, a depthwise (groups = c)
// 3x3 convolution with zero padding 1 and stride 1 on images stored [h, w, c] (pixel (y, x) at
// [(y*w+x)*c : +c]):
//
//	dst[y][x][ch] (+)= bias[ch] + sum_{ky,kx} wp[(ky*3+kx)*c + ch] * src[y+ky-1][x+kx-1][ch]
//
// (zero outside the image). wp is packed [9][c] (tap-major, kernels.PackDepthwise3x3), bias
// has c values or is nil. With accumulate the result is added to dst. dst must not alias src.
// It does not allocate and is safe for concurrent calls on disjoint row ranges of dst. It
// panics if a slice is too short for its shape or the row range is not within [0, h].
func Conv3x3(dst, src []float32, h, w, c int, wp, bias []float32, y0, y1 int, accumulate bool) {
	check(dst, src, h, w, c, wp, bias, y0, y1)
	if y0 == y1 || w == 0 || c == 0 {
		return
	}
	switch cpu.Level() {
	case cpu.AVX512:
		run512(dst, src, h, w, c, wp, bias, y0, y1, accumulate)
	case cpu.AVX2:
		run256(dst, src, h, w, c, wp, bias, y0, y1, accumulate)
	default:
		convGeneric(dst, src, h, w, c, wp, bias, y0, y1, accumulate)
	}
}

func check(dst, src []float32, h, w, c int, wp, bias []float32, y0, y1 int) {
	if h < 0 || w < 0 || c < 0 {
		panic(fmt.Sprintf("dwconv: bad shape h=%d w=%d c=%d", h, w, c))
	}
	if y0 < 0 || y1 < y0 || y1 > h {
		panic(fmt.Sprintf("dwconv: row range [%d, %d) not within [0, %d)", y0, y1, h))
	}
	n := h * w * c
	if len(src) < n {
		panic(fmt.Sprintf("dwconv: src has %d elements, [%d, %d, %d] needs %d", len(src), h, w, c, n))
	}
	if need := y1 * w * c; y0 < y1 && len(dst) < need {
		panic(fmt.Sprintf("dwconv: dst has %d elements, rows up to %d need %d", len(dst), y1, need))
	}
	if len(wp) < 9*c {
		panic(fmt.Sprintf("dwconv: weights have %d elements, need %d", len(wp), 9*c))
	}
	if bias != nil && len(bias) < c {
		panic(fmt.Sprintf("dwconv: bias has %d elements, need %d", len(bias), c))
	}
}

// Kernel flags (asmgen.go).
const (
	flagAcc    = 1
	flagBias   = 2
	flagLeft   = 4  // the column left of the first group is outside the image
	flagRight  = 8  // the column right of the last group is outside the image
	flagTop    = 16 // row y-1 is outside the image
	flagBottom = 32 // row y+1 is outside the image
)

// tileBytes bounds the input bytes of one row of an x tile. Rows y0..y1-1 of a tile are
// computed one after the other, so that the tile's input rows stay in L2 (3 x 192 KiB of the
// 1 MiB measured) from one output row to the next and every input row comes from memory once,
// even for rows wider than L2 (c = 120: tiles of 408 pixels). A variable so that tests can
// force many tiles.
var tileBytes = 192 << 10

// walk cuts rows [y0, y1) into x tiles of a multiple of g pixels and calls
// kernel(o0, o1, o2, p, ng, flags) for ng groups of p pixels starting at element offsets o0,
// o1, o2 of rows y-1, y, y+1 (o1 is also the offset in dst): full groups of g, then the rest
// of the row (p < g, ng = 1). flags adds the borders to base: the left one on the call that
// starts at x = 0, the right one on the call that ends at x = w, top and bottom on rows 0 and
// h-1 (where o0 or o2 is o1, unused).
func walk(h, w, c, y0, y1, g, base int, kernel func(o0, o1, o2, p, ng, flags int)) {
	tw := max(g, tileBytes/(4*c)/g*g)
	for x0 := 0; x0 < w; x0 += tw {
		x1 := min(x0+tw, w)
		ng, rest := (x1-x0)/g, (x1-x0)%g
		for y := y0; y < y1; y++ {
			f := base
			o1 := (y*w + x0) * c
			o0, o2 := o1-w*c, o1+w*c
			if y == 0 {
				f |= flagTop
				o0 = o1
			}
			if y == h-1 {
				f |= flagBottom
				o2 = o1
			}
			if x0 == 0 {
				f |= flagLeft
			}
			if ng > 0 {
				fg := f
				if rest == 0 && x1 == w {
					fg |= flagRight
				}
				kernel(o0, o1, o2, g, ng, fg)
				f &^= flagLeft
				o := ng * g * c
				o0, o1, o2 = o0+o, o1+o, o2+o
			}
			if rest > 0 {
				if x1 == w {
					f |= flagRight
				}
				kernel(o0, o1, o2, rest, 1, f)
			}
		}
	}
}

func baseFlags(bias []float32, acc bool) int {
	f := 0
	if acc {
		f |= flagAcc
	}
	if bias != nil {
		f |= flagBias
	}
	return f
}
