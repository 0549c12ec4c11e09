package gemm

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/grformer/grformer/internal/cpu"
)

// panelW is the width of a column panel of B: two 16-lane vectors.
const panelW = 32

// bsrc describes op(B) (k×n) as the kernels read it: element (kk, j) is
// p[(j/32)*ps + kk*ks + j%32]. Packed B has ks = 32, ps = 32*k and zero padding up to a
// multiple of 32 columns; B used in place (NN, TN) has ks = ldb, ps = 32 and no padding.
type bsrc struct {
	p      []float32
	ks, ps int
	packed bool
}

// NT computes C[m×n] (+)= A[m×k] · B[n×k]^T: A row-major with row stride lda, B in PyTorch
// Linear layout [out=n, in=k] with row stride ldb, C with row stride ldc. B is packed into a
// buffer taken from an internal sync.Pool (no allocation once the pool is warm).
func NT(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	Gemm(false, true, m, n, k, a, lda, b, ldb, c, ldc, nil, accumulate)
}

// NN computes C[m×n] (+)= A[m×k] · B[k×n], all row-major with strides lda, ldb, ldc. B is read
// in place (no packing, no buffer) except by the AVX2 kernels when n%16 != 0, which copy the
// last n%16 columns (k×16 floats) into a pooled buffer.
func NN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	Gemm(false, false, m, n, k, a, lda, b, ldb, c, ldc, nil, accumulate)
}

// TN computes C[m×n] (+)= A^T · B with A stored [k×m] (row stride lda) and B stored [k×n]
// (row stride ldb). With A = V (tokens×d) and B = P^T (tokens×tokens) it gives (P·V)^T
// without padding a narrow d to 32 columns.
func TN(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	Gemm(true, false, m, n, k, a, lda, b, ldb, c, ldc, nil, accumulate)
}

// Gemm computes C[m×n] = op(A)·op(B) (+ C if accumulate) (+ bias[j] on every row if bias is
// not nil), where op(A) is A (stored [m×k]) or, with transA, A^T (A stored [k×m]), and op(B)
// is B (stored [k×n]) or, with transB, B^T (B stored [n×k]). lda, ldb and ldc are row strides
// of the stored matrices in elements. With transB, B is packed into a pooled buffer.
func Gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, accumulate bool) {
	if m <= 0 || n <= 0 {
		return
	}
	checkC(m, n, c, ldc, bias)
	if k <= 0 {
		kZero(m, n, c, ldc, bias, accumulate)
		return
	}
	rsa, csa := checkA(transA, m, k, a, lda)
	if transB {
		checkMat("B", n, k, b, ldb)
		buf := getBuf(packedLen(n, k))
		pk := (*buf)[:packedLen(n, k)]
		packNT(pk, n, k, b, ldb)
		run(m, n, k, a, rsa, csa, bsrc{pk, panelW, panelW * k, true}, c, ldc, bias, accumulate)
		putBuf(buf)
		return
	}
	checkMat("B", k, n, b, ldb)
	run(m, n, k, a, rsa, csa, bsrc{b, ldb, panelW, false}, c, ldc, bias, accumulate)
}

func run(m, n, k int, a []float32, rsa, csa int, b bsrc, c []float32, ldc int, bias []float32, acc bool) {
	switch cpu.Level() {
	case cpu.AVX512:
		run512(m, n, k, a, rsa, csa, b, c, ldc, bias, acc)
	case cpu.AVX2:
		run256(m, n, k, a, rsa, csa, b, c, ldc, bias, acc)
	default:
		runGeneric(m, n, k, a, rsa, csa, b, c, ldc, bias, acc)
	}
}

// PackedB is a weight matrix B packed once into 32-column panels (k-major inside a panel,
// zero-padded to a multiple of 32 columns, 64-byte aligned) for repeated products A·B^T.
// It is read-only after packing and safe for concurrent Mul calls.
type PackedB struct {
	n, k int
	data []float32
}

// PackNT packs B stored [n×k] (PyTorch Linear layout [out, in]) with row stride ldb.
func PackNT(n, k int, b []float32, ldb int) *PackedB {
	if n <= 0 || k < 0 {
		panic(fmt.Sprintf("gemm: PackNT bad shape n=%d k=%d", n, k))
	}
	p := &PackedB{n: n, k: k, data: alignedFloats(packedLen(n, k))}
	if k > 0 {
		checkMat("B", n, k, b, ldb)
		packNT(p.data, n, k, b, ldb)
	}
	return p
}

// PackNN packs B stored [k×n] (row stride ldb), for B^T·... products written as A·B.
func PackNN(k, n int, b []float32, ldb int) *PackedB {
	if n <= 0 || k < 0 {
		panic(fmt.Sprintf("gemm: PackNN bad shape n=%d k=%d", n, k))
	}
	p := &PackedB{n: n, k: k, data: alignedFloats(packedLen(n, k))}
	if k > 0 {
		checkMat("B", k, n, b, ldb)
		packNN(p.data, n, k, b, ldb)
	}
	return p
}

// RepackNT packs new values of B, stored [n×k] with row stride ldb as for PackNT (same n and
// k), into p, for weights that change between uses (training). It does not allocate; it must
// not run concurrently with Mul.
func (p *PackedB) RepackNT(b []float32, ldb int) {
	if p.k > 0 {
		checkMat("B", p.n, p.k, b, ldb)
		packNT(p.data, p.n, p.k, b, ldb)
	}
}

