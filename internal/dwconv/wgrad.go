package dwconv

//go:generate go run asmgen_wgrad.go

import (
	"fmt"

	"github.com/grformer/grformer/internal/cpu"
)

// WeightGrad adds the weight and bias gradients of Conv3x3 for output rows [y0, y1):
//
//	dw[t*c+ch] += sum_{y in [y0,y1), x} ddst[y][x][ch] * src[y+t/3-1][x+t%3-1][ch]   (zero outside)
//	db[ch]     += sum_{y in [y0,y1), x} ddst[y][x][ch]
//
// src and ddst are [h, w, c] images (only rows [y0, y1) of ddst are read), dw is packed [9][c]
// (tap-major, like Conv3x3's wp), db has c values or is nil. The sums run row by row: each
// output row's sum over its w pixels (float32 lanes in the assembly kernels, float64 in the
// generic version) is added to dw and db, so the result is deterministic for given [y0, y1)
// and does not depend on the implementation beyond rounding. To split the work between
// goroutines, give each a fixed chunk of rows and its own dw and db (zeroed), then add the
// partial sums in chunk order: the result then does not depend on the number of goroutines.
// It does not allocate; it panics if a slice is too short for its shape or the row range is not
// within [0, h].
//
// Kernels (asmgen_wgrad.go): one call per output row; per channel block (16, 8 lanes; the last
// one masked) 10 accumulators (9 taps and the bias) over the row's pixels, then added to dw and
// db. AVX-512 keeps the input pixels under the taps in registers (a sliding window: 4 loads for
// the 10 FMAs of a pixel), AVX2 reads them from memory; the first and last pixels of a row skip
// the taps outside, rows outside the image are skipped by variants of the code.
//
// Accuracy (TestWeightGrad, against WeightGradRef's float64 sums): at most 2.2e-7 of the sum
// of the magnitudes of the terms (and of the initial value), every implementation, shapes up to
// 64x64x120 in one call.
//
// Speed, one goroutine, GFLOP/s = 2*9*h*w*c / time, mean (best call) of a 200 ms run, one run
// on the 2-core Zen 5 of doc.go (go test -run X -bench WeightGrad -benchtime 200ms):
//
//	                      avx512         avx2           generic      reference
//	64x64, c = 120        171 (190)      89 (108)       3.4 (3.7)    1.2 (1.3)
//	8x64 rows, c = 120    200 (224)      115 (124)      3.6 (3.8)    1.3 (1.3)
//	64x64, c = 32 / 240   211 / 175      105 / 88       3.2 / 2.9    1.2 / 1.1
//	64x64, c = 36 / 100   111 / 135      70 / 75        3.3          1.2
//
// c = 120 makes half the 64-byte loads cross a cache line (pixel stride 480 bytes); before the
// sliding window, with 10 loads per pixel, the AVX-512 kernel ran at 87 (109) GFLOP/s there.
func WeightGrad(dw, db []float32, ddst, src []float32, h, w, c int, y0, y1 int) {
	checkWG(dw, db, ddst, src, h, w, c, y0, y1)
	if y0 == y1 || w == 0 || c == 0 {
		return
	}
	switch cpu.Level() {
	case cpu.AVX512:
		wgRun512(dw, db, ddst, src, h, w, c, y0, y1)
	case cpu.AVX2:
		wgRun256(dw, db, ddst, src, h, w, c, y0, y1)
	default:
		wgGeneric(dw, db, ddst, src, h, w, c, y0, y1)
	}
}

func checkWG(dw, db []float32, ddst, src []float32, h, w, c int, y0, y1 int) {
	if h < 0 || w < 0 || c < 0 {
		panic(fmt.Sprintf("dwconv: bad shape h=%d w=%d c=%d", h, w, c))
	}
	if y0 < 0 || y1 < y0 || y1 > h {
		panic(fmt.Sprintf("dwconv: row range [%d, %d) not within [0, %d)", y0, y1, h))
	}
	if n := h * w * c; len(src) < n {
		panic(fmt.Sprintf("dwconv: src has %d elements, [%d, %d, %d] needs %d", len(src), h, w, c, n))
	}
	if need := y1 * w * c; y0 < y1 && len(ddst) < need {
		panic(fmt.Sprintf("dwconv: ddst has %d elements, rows up to %d need %d", len(ddst), y1, need))
	}
	if len(dw) < 9*c {
		panic(fmt.Sprintf("dwconv: weight gradient has %d elements, need %d", len(dw), 9*c))
	}
	if db != nil && len(db) < c {
		panic(fmt.Sprintf("dwconv: bias gradient has %d elements, need %d", len(db), c))
	}
}

// wgRow returns the element offsets o0, o1, o2 of rows y-1, y, y+1 (o1 for a row outside the
// image) and the flags of output row y (base plus flagTop, flagBottom).
func wgRow(h, w, c, y, base int) (o0, o1, o2, flags int) {
	flags = base
	o1 = y * w * c
	o0, o2 = o1-w*c, o1+w*c
	if y == 0 {
		flags |= flagTop
		o0 = o1
	}
	if y == h-1 {
		flags |= flagBottom
		o2 = o1
	}
	return o0, o1, o2, flags
}

// Kernel flag of WeightGrad: db is added to (flagTop and flagBottom as for Conv3x3).
const flagDB = 1

// wgBlock is the channel block of the generic version (its float64 accumulators live on the
// stack: 10 x wgBlock).
const wgBlock = 64

// wgGeneric is the portable WeightGrad: per output row and block of 64 channels, float64 sums
// over the row's pixels (each product of two float32 exact in float64), then added to dw and
// db, as the assembly kernels do in float32.
func wgGeneric(dw, db []float32, g, src []float32, h, w, c int, y0, y1 int) {
	var acc [10 * wgBlock]float64
	for y := y0; y < y1; y++ {
		for c0 := 0; c0 < c; c0 += wgBlock {
			n := min(wgBlock, c-c0)
			clear(acc[:])
			for x := 0; x < w; x++ {
				gp := g[(y*w+x)*c+c0:][:n]
				ab := acc[9*wgBlock:][:n]
				for i, v := range gp {
					ab[i] += float64(v)
				}
				for t := 0; t < 9; t++ {
					yy, xx := y+t/3-1, x+t%3-1
					if yy < 0 || yy >= h || xx < 0 || xx >= w {
						continue
					}
					s := src[(yy*w+xx)*c+c0:][:n]
					a := acc[t*wgBlock:][:n]
					for i, v := range gp {
						a[i] += float64(v) * float64(s[i])
					}
				}
			}
			for t := 0; t < 9; t++ {
				d := dw[t*c+c0:][:n]
				for i := range d {
					d[i] += float32(acc[t*wgBlock+i])
				}
			}
			if db != nil {
				d := db[c0:][:n]
				for i := range d {
					d[i] += float32(acc[9*wgBlock+i])
				}
			}
		}
	}
}
