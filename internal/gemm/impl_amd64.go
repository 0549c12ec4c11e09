//go:build amd64 && !purego

package gemm

import "github.com/grformer/grformer/internal/cpu"

// AVX-512 kernels, 12 rows by 32 columns at most (kernels_amd64.s).
func k512m1(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m2(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m3(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m4(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m5(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m6(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m7(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m8(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m9(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m10(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m11(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func k512m12(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)

// AVX2+FMA kernels, 6 rows by 16 columns at most (kernels_amd64.s).
func k256m1(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, tailb *float32, tailbks uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, nstrip int, mask *int32, flags int)
func k256m2(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, tailb *float32, tailbks uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, nstrip int, mask *int32, flags int)
func k256m3(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, tailb *float32, tailbks uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, nstrip int, mask *int32, flags int)
func k256m4(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, tailb *float32, tailbks uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, nstrip int, mask *int32, flags int)
func k256m5(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, tailb *float32, tailbks uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, nstrip int, mask *int32, flags int)
func k256m6(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, tailb *float32, tailbks uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, nstrip int, mask *int32, flags int)

// AVX512_BF16 kernels, the same tiles with VDPBF16PS: k counts pairs of bf16 (kernels_amd64.s).
func kbf16m1(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m2(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m3(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m4(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m5(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m6(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m7(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m8(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m9(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m10(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m11(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
func kbf16m12(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)

type kbf16fn = func(a *uint16, rsa, csa uintptr, b *uint32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)

var kbf16tab = [13]kbf16fn{nil, kbf16m1, kbf16m2, kbf16m3, kbf16m4, kbf16m5, kbf16m6, kbf16m7, kbf16m8, kbf16m9, kbf16m10, kbf16m11, kbf16m12}

// runBF16 computes C[m×n] (+)= A·B (+ bias) on the BF16 kernels: A in bf16 pairs, pair t of row
// i at a[i*rsa + t*csa] (rows of bf16: rsa = lda, csa = 2), B in pair panels of kh pairs (pair t
// of column 32p+j at b[p*32*kh + t*32 + j]).
func runBF16(m, n, kh int, a []uint16, rsa, csa int, b []uint32, c []float32, ldc int, bias []float32, acc bool) {
	flags := kernelFlags(bias, acc)
	ps := panelW * kh
	drive512(m, n, kh, func(i, mr, mblocks, p0, np, lo, hi int) {
		co := p0 * panelW
		var bp *float32
		if bias != nil {
			bp = &bias[co]
		}
		kbf16tab[mr](&a[i*rsa], uintptr(rsa*2), uintptr(csa*2), &b[p0*ps], panelW*4, uintptr(ps*4),
			&c[i*ldc+co], uintptr(ldc*4), bp, kh, mblocks, np, lo, hi, flags)
	})
}

// cvtRowsBF16 rounds rows of k floats to bf16 (kernels_amd64.s): kblocks = k/16, loadmask =
// 1<<(k%16) - 1, storemask the word mask of the last k%16 values and the pad of an odd k.
func cvtRowsBF16(dst *uint16, ldd uintptr, src *float32, lds uintptr, rows, kblocks, loadmask, storemask int)

// convertRowsFast is ConvertBF16 on the AVX512_BF16 conversion, in calls of bounded work (the
// assembly is not preemptible); it reports false where the instructions are not in use.
func convertRowsFast(m, k int, src []float32, lds int, dst []uint16, ldd int) bool {
	if !cpu.HasBF16() {
		return false
	}
	step := max(1, (1<<20)/k)
	for i := 0; i < m; i += step {
		r := min(step, m-i)
		if lds == k && ldd == k && k%2 == 0 {
			cvtRun(&dst[i*ldd], 0, &src[i*lds], 0, 1, r*k) // contiguous rows: one run
		} else {
			cvtRun(&dst[i*ldd], uintptr(ldd*2), &src[i*lds], uintptr(lds*4), r, k)
		}
	}
	return true
}

// cvtRun converts rows of k floats with cvtRowsBF16, padding an odd k with a zero.
func cvtRun(dst *uint16, ldd uintptr, src *float32, lds uintptr, rows, k int) {
	kt := k % 16
	store := 0
	if kt != 0 {
		store = 1<<(kt+kt&1) - 1
	}
	cvtRowsBF16(dst, ldd, src, lds, rows, k/16, 1<<kt-1, store)
}

// packPairsBF16 packs npairs pairs of rows of B (stride ldb bytes), 32 columns under the masks,
// into words of bf16 pairs (32 per pair, dstride bytes apart), then with odd a last row paired
// with zeros (kernels_amd64.s).
func packPairsBF16(dst *uint32, dstride uintptr, src *float32, ldb uintptr, npairs, odd, masklo, maskhi int, idx *uint16)

// pairIdx interleaves the two halves of a vector of 32 words (VPERMW).
var pairIdx = func() (x [32]uint16) {
	for i := range 16 {
		x[2*i], x[2*i+1] = uint16(i), uint16(16+i)
	}
	return
}()

// packPairsFast is packPairs on the BF16 instructions; it reports false where they are not in
// use.
func packPairsFast(dst []uint32, ss, ds, n, k int, b []float32, ldb int) bool {
	if !cpu.HasBF16() {
		return false
	}
	for p0 := 0; p0 < n; p0 += panelW {
		d := dst[p0/panelW*ss : p0/panelW*ss+(pairs(k)-1)*ds+panelW] // bounds of the strip
		lo, hi := panelMasks(min(panelW, n-p0))
		packPairsBF16(&d[0], uintptr(ds*4), &b[p0], uintptr(ldb*4), k/2, k&1, lo, hi, &pairIdx[0])
	}
	return true
}

type k512fn = func(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, npanel, masklo, maskhi, flags int)
type k256fn = func(a *float32, rsa, csa uintptr, b *float32, bks, bps uintptr, tailb *float32, tailbks uintptr, c *float32, ldc uintptr, bias *float32, k, mblocks, nstrip int, mask *int32, flags int)

var k512tab = [13]k512fn{nil, k512m1, k512m2, k512m3, k512m4, k512m5, k512m6, k512m7, k512m8, k512m9, k512m10, k512m11, k512m12}
var k256tab = [7]k256fn{nil, k256m1, k256m2, k256m3, k256m4, k256m5, k256m6}

// avx2Mask[16-w:] starts with w lanes of -1 followed by 0s: the VMASKMOVPS masks of a tail strip
// of w < 16 columns.
var avx2Mask = [32]int32{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}

const (
	flagAcc  = 1
	flagBias = 2
	flagTail = 4
)

// rowsPerCall bounds the work of one assembly call (about 2^22 FMAs): assembly functions are not
// preemptible, so a huge M is cut into several calls.
func rowsPerCall(n, k, mr int) int {
	r := (1 << 22) / (n*k + 1)
	r -= r % mr
	if r < mr {
		r = mr
	}
	return r
}

func kernelFlags(bias []float32, acc bool) int {
	f := 0
	if acc {
		f |= flagAcc
	}
	if bias != nil {
		f |= flagBias
	}
	return f
}

// groupBudget bounds the bytes of B that one pass over a block of rows touches: B beyond it is
// processed in groups of panels, each group kept in L2 (1 MiB per core on the machines measured)
// while all of A streams past it. A variable so that tests can force many groups.
var groupBudget = 512 << 10

func panelsPerGroup(k int) int { return max(1, groupBudget/(panelW*4*k)) }

func run512(m, n, k int, a []float32, rsa, csa int, b bsrc, c []float32, ldc int, bias []float32, acc bool) {
	flags := kernelFlags(bias, acc)
	drive512(m, n, k, func(i, mr, mblocks, p0, np, lo, hi int) {
		co := p0 * panelW
		var bp *float32
		if bias != nil {
			bp = &bias[co]
		}
		k512tab[mr](&a[i*rsa], uintptr(rsa*4), uintptr(csa*4), &b.p[p0*b.ps], uintptr(b.ks*4), uintptr(b.ps*4),
			&c[i*ldc+co], uintptr(ldc*4), bp, k, mblocks, np, lo, hi, flags)
	})
}

// panelMasks returns the opmasks of the two 16-column vectors of a panel of w <= 32 columns.
func panelMasks(w int) (lo, hi int) {
	if w > 16 {
		return 0xffff, 1<<(w-16) - 1
	}
	return 1<<w - 1, 0
}

// drive512 splits an m×n product with k steps among the kernels of 12×32 tiles: the panels in
// groups whose B stays in L2 (panelsPerGroup), the blocks of 12 rows in calls of bounded work
// (rowsPerCall), then one call for the m%12 last rows. call(i, mr, mblocks, p0, np, lo, hi) runs
// the kernel of mr rows on mblocks blocks from row i, on panels p0..p0+np-1, with the opmasks
// lo, hi of the last panel's two vectors (all ones unless it is the matrix's last panel).
func drive512(m, n, k int, call func(i, mr, mblocks, p0, np, lo, hi int)) {
	npanel := (n + panelW - 1) / panelW
	lo, hi := panelMasks(n - panelW*(npanel-1))
	const mr = 12
	full := m - m%mr
	gp := panelsPerGroup(k)
	for p0 := 0; p0 < npanel; p0 += gp {
		np := min(gp, npanel-p0)
		glo, ghi := 0xffff, 0xffff
		if p0+np == npanel {
			glo, ghi = lo, hi
		}
		for i, chunk := 0, rowsPerCall(np*panelW, k, mr); i < full; i += chunk {
			call(i, mr, min(chunk, full-i)/mr, p0, np, glo, ghi)
		}
		if r := m % mr; r > 0 {
			call(full, r, 1, p0, np, glo, ghi)
		}
	}
}

func run256(m, n, k int, a []float32, rsa, csa int, b bsrc, c []float32, ldc int, bias []float32, acc bool) {
	nstrip := (n + 15) / 16
	w := n % 16
	flags := kernelFlags(bias, acc)
	var tailb *float32
	tailbks := 0
	var mask *int32
	var buf *[]float32
	if w != 0 {
		mask = &avx2Mask[16-w]
		s := nstrip - 1
		off := (s/2)*b.ps + (s%2)*16
		if b.packed {
			tailb, tailbks = &b.p[off], b.ks
		} else {
			// Copy the last w columns into a zero-padded k×16 strip so that the kernel can
			// load whole vectors.
			buf = getBuf(16 * k)
			t := (*buf)[:16*k]
			for kk := 0; kk < k; kk++ {
				row := t[kk*16 : kk*16+16]
				copy(row, b.p[off+kk*b.ks:off+kk*b.ks+w])
				clear(row[w:])
			}
			tailb, tailbks = &t[0], 16
		}
	}
	const mr = 6
	full := m - m%mr
	gs := 2 * panelsPerGroup(k) // strips per group
	for s0 := 0; s0 < nstrip; s0 += gs {
		ns := min(gs, nstrip-s0)
		gflags := flags
		if s0+ns == nstrip && w != 0 {
			gflags |= flagTail
		}
		bg := &b.p[s0/2*b.ps]
		co := s0 * 16
		var bp *float32
		if bias != nil {
			bp = &bias[co]
		}
		for i, chunk := 0, rowsPerCall(ns*16, k, mr); i < full; i += chunk {
			rows := min(chunk, full-i)
			k256m6(&a[i*rsa], uintptr(rsa*4), uintptr(csa*4), bg, uintptr(b.ks*4), uintptr(b.ps*4),
				tailb, uintptr(tailbks*4), &c[i*ldc+co], uintptr(ldc*4), bp, k, rows/mr, ns, mask, gflags)
		}
		if r := m % mr; r > 0 {
			i := full
			k256tab[r](&a[i*rsa], uintptr(rsa*4), uintptr(csa*4), bg, uintptr(b.ks*4), uintptr(b.ps*4),
				tailb, uintptr(tailbks*4), &c[i*ldc+co], uintptr(ldc*4), bp, k, 1, ns, mask, gflags)
		}
	}
	if buf != nil {
		putBuf(buf)
	}
}

// packT16 transposes 16 rows of B (stride ldb bytes) × (16*kblocks + ktail) columns into
// dst[kk*32 + 0..15] (kernels_amd64.s); tailmask = 1<<ktail - 1.
func packT16(dst, src *float32, ldb uintptr, kblocks, ktail, tailmask int)

// packNTFast packs the full 32-row panels of B^T with packT16 when the AVX-512 kernels are in
// use and returns how many rows of B it packed (a multiple of 32).
func packNTFast(dst []float32, n, k int, b []float32, ldb int) int {
	if cpu.Level() != cpu.AVX512 || k == 0 {
		return 0
	}
	full := n - n%panelW
	kb, kt := k/16, k%16
	for p0 := 0; p0 < full; p0 += panelW {
		d := dst[p0*k : (p0+panelW)*k]
		// Bounds: rows p0..p0+31 of B, k columns each (checked by the caller's checkMat).
		_ = b[(p0+panelW-1)*ldb+k-1]
		packT16(&d[0], &b[p0*ldb], uintptr(ldb*4), kb, kt, 1<<kt-1)
		packT16(&d[16], &b[(p0+16)*ldb], uintptr(ldb*4), kb, kt, 1<<kt-1)
	}
	return full
}
