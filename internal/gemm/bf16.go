package gemm

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/grformer/grformer/internal/cpu"
)

// ToBF16 rounds x to bfloat16 (the top 16 bits of a float32) exactly as VCVTNEPS2BF16 does:
// to nearest, ties to even; a NaN stays a NaN (made quiet); zeros and denormals become a zero
// of the same sign.
func ToBF16(x float32) uint16 {
	u := math.Float32bits(x)
	switch {
	case u&0x7f800000 == 0:
		return uint16(u>>16) & 0x8000
	case u&0x7fffffff > 0x7f800000:
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// FromBF16 widens a bfloat16 value to float32 (exact).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// ConvertBF16 rounds the m×k matrix src (row stride lds) to bf16 rows in dst (row stride ldd
// >= k rounded up to even), as ToBF16 does; for an odd k it also writes the zero that completes
// the last pair (dst[i*ldd+k]), as PackedBF16.MulBF16 requires. It runs VCVTNEPS2BF16 where
// cpu.HasBF16, a Go loop elsewhere (same bits).
func ConvertBF16(m, k int, src []float32, lds int, dst []uint16, ldd int) {
	if m <= 0 || k <= 0 {
		return
	}
	checkMat("src", m, k, src, lds)
	checkMat("dst", m, k+k&1, dst, ldd)
	convertRows(m, k, src, lds, dst, ldd)
}

func convertRows(m, k int, src []float32, lds int, dst []uint16, ldd int) {
	if convertRowsFast(m, k, src, lds, dst, ldd) {
		return
	}
	for i := 0; i < m; i++ {
		s := src[i*lds : i*lds+k]
		d := dst[i*ldd : i*ldd+k+k&1]
		for j, v := range s {
			d[j] = ToBF16(v)
		}
		if k&1 != 0 {
			d[k] = 0
		}
	}
}

// PackedBF16 is a weight matrix B rounded to bf16 (ToBF16) and packed once for products A·B
// with fp32 accumulation: 32-column panels of pairs along k, pair t of column 32p+j being the
// 32-bit word at data[p*32*kh + t*32 + j] (kh = ceil(k/2) pairs) that holds B[2t][j] in its low
// half and B[2t+1][j] (zero past an odd k) in its high half, as VDPBF16PS reads them; columns
// past n are zero, the data 64-byte aligned. Read-only once packed, safe for concurrent Mul.
type PackedBF16 struct {
	n, k int
	data []uint32
}

// PackNTBF16 packs B stored [n×k] (PyTorch Linear layout [out, in]) with row stride ldb.
func PackNTBF16(n, k int, b []float32, ldb int) *PackedBF16 {
	p := new(PackedBF16)
	p.PackNT(n, k, b, ldb)
	return p
}

// PackNNBF16 packs B stored [k×n] with row stride ldb.
func PackNNBF16(k, n int, b []float32, ldb int) *PackedBF16 {
	p := new(PackedBF16)
	p.PackNN(k, n, b, ldb)
	return p
}

// PackNT packs B stored [n×k] (row stride ldb) into p, replacing what p held and reusing its
// storage when it is large enough (no allocation then, the conversion buffer is pooled): for
// operands packed on every call, such as one head's k in q·k^T. The zero PackedBF16 is ready
// for PackNT and PackNN. p must not be in use by a concurrent Mul.
func (p *PackedBF16) PackNT(n, k int, b []float32, ldb int) {
	checkShape("PackNT", n, k)
	if k > 0 {
		checkMat("B", n, k, b, ldb)
	}
	p.reset(n, k)
	if k > 0 {
		tlen := n * pairs(k)
		tbuf := getBuf(tlen)
		packNTBF16(p.data, n, k, b, ldb, u16view((*tbuf)[:tlen]))
		putBuf(tbuf)
	}
}

// PackNN packs B stored [k×n] (row stride ldb) into p, as PackNT does: for one head's v in
// attn·v.
func (p *PackedBF16) PackNN(k, n int, b []float32, ldb int) {
	checkShape("PackNN", n, k)
	if k > 0 {
		checkMat("B", k, n, b, ldb)
	}
	p.reset(n, k)
	if k > 0 {
		packNNBF16(p.data, n, k, b, ldb)
	}
}

func checkShape(fn string, n, k int) {
	if n <= 0 || k < 0 {
		panic(fmt.Sprintf("gemm: %s bad shape n=%d k=%d", fn, n, k))
	}
}

// reset sizes p for n×k, reusing its storage when large enough.
func (p *PackedBF16) reset(n, k int) {
	l := packedLen(n, pairs(k))
	if cap(p.data) < l {
		p.data = u32view(alignedFloats(l))
	}
	p.n, p.k, p.data = n, k, p.data[:l]
}

// N is the number of output columns.
func (p *PackedBF16) N() int { return p.n }

// K is the inner dimension.
func (p *PackedBF16) K() int { return p.k }

// Mul computes C[m×n] = bf16(A)·B (+ C if accumulate) (+ bias[j] if bias is not nil) with fp32
// products and sums: A[m×k] is fp32, row-major with stride lda, rounded to bf16 on the fly (in
// blocks of rows, into a pooled buffer); C has stride ldc. It does not allocate.
func (p *PackedBF16) Mul(m int, a []float32, lda int, c []float32, ldc int, bias []float32, accumulate bool) {
	if m <= 0 {
		return
	}
	checkC(m, p.n, c, ldc, bias)
	if p.k == 0 {
		kZero(m, p.n, c, ldc, bias, accumulate)
		return
	}
	checkMat("A", m, p.k, a, lda)
	p.mul(m, aop{f: a, ld: lda}, c, ldc, bias, accumulate)
}

// MulBF16 is Mul with A already in bf16 (ConvertBF16): row i at a[i*lda:], k values and, for an
// odd k, a zero after them (VDPBF16PS reads whole pairs; any finite value there is harmless,
// but an Inf or NaN would spoil the row). It saves the conversion when one A feeds several
// products. Denormal bf16 values (which ToBF16 never makes) count as zero on AVX512_BF16.
func (p *PackedBF16) MulBF16(m int, a []uint16, lda int, c []float32, ldc int, bias []float32, accumulate bool) {
	if m <= 0 {
		return
	}
	checkC(m, p.n, c, ldc, bias)
	if p.k == 0 {
		kZero(m, p.n, c, ldc, bias, accumulate)
		return
	}
	checkMat("A", m, p.k+p.k&1, a, lda)
	p.mul(m, aop{h: a, rs: lda, cs: 2}, c, ldc, bias, accumulate)
}

// aop is the A operand of a bf16 product: fp32 rows (f, row stride ld), rounded block by block,
// or bf16 values (h) with element (i, kk) at h[i*rs + (kk/2)*cs + kk%2]: rs = lda, cs = 2 for
// rows of bf16, rs = 2, cs = 2*ldp for the pair matrix of an A^T (packPairs).
type aop struct {
	f          []float32
	h          []uint16
	ld, rs, cs int
}

// mul runs C = A·B.
func (p *PackedBF16) mul(m int, a aop, c []float32, ldc int, bias []float32, acc bool) {
	n, k, kh := p.n, p.k, pairs(p.k)
	rows := blockRows(k)
	if cpu.HasBF16() {
		if a.h != nil {
			runBF16(m, n, kh, a.h, a.rs, a.cs, p.data, c, ldc, bias, acc)
			return
		}
		buf := getBuf(rows * kh)
		at := u16view((*buf)[:rows*kh])
		for i := 0; i < m; i += rows {
			r := min(rows, m-i)
			convertRows(r, k, a.f[i*a.ld:], a.ld, at, 2*kh)
			runBF16(r, n, kh, at, 2*kh, 2, p.data, c[i*ldc:], ldc, bias, acc)
		}
		putBuf(buf)
		return
	}
	// Emulation: the same bf16 values, widened to fp32, through the fp32 kernels of the level
	// (the products are exact in fp32 either way).
	bbuf := getBuf(packedLen(n, k))
	bf := (*bbuf)[:packedLen(n, k)]
	widenPanels(bf, p.data, n, k)
	abuf := getBuf(rows * k)
	at := (*abuf)[:rows*k]
	for i := 0; i < m; i += rows {
		r := min(rows, m-i)
		for ii := 0; ii < r; ii++ {
			d := at[ii*k : ii*k+k]
			if a.h != nil {
				h := a.h[(i+ii)*a.rs:]
				for j := range d {
					d[j] = FromBF16(h[j/2*a.cs+j%2])
				}
			} else {
				for j, v := range a.f[(i+ii)*a.ld : (i+ii)*a.ld+k] {
					d[j] = FromBF16(ToBF16(v))
				}
			}
		}
		run(r, n, k, at, k, 1, bsrc{bf, panelW, panelW * k, true}, c[i*ldc:], ldc, bias, acc)
	}
	putBuf(abuf)
	putBuf(bbuf)
}

// GemmBF16 computes C[m×n] = bf16(op(A))·bf16(op(B)) (+ C if accumulate) (+ bias[j] if bias is
// not nil) with fp32 products and sums, for two activations (or gradients): op(A) = A stored
// [m×k], or with transA A^T with A stored [k×m] (stride lda); op(B) = B stored [k×n], or with
// transB B^T with B stored [n×k] (stride ldb). B is rounded and packed on every call into a
// pooled buffer, A^T into a pooled pair matrix, A as in PackedBF16.Mul. It does not allocate
// once the pool is warm. transA serves weight gradients (dW = dY^T·X, k = tokens).
func GemmBF16(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, accumulate bool) {
	if m <= 0 || n <= 0 {
		return
	}
	checkC(m, n, c, ldc, bias)
	if k <= 0 {
		kZero(m, n, c, ldc, bias, accumulate)
		return
	}
	if transA {
		checkMat("A", k, m, a, lda)
	} else {
		checkMat("A", m, k, a, lda)
	}
	var p PackedBF16
	plen := packedLen(n, pairs(k))
	buf := getBuf(plen)
	p.data = u32view((*buf)[:plen])
	if transB {
		p.PackNT(n, k, b, ldb)
	} else {
		p.PackNN(k, n, b, ldb)
	}
	if transA {
		ldp := (m + panelW - 1) / panelW * panelW
		alen := pairs(k) * ldp
		abuf := getBuf(alen)
		ap := (*abuf)[:alen]
		packPairs(u32view(ap), panelW, ldp, m, k, a, lda)
		p.mul(m, aop{h: u16view(ap), rs: 2, cs: 2 * ldp}, c, ldc, bias, accumulate)
		putBuf(abuf)
	} else {
		p.mul(m, aop{f: a, ld: lda}, c, ldc, bias, accumulate)
	}
	putBuf(buf)
}

// NTBF16 is GemmBF16(false, true, ...) without bias: C (+)= A·B^T, B stored [n×k] (q·k^T).
func NTBF16(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	GemmBF16(false, true, m, n, k, a, lda, b, ldb, c, ldc, nil, accumulate)
}

// NNBF16 is GemmBF16(false, false, ...) without bias: C (+)= A·B, B stored [k×n] (attn·v).
func NNBF16(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	GemmBF16(false, false, m, n, k, a, lda, b, ldb, c, ldc, nil, accumulate)
}

func pairs(k int) int { return (k + 1) / 2 }

// blockRows is the number of rows of A converted at a time: about 16 KiB of bf16, a multiple
// of the 12-row tile.
func blockRows(k int) int { return max(12, (8192/pairs(k))/12*12) }

// packNTBF16 packs B stored [n×k] into pair panels: its rows are rounded to bf16 into tmp
// (n*kp values, kp = k rounded up to even), whose 32-bit pairs are then transposed into
// panels exactly as packNT transposes floats.
func packNTBF16(dst []uint32, n, k int, b []float32, ldb int, tmp []uint16) {
	kh := pairs(k)
	convertRows(n, k, b, ldb, tmp, 2*kh)
	packNT(f32view(dst), n, kh, wordView(tmp), kh)
}

// packNNBF16 packs B stored [k×n] into pair panels.
func packNNBF16(dst []uint32, n, k int, b []float32, ldb int) {
	packPairs(dst, panelW*pairs(k), panelW, n, k, b, ldb)
}

// packPairs writes B stored [k×n] (stride ldb) as pairs of rows: word (t, j) =
// bf16(B[2t][j]) | bf16(B[2t+1][j])<<16 (zero past an odd k) at dst[(j/32)*ss + t*ds + j%32], in
// strips of 32 columns zero-padded past n. Pair panels have ss = 32*kh, ds = 32; the pair
// matrix of an A^T (row i of op(A) = column i) has ss = 32, ds = its row stride.
func packPairs(dst []uint32, ss, ds, n, k int, b []float32, ldb int) {
	if packPairsFast(dst, ss, ds, n, k, b, ldb) {
		return
	}
	kh := pairs(k)
	for p0 := 0; p0 < n; p0 += panelW {
		d := dst[p0/panelW*ss:]
		w := min(panelW, n-p0)
		for t := 0; t < kh; t++ {
			row := d[t*ds : t*ds+panelW]
			r0 := b[2*t*ldb+p0 : 2*t*ldb+p0+w]
			if 2*t+1 < k {
				r1 := b[(2*t+1)*ldb+p0 : (2*t+1)*ldb+p0+w]
				for j, v := range r0 {
					row[j] = uint32(ToBF16(v)) | uint32(ToBF16(r1[j]))<<16
				}
			} else {
				for j, v := range r0 {
					row[j] = uint32(ToBF16(v))
				}
			}
			clear(row[w:])
		}
	}
}

// widenPanels writes the fp32 panels of packNT/packNN (k rows of 32 per panel) holding the
// bf16 values of the pair panels src.
func widenPanels(dst []float32, src []uint32, n, k int) {
	kh := pairs(k)
	for p0 := 0; p0 < n; p0 += panelW {
		s := src[p0*kh : (p0+panelW)*kh]
		d := dst[p0*k : (p0+panelW)*k]
		for kk := 0; kk < k; kk++ {
			sh := 16 * (kk & 1)
			row := d[kk*panelW : kk*panelW+panelW]
			for j, v := range s[kk/2*panelW : kk/2*panelW+panelW] {
				row[j] = FromBF16(uint16(v >> sh))
			}
		}
	}
}

// Views of the same memory as another element type (pooled and aligned buffers are float32
// slices; packNT moves 32-bit words without looking at them).
func u32view(x []float32) []uint32 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&x[0])), len(x))
}

func f32view(x []uint32) []float32 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&x[0])), len(x))
}

// u16view is the 2*len(x) halves of the words of x.
func u16view(x []float32) []uint16 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&x[0])), 2*len(x))
}

// wordView is the len(x)/2 32-bit words of x (len(x) even, x 4-byte aligned).
func wordView(x []uint16) []float32 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&x[0])), len(x)/2)
}
