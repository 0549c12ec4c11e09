// Package dwconv is the depthwise 3x3 convolution of GRFormer's FFN (groups = channels, zero
// padding 1, stride 1, with bias) on images stored as tokens x channels. Pure Go plus Go
// assembly; no cgo.
//
// # API
//
//	Conv3x3(dst, src, h, w, c, wp, bias, y0, y1, accumulate)
//	    dst[y][x][ch] (+)= bias[ch] + sum_{ky,kx} wp[(ky*3+kx)*c+ch] * src[y+ky-1][x+kx-1][ch]
//	    for output rows [y0, y1), zero outside the image; src and dst are [h, w, c]
//	    (pixel (y, x) at [(y*w+x)*c : +c]), wp is [9][c] tap-major (kernels.PackDepthwise3x3),
//	    bias has c values or is nil
//	Conv3x3Ref: the same in plain loops, the reference of the tests
//
// Which implementation runs is internal/cpu's one switch for every kernel package
// (cpu.SetImpl, cpu.SetGeneric); the tests run every case on each one (internal/kerneltest).
//
// dst must not alias src. Conv3x3 never allocates and never starts goroutines: callers (the
// model) split [0, h) into row ranges computed by concurrent goroutines, which is safe because
// every call writes only its own rows of dst. It panics on a slice too short for its shape or a
// row range outside [0, h]. The sum of an output runs in the reference's order (bias, then taps
// 0..8); the assembly kernels fuse each multiply-add (FMA), so results differ from the reference by
// rounding only (the tests allow 1e-5 relative to the sum of the terms' magnitudes).
//
// # Files
//
//	dwconv.go          API, dispatch, argument checks, walk (x tiles, row borders, groups)
//	ref.go             Conv3x3Ref
//	generic.go         the portable implementation
//	impl_amd64.go      the assembly kernels' declarations, run512/run256
//	asmgen.go          writes kernels_amd64.s (`go generate`)
//	kernels_amd64.s    generated AVX-512 (dw512p1..12) and AVX2+FMA (dw256p1..5) kernels
//	impl_other.go      non-amd64 and purego builds: generic only
//
// # Kernels (asmgen.go)
//
// A kernel computes groups of P consecutive output pixels of one row. For each group it walks
// the channel blocks (16 channels in a zmm, 8 in a ymm; the last block of c%16 or c%8 channels
// under an opmask (AVX-512) or VMASKMOVPS (AVX2), so nothing outside the slices is touched):
// the 9 tap weights of the block go to registers, the P accumulators start from the bias
// (plus dst with accumulate), and for each of the three input rows the P+2 input pixels under
// the group are loaded once and feed up to 3 FMAs each (sliding window): 9+3(P+2) loads and P
// stores for 9P FMAs. Groups are outermost so that the rows stream through memory in address
// order. Borders are flags of the call: a missing row above or below, or the column left of
// the first group or right of the last, is skipped (not multiplied by zero). AVX-512: P = 12
// (12 accumulators, 9 weights, bias, 6 load registers); AVX2: P = 5 (16 ymm registers). Row y+1
// and dst are prefetched 8 KiB ahead. The Go side (walk) cuts rows into x tiles of 192 KiB of
// input per row (about 400 pixels at c = 120) and computes the rows of a tile one after the other,
// so that the input rows of wide images stay in L2 from one output row to the next; each call
// to the assembly covers one row of a tile (a few microseconds: assembly is not preemptible).
//
// The AVX-512 implementation runs the AVX2 kernels for calls larger than streamBytes (12 MiB of
// src read plus dst written, about 8*c*w*rows bytes), which stream from memory: there the
// 256-bit kernels were 1.3-1.7x faster than the 512-bit ones on the machine below, whatever the
// group size or prefetch distance tried (BenchmarkStream), while from the caches the 512-bit
// ones are faster.
//
// The portable implementation (generic.go) fuses the three taps of each input row into one
// pass over the channels (three input pixels and three taps are contiguous), with the slices
// resliced so that the inner loops have no bounds checks. It is what non-amd64 builds and the
// purego tag get, and what cpu.SetGeneric(true) forces.
//
// # Choice of implementation
//
// At init, CPUID and XGETBV select "avx512" (AVX512F with the ZMM and opmask state enabled by
// the OS), else "avx2" (AVX2 + FMA with the YMM state), else "generic" (internal/cpu).
// cpu.SetImpl forces one the CPU supports (the tests run every implementation available on every
// run), cpu.SetGeneric is the `-generic` switch.
//
// # Measured
//
// `go test -run X -bench Conv -benchtime 300ms ./internal/dwconv/`, one run, one goroutine,
// GFLOP/s = 2*9*h*w*c / time (mean over the run; in brackets the fastest single call). Machine:
// 2-core AMD EPYC, CPU family 0x1A (Zen 5), AVX-512, 48 KiB L1d and 1 MiB L2 per core, 32 MiB
// L3, shared with other builds (noisy: the means of other runs were up to 2x lower).
//
//	c = 120                     avx512         avx2         generic     reference
//	64x64                       138 (142)      107 (117)    7.0 (7.2)   3.4 (3.4)
//	192x320 (from memory)        93 (101)       94 (100)    6.9 (6.9)   3.3 (3.3)
//	64x64, accumulate           126 (152)      106 (121)    6.0 (6.2)   3.1 (3.2)
//	64x64, c = 32 (in L2)       223 (241)      123 (129)    6.5 (6.6)   2.8 (2.9)
//	64x64, c = 36 / 100 / 240   133 / 121 / 118              6.5-7.0     2.8-3.4
//
// 64x64 (2 x 1.9 MiB) runs from L3; with images that fit in L2 the AVX-512 kernels reach
// 200-240 GFLOP/s, about the FMA peak of a core. The 192x320 image (2 x 28 MiB) streams from memory:
// 94 GFLOP/s moves about 62 GB/s (src read, dst written and read for ownership), about what
// one core gets here; the 512-bit kernels forced on it ran at about 55 (BenchmarkStream). With two
// goroutines on halves of the rows the memory bandwidth is shared: 90-100 GFLOP/s for both
// together from 128x240 up. For the model's images the next gain is therefore not in this
// kernel but in not writing the FFN's intermediate images to memory (fusing fc1, GELU and the
// two convolutions over bands of rows that fit in cache).
//
// For comparison (KERNELS.md, a 2-core Xeon): plain Go loops 5.2 GFLOP/s, Go's experimental
// SIMD (GOEXPERIMENT=simd) 24.7 GFLOP/s on 120 channels, 64x64, one thread.
package dwconv

//go:generate go run asmgen.go