// N is the number of output columns (rows of the [n×k] weight).
func (p *PackedB) N() int { return p.n }

// K is the inner dimension.
func (p *PackedB) K() int { return p.k }

// Mul computes C[m×n] = A[m×k]·B^T (+ C if accumulate) (+ bias[j] if bias is not nil), A
// row-major with stride lda, C with stride ldc. It does not allocate.
func (p *PackedB) Mul(m int, a []float32, lda int, c []float32, ldc int, bias []float32, accumulate bool) {
	p.MulA(false, m, a, lda, c, ldc, bias, accumulate)
}

// MulA is Mul with op(A) = A^T when transA (A stored [k×m], stride lda).
func (p *PackedB) MulA(transA bool, m int, a []float32, lda int, c []float32, ldc int, bias []float32, accumulate bool) {
	if m <= 0 {
		return
	}
	checkC(m, p.n, c, ldc, bias)
	if p.k == 0 {
		kZero(m, p.n, c, ldc, bias, accumulate)
		return
	}
	rsa, csa := checkA(transA, m, p.k, a, lda)
	run(m, p.n, p.k, a, rsa, csa, bsrc{p.data, panelW, panelW * p.k, true}, c, ldc, bias, accumulate)
}

func packedLen(n, k int) int { return (n + panelW - 1) / panelW * panelW * k }

// packNT writes B^T (B stored [n×k]) into 32-column panels: dst[p*32*k + kk*32 + j] =
// b[(32p+j)*ldb + kk], zero for 32p+j >= n. Four rows of B at a time, so that every k writes 4
// consecutive floats (twice as fast as one row at a time).
func packNT(dst []float32, n, k int, b []float32, ldb int) {
	for p0 := packNTFast(dst, n, k, b, ldb); p0 < n; p0 += panelW {
		d := dst[p0*k : (p0+panelW)*k]
		w := min(panelW, n-p0)
		j := 0
		for ; j+4 <= w; j += 4 {
			r0 := b[(p0+j)*ldb : (p0+j)*ldb+k]
			r1 := b[(p0+j+1)*ldb : (p0+j+1)*ldb+k]
			r2 := b[(p0+j+2)*ldb : (p0+j+2)*ldb+k]
			r3 := b[(p0+j+3)*ldb : (p0+j+3)*ldb+k]
			for kk := range r0 {
				o := d[kk*panelW+j : kk*panelW+j+4 : kk*panelW+j+4]
				o[0], o[1], o[2], o[3] = r0[kk], r1[kk], r2[kk], r3[kk]
			}
		}
		for ; j < w; j++ {
			src := b[(p0+j)*ldb : (p0+j)*ldb+k]
			for kk, v := range src {
				d[kk*panelW+j] = v
			}
		}
		if w < panelW {
			for kk := 0; kk < k; kk++ {
				clear(d[kk*panelW+w : kk*panelW+panelW])
			}
		}
	}
}

// packNN writes B (stored [k×n]) into the same panels.
func packNN(dst []float32, n, k int, b []float32, ldb int) {
	for p0 := 0; p0 < n; p0 += panelW {
		d := dst[p0*k : (p0+panelW)*k]
		w := min(panelW, n-p0)
		for kk := 0; kk < k; kk++ {
			row := d[kk*panelW : kk*panelW+panelW]
			copy(row, b[kk*ldb+p0:kk*ldb+p0+w])
			clear(row[w:])
		}
	}
}

// kZero handles k == 0: C = (C if accumulate) + bias.
func kZero(m, n int, c []float32, ldc int, bias []float32, acc bool) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if !acc {
			clear(row)
		}
		if bias != nil {
			for j := range row {
				row[j] += bias[j]
			}
		}
	}
}

func checkMat[T any](name string, rows, cols int, x []T, ld int) {
	if ld < cols || ld < 1 {
		panic(fmt.Sprintf("gemm: %s stride %d < %d columns", name, ld, cols))
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("gemm: %s has %d elements, [%d×%d] with stride %d needs %d", name, len(x), rows, cols, ld, need))
	}
}

// checkA validates A and returns its element strides between rows and between k of op(A).
func checkA(transA bool, m, k int, a []float32, lda int) (rsa, csa int) {
	if transA {
		checkMat("A", k, m, a, lda)
		return 1, lda
	}
	checkMat("A", m, k, a, lda)
	return lda, 1
}

func checkC(m, n int, c []float32, ldc int, bias []float32) {
	checkMat("C", m, n, c, ldc)
	if bias != nil && len(bias) < n {
		panic(fmt.Sprintf("gemm: bias has %d elements, need %d", len(bias), n))
	}
}

// Packing buffers of the unpacked calls (NT, and the AVX2 tail strip of NN) come from this
// pool: no allocation in steady state, safe for concurrent callers.
var bufPool sync.Pool

func getBuf(n int) *[]float32 {
	if v, ok := bufPool.Get().(*[]float32); ok {
		if cap(*v) >= n {
			return v
		}
		*v = alignedFloats(n)
		return v
	}
	s := alignedFloats(n)
	return &s
}

func putBuf(b *[]float32) { bufPool.Put(b) }

// alignedFloats returns n zeroed float32s starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&s[0]))%64) / 4
	if off != 0 {
		off = 16 - off
	}
	return s[off : off+n : off+n]
}
