//go:build ignore

// The row kernels of grad.go (LayerNorm forward, residual add and backward, LayerNorm parameter
// gradients, GELU', column sums, L2 normalisation of head slices, softmax backward, row dot
// products), written into kernels_amd64.s after asmgen.go's kernels: asmgen.go's main calls
// genGrad (go run asmgen.go asmgen_grad.go, as go generate does). The algorithms are those of
// grad_generic.go, described in doc.go.
//
// Most kernels exist once, written against visa, which emits the AVX-512 form (Z registers,
// tails under the opmask K1) or the AVX2+FMA form (Y0-Y14, tails by VMASKMOVPS with the lane
// mask in Y15) of each step. The AVX-512 kernels use AVX512F instructions only: no Y or X
// register above 15 appears outside a 512-bit instruction (that would need AVX512VL).
package main

import (
	"fmt"
	"math"
)

func init() {
	konsts = append(konsts,
		f("invsqrt2pi", 1/math.Sqrt(2*math.Pi)), // phi(x) = exp(-x²/2)/sqrt(2π)
		f("eps12", 1e-12),                       // L2 normalisation: divide by max(norm, 1e-12)
		f("gq", geluBeta*geluP),                 // GELU': u = (1 + gq*z)/(1 + p*z) (alpha + beta = 1)
	)
}

// Largest column blocks of the float64-accumulating kernels (colSums, lnPG): vectors of 8
// (AVX-512) or 4 (AVX2) float64 accumulators kept in registers. grad_amd64.go repeats them.
const (
	colSums512Max = 16 // Z0-Z15, temporaries Z16-Z31
	colSums256Max = 12 // Y0-Y11, temporaries Y12-Y14, mask X15
	lnPG512Max    = 8  // dgamma Z0-Z7, dbeta Z8-Z15
	lnPG256Max    = 5  // dgamma Y0-Y4, dbeta Y5-Y9
)

func genGrad() {
	for _, a := range []*visa{v512, v256} {
		genLN(a)
		genLNBwd(a)
		genL2Heads(a)
		genSmBwd(a)
		genRowDots(a)
	}
	genGELUBwd512()
	genGELUBwd256()
	genBlocks("colSumsAVX512", "acc *float64, src *float32, ld uintptr, m, cols int", 40, colSums512Max, true, colSums512)
	genBlocks("colSumsAVX2", "acc *float64, src *float32, ld uintptr, m, cols int", 40, colSums256Max, false, colSums256)
	genBlocks("lnPGAVX512", "accg, accb *float64, dy, x *float32, ld uintptr, m int, mean, rstd *float32, cols int", 72, lnPG512Max, true, lnPG512)
	genBlocks("lnPGAVX2", "accg, accb *float64, dy, x *float32, ld uintptr, m int, mean, rstd *float32, cols int", 72, lnPG256Max, false, lnPG256)
}

// ---------------------------------------------------------------------------------------------
// One kernel, two instruction sets.

type visa struct {
	sfx    string // function name suffix
	w      int    // float32 lanes
	v      string // vector register prefix
	avx512 bool
}

var (
	v512 = &visa{"AVX512", 16, "Z", true}
	v256 = &visa{"AVX2", 8, "Y", false}
)

// r names vector register i.
func (a *visa) r(i int) string { return fmt.Sprintf("%s%d", a.v, i) }

// load loads the vector at addr into register dst; the tail load fills the lanes past the
// row's end with 0 and does not touch their memory.
func (a *visa) load(addr string, dst int, tail bool) {
	switch {
	case !tail:
		p("\tVMOVUPS %s, %s", addr, a.r(dst))
	case a.avx512:
		p("\tVMOVUPS.Z %s, K1, %s", addr, a.r(dst))
	default:
		p("\tVMASKMOVPS %s, Y15, %s", addr, a.r(dst))
	}
}

// put stores register src at byte offset DX+o from base: storeTail for the tail.
func (a *visa) put(src, o int, base string, tail bool) {
	if tail {
		a.storeTail(src, o, base)
	} else {
		a.store(src, ix(o, base), false)
	}
}

// store stores register src at addr (the tail's lanes only for tail).
func (a *visa) store(src int, addr string, tail bool) {
	switch {
	case !tail:
		p("\tVMOVUPS %s, %s", a.r(src), addr)
	case a.avx512:
		p("\tVMOVUPS %s, K1, %s", a.r(src), addr)
	default:
		p("\tVMASKMOVPS %s, Y15, %s", a.r(src), addr)
	}
}

var tailStores int // numbers the labels of storeTail

// storeTail stores the tail lanes of register src (below 16; clobbered) at byte offset DX+o
// from base, in pieces of 8, 4, 2 and 1 values as the bits of R13 say, using CX. A masked store
// would do, but a later load that overlaps its 64 (32) bytes, even where the mask is clear,
// waits until the store has left the core (no store forwarding): with rows or heads one after
// the other in memory (LayerNorm in place, the residual t, head slices of 20 values), that is
// every row's or head's first load, and it made the kernels three to six times slower.
func (a *visa) storeTail(src int, o int, base string) {
	tailStores++
	l := func(n int) string { return fmt.Sprintf("st%d_%d", tailStores, n) }
	p("\tLEAQ %s, CX", ix(o, base))
	if a.avx512 {
		p("\tTESTQ $8, R13")
		p("\tJZ %s", l(4))
		p("\tVMOVUPS Y%d, (CX)", src)
		p("\tVEXTRACTF64X4 $1, Z%d, Y%d", src, src)
		p("\tADDQ $32, CX")
	}
	p("%s:", l(4))
	p("\tTESTQ $4, R13")
	p("\tJZ %s", l(2))
	p("\tVMOVUPS X%d, (CX)", src)
	p("\tVEXTRACTF128 $1, Y%d, X%d", src, src)
	p("\tADDQ $16, CX")
	p("%s:", l(2))
	p("\tTESTQ $2, R13")
	p("\tJZ %s", l(1))
	p("\tVMOVSD X%d, (CX)", src)
	p("\tVMOVHLPS X%d, X%d, X%d", src, src, src)
	p("\tADDQ $8, CX")
	p("%s:", l(1))
	p("\tTESTQ $1, R13")
	p("\tJZ %s", l(0))
	p("\tVMOVSS X%d, (CX)", src)
	p("%s:", l(0))
}

// zeroTail clears the lanes of register r past the tail.
func (a *visa) zeroTail(r int) {
	if a.avx512 {
		p("\tVMOVAPS.Z %s, K1, %s", a.r(r), a.r(r))
	} else {
		p("\tVANDPS Y15, %s, %s", a.r(r), a.r(r))
	}
}

func (a *visa) zero(r int) {
	if a.avx512 {
		p("\tVPXORD %s, %s, %s", a.r(r), a.r(r), a.r(r))
	} else {
		p("\tVXORPS %s, %s, %s", a.r(r), a.r(r), a.r(r))
	}
}

// hsum leaves the sum of the lanes of register r (below 16) in lane 0 of X<r>, using tmp
// (below 16). The order is fixed: halves, then quarters, ..., as a tree.
func (a *visa) hsum(r, tmp int) {
	if a.avx512 {
		p("\tVEXTRACTF64X4 $1, Z%d, Y%d", r, tmp)
		p("\tVADDPS Y%d, Y%d, Y%d", tmp, r, r)
	}
	p("\tVEXTRACTF128 $1, Y%d, X%d", r, tmp)
	p("\tVADDPS X%d, X%d, X%d", tmp, r, r)
	p("\tVPERMILPS $0x4e, X%d, X%d", r, tmp)
	p("\tVADDPS X%d, X%d, X%d", tmp, r, r)
	p("\tVMOVSHDUP X%d, X%d", r, tmp)
	p("\tVADDSS X%d, X%d, X%d", tmp, r, r)
}

// bcast broadcasts lane 0 of X<x> to vector register dst.
func (a *visa) bcast(x, dst int) { p("\tVBROADCASTSS X%d, %s", x, a.r(dst)) }

// setTail prepares the column loops (cols) of rows of n values (n in register nreg): R12 = the
// bytes of the full vectors, R13 = the values in the tail (n % w), and the tail lane mask
// (K1 or Y15). It uses CX and DX.
func (a *visa) setTail(nreg string) {
	p("\tMOVQ %s, R13", nreg)
	p("\tANDQ $%d, R13", a.w-1)
	p("\tMOVQ %s, R12", nreg)
	p("\tSUBQ R13, R12")
	p("\tSHLQ $2, R12")
	p("\tMOVQ R13, CX")
	if a.avx512 {
		p("\tMOVL $1, DX")
		p("\tSHLL CX, DX")
		p("\tDECL DX")
		p("\tKMOVW DX, K1")
		return
	}
	p("\tSHLQ $2, CX")
	p("\tLEAQ tailmask<>+32(SB), DX")
	p("\tSUBQ CX, DX")
	p("\tVMOVDQU (DX), Y15")
}

// cols emits a loop over one row (setTail): DX runs over the byte offsets of the full vectors,
// unroll vectors per step while enough remain, then one, then the tail if R13 != 0. body(o, i,
// tail) emits vector i of a step at byte offset DX+o (ix). It uses CX.
func (a *visa) cols(name string, unroll int, body func(o, i int, tail bool)) {
	vb := 4 * a.w
	p("\tXORQ DX, DX")
	if unroll > 1 {
		p("%s_u:", name)
		p("\tLEAQ %d(DX), CX", unroll*vb)
		p("\tCMPQ CX, R12")
		p("\tJGT %s_1", name)
		for i := 0; i < unroll; i++ {
			body(i*vb, i, false)
		}
		p("\tMOVQ CX, DX")
		p("\tJMP %s_u", name)
	}
	p("%s_1:", name)
	p("\tCMPQ DX, R12")
	p("\tJGE %s_t", name)
	body(0, 0, false)
	p("\tADDQ $%d, DX", vb)
	p("\tJMP %s_1", name)
	p("%s_t:", name)
	p("\tTESTQ R13, R13")
	p("\tJZ %s_d", name)
	body(0, 0, true)
	p("%s_d:", name)
}

// ix is the memory operand at byte offset DX+o from base.
func ix(o int, base string) string {
	if o == 0 {
		return fmt.Sprintf("(%s)(DX*1)", base)
	}
	return fmt.Sprintf("%d(%s)(DX*1)", o, base)
}

func ret() {
	p("done:")
	p("\tVZEROUPPER")
	p("\tRET")
}

// invC sets X8 = 1/c (c in BX) and X10 = 1.
func invC() {
	p("\tVMOVSS %s, X10", mem("one"))
	p("\tVCVTSI2SSQ BX, X8, X8")
	p("\tVDIVSS X8, X10, X8")
}

// ---------------------------------------------------------------------------------------------
// LayerNorm forward.

// genLN: for each of m rows of c values (rows contiguous),
//
//	m0 = sum(x)/c; d = x - m0; m1 = sum(d)/c; var = max(sum(d²)/c - m1², 0)
//	rstd = 1/sqrt(var + eps); y = (d*rstd - m1*rstd)*gamma + beta
//
// stored into dst, or (flags&2) added as t = mul*y + t (dst is t). flags&1 stores mean = m0 + m1
// and rstd. Registers: V0, V1 sums, V2 m0, V3 rstd, V4 m1*rstd, V5 mul, temporaries V6, V7,
// V12-V14; X8 1/c, X9 eps, X10 1, X11 0; SI src row, DI dst row, R10 gamma, R11 beta, R9 mean,
// R14 rstd, R8 rows left, BX c.
func genLN(a *visa) {
	name := "ln" + a.sfx
	p("")
	p("// func %s(dst, src *float32, m, c int, gamma, beta *float32, eps, mul float32, mean, rstd *float32, flags int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-80", name)
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ src+8(FP), SI")
	p("\tMOVQ m+16(FP), R8")
	p("\tMOVQ c+24(FP), BX")
	p("\tMOVQ gamma+32(FP), R10")
	p("\tMOVQ beta+40(FP), R11")
	p("\tMOVQ mean+56(FP), R9")
	p("\tMOVQ rstd+64(FP), R14")
	p("\tTESTQ R8, R8")
	p("\tJZ done")
	p("\tTESTQ BX, BX")
	p("\tJZ done")
	a.setTail("BX")
	invC()
	p("\tVMOVSS eps+48(FP), X9")
	p("\tVXORPS X11, X11, X11")
	p("\tVBROADCASTSS mul+52(FP), %s", a.r(5))
	p("row:")
	// Pass 1: the sum.
	a.zero(0)
	a.zero(1)
	a.cols("p1", 2, func(o, i int, tail bool) {
		if tail {
			a.load(ix(o, "SI"), 6, true)
			p("\tVADDPS %s, %s, %s", a.r(6), a.r(0), a.r(0))
			return
		}
		p("\tVADDPS %s, %s, %s", ix(o, "SI"), a.r(i), a.r(i))
	})
	p("\tVADDPS %s, %s, %s", a.r(1), a.r(0), a.r(0))
	a.hsum(0, 14)
	p("\tVMULSS X8, X0, X2") // m0
	a.bcast(2, 2)
	// Pass 2: sums of d = x - m0 and d².
	a.zero(0)
	a.zero(1)
	a.cols("p2", 2, func(o, i int, tail bool) {
		t := 6 + 6*i
		a.load(ix(o, "SI"), t, tail)
		p("\tVSUBPS %s, %s, %s", a.r(2), a.r(t), a.r(t))
		if tail {
			a.zeroTail(t)
		}
		p("\tVADDPS %s, %s, %s", a.r(t), a.r(0), a.r(0))
		p("\tVFMADD231PS %s, %s, %s", a.r(t), a.r(t), a.r(1))
	})
	a.hsum(0, 14)
	a.hsum(1, 14)
	p("\tVMULSS X8, X0, X0")       // m1
	p("\tVMULSS X8, X1, X1")       // sum(d²)/c
	p("\tVFNMADD231SS X0, X0, X1") // - m1²
	p("\tVMAXSS X1, X11, X1")      // >= 0, NaN kept
	p("\tVADDSS X9, X1, X1")
	p("\tVSQRTSS X1, X1, X1")
	p("\tVDIVSS X1, X10, X3") // rstd
	p("\tTESTQ $1, flags+72(FP)")
	p("\tJZ nostats")
	p("\tVADDSS X0, X2, X4") // mean = m0 + m1
	p("\tVMOVSS X4, (R9)")
	p("\tVMOVSS X3, (R14)")
	p("\tADDQ $4, R9")
	p("\tADDQ $4, R14")
	p("nostats:")
	p("\tVMULSS X3, X0, X4") // m1*rstd
	a.bcast(3, 3)
	a.bcast(4, 4)
	// Pass 3: normalise, scale, shift; store or add.
	pass3 := func(name string, add bool) {
		a.cols(name, 2, func(o, i int, tail bool) {
			t, g := 6+6*i, 7+6*i
			a.load(ix(o, "SI"), t, tail)
			p("\tVSUBPS %s, %s, %s", a.r(2), a.r(t), a.r(t))
			p("\tVFMSUB213PS %s, %s, %s", a.r(4), a.r(3), a.r(t)) // d*rstd - m1*rstd
			a.load(ix(o, "R10"), g, tail)
			if tail {
				a.load(ix(o, "R11"), 12, true)
				p("\tVFMADD213PS %s, %s, %s", a.r(12), a.r(g), a.r(t))
			} else {
				p("\tVFMADD213PS %s, %s, %s", ix(o, "R11"), a.r(g), a.r(t))
			}
			if add {
				a.load(ix(o, "DI"), g, tail)
				p("\tVFMADD231PS %s, %s, %s", a.r(t), a.r(5), a.r(g)) // t += mul*y
				a.put(g, o, "DI", tail)
			} else {
				a.put(t, o, "DI", tail)
			}
		})
	}
	p("\tTESTQ $2, flags+72(FP)")
	p("\tJNZ add")
	pass3("p3", false)
	p("\tJMP next")
	p("add:")
	pass3("p3a", true)
	p("next:")
	p("\tLEAQ (SI)(BX*4), SI")
	p("\tLEAQ (DI)(BX*4), DI")
	p("\tDECQ R8")
	p("\tJNZ row")
	ret()
}

// ---------------------------------------------------------------------------------------------
// LayerNorm backward (input gradient).

// genLNBwd: for each row, with g = dy*gamma and xh = (x - mean)*rstd,
//
//	a = sum(g)/c; b = sum(g*xh)/c; dx (+)= rstd*(g - (xh*b + a))
//
// Registers: V0, V1 the sums, V2 mean, V3 rstd, V4 a, V5 b, temporaries V6, V7, V12-V14; X8
// 1/c; DI dx, SI dy, R10 x, R11 gamma, R9 mean, R14 rstd, R8 rows left, BX c.
func genLNBwd(a *visa) {
	name := "lnBwd" + a.sfx
	p("")
	p("// func %s(dx, dy, x *float32, m, c int, gamma, mean, rstd *float32, flags int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	p("\tMOVQ dx+0(FP), DI")
	p("\tMOVQ dy+8(FP), SI")
	p("\tMOVQ x+16(FP), R10")
	p("\tMOVQ m+24(FP), R8")
	p("\tMOVQ c+32(FP), BX")
	p("\tMOVQ gamma+40(FP), R11")
	p("\tMOVQ mean+48(FP), R9")
	p("\tMOVQ rstd+56(FP), R14")
	p("\tTESTQ R8, R8")
	p("\tJZ done")
	p("\tTESTQ BX, BX")
	p("\tJZ done")
	a.setTail("BX")
	invC()
	// gxh loads g = dy*gamma into t and xh into u.
	gxh := func(o, t, u int, tail bool) {
		a.load(ix(o, "SI"), t, tail)
		if tail {
			a.load(ix(o, "R11"), u, true)
			p("\tVMULPS %s, %s, %s", a.r(u), a.r(t), a.r(t))
		} else {
			p("\tVMULPS %s, %s, %s", ix(o, "R11"), a.r(t), a.r(t))
		}
		a.load(ix(o, "R10"), u, tail)
		p("\tVSUBPS %s, %s, %s", a.r(2), a.r(u), a.r(u))
		p("\tVMULPS %s, %s, %s", a.r(3), a.r(u), a.r(u))
	}
	p("row:")
	p("\tVBROADCASTSS (R9), %s", a.r(2))
	p("\tVBROADCASTSS (R14), %s", a.r(3))
	a.zero(0)
	a.zero(1)
	a.cols("p1", 2, func(o, i int, tail bool) {
		t, u := 6+6*i, 7+6*i
		gxh(o, t, u, tail) // g is 0 past the tail, so are both terms
		p("\tVADDPS %s, %s, %s", a.r(t), a.r(0), a.r(0))
		p("\tVFMADD231PS %s, %s, %s", a.r(u), a.r(t), a.r(1))
	})
	a.hsum(0, 14)
	a.hsum(1, 14)
	p("\tVMULSS X8, X0, X0")
	p("\tVMULSS X8, X1, X1")
	a.bcast(0, 4)
	a.bcast(1, 5)
	pass2 := func(name string, acc bool) {
		a.cols(name, 2, func(o, i int, tail bool) {
			t, u := 6+6*i, 7+6*i
			gxh(o, t, u, tail)
			p("\tVFMADD213PS %s, %s, %s", a.r(4), a.r(5), a.r(u)) // xh*b + a
			p("\tVSUBPS %s, %s, %s", a.r(u), a.r(t), a.r(t))
			if acc {
				a.load(ix(o, "DI"), u, tail)
				p("\tVFMADD231PS %s, %s, %s", a.r(t), a.r(3), a.r(u))
				a.put(u, o, "DI", tail)
			} else {
				p("\tVMULPS %s, %s, %s", a.r(3), a.r(t), a.r(t))
				a.put(t, o, "DI", tail)
			}
		})
	}
	p("\tTESTQ $1, flags+64(FP)")
	p("\tJNZ acc")
	pass2("p2", false)
	p("\tJMP next")
	p("acc:")
	pass2("p2a", true)
	p("next:")
	p("\tLEAQ (SI)(BX*4), SI")
	p("\tLEAQ (DI)(BX*4), DI")
	p("\tLEAQ (R10)(BX*4), R10")
	p("\tADDQ $4, R9")
	p("\tADDQ $4, R14")
	p("\tDECQ R8")
	p("\tJNZ row")
	ret()
}

// ---------------------------------------------------------------------------------------------
// L2 normalisation of head slices.

// genL2Heads: for each of m rows (stride ld) and each of its nh slices of d values:
// nrm = sqrt(sum(x²)), x *= 1/max(nrm, 1e-12), norms (if not nil) gets nrm. Registers: V0 the
// sum, V1 the factor, V6 temporary; X9 1e-12, X10 1; DI row, R10 slice, R11 slices left, R9 ld,
// R8 rows left, BX d, R14 norms.
func genL2Heads(a *visa) {
	name := "l2Heads" + a.sfx
	p("")
	p("// func %s(x *float32, ld uintptr, m, nh, d int, norms *float32)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	p("\tMOVQ x+0(FP), DI")
	p("\tMOVQ ld+8(FP), R9")
	p("\tMOVQ m+16(FP), R8")
	p("\tMOVQ d+32(FP), BX")
	p("\tMOVQ norms+40(FP), R14")
	p("\tTESTQ R8, R8")
	p("\tJZ done")
	p("\tTESTQ BX, BX")
	p("\tJZ done")
	p("\tCMPQ nh+24(FP), $0")
	p("\tJLE done")
	a.setTail("BX")
	p("\tVMOVSS %s, X9", mem("eps12"))
	p("\tVMOVSS %s, X10", mem("one"))
	p("row:")
	p("\tMOVQ DI, R10")
	p("\tMOVQ nh+24(FP), R11")
	p("head:")
	a.zero(0)
	a.cols("h1", 1, func(o, i int, tail bool) {
		a.load(ix(o, "R10"), 6, tail)
		p("\tVFMADD231PS %s, %s, %s", a.r(6), a.r(6), a.r(0))
	})
	a.hsum(0, 14)
	p("\tVSQRTSS X0, X0, X0")
	p("\tTESTQ R14, R14")
	p("\tJZ nonorm")
	p("\tVMOVSS X0, (R14)")
	p("\tADDQ $4, R14")
	p("nonorm:")
	p("\tVMAXSS X0, X9, X1") // NaN kept
	p("\tVDIVSS X1, X10, X1")
	a.bcast(1, 1)
	a.cols("h2", 1, func(o, i int, tail bool) {
		a.load(ix(o, "R10"), 6, tail)
		p("\tVMULPS %s, %s, %s", a.r(1), a.r(6), a.r(6))
		a.put(6, o, "R10", tail)
	})
	p("\tLEAQ (R10)(BX*4), R10")
	p("\tDECQ R11")
	p("\tJNZ head")
	p("\tADDQ R9, DI")
	p("\tDECQ R8")
	p("\tJNZ row")
	ret()
}

// ---------------------------------------------------------------------------------------------
// Softmax backward.

// genSmBwd: ds = p*(dp - D[i]) on m rows of n (stride ld, shared by ds, p, dp); with flags&1
// also acc += ds (acc row stride ldacc). Registers: V2 D[i], temporaries V6-V13; DI ds, SI p,
// R10 dp, R11 D, R14 acc, R9 ld, AX ldacc, R8 rows left, BX n.
func genSmBwd(a *visa) {
	name := "smBwd" + a.sfx
	unroll := 4
	p("")
	p("// func %s(ds, p, dp *float32, ld uintptr, m, n int, D, acc *float32, ldacc uintptr, flags int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-80", name)
	p("\tMOVQ ds+0(FP), DI")
	p("\tMOVQ p+8(FP), SI")
	p("\tMOVQ dp+16(FP), R10")
	p("\tMOVQ ld+24(FP), R9")
	p("\tMOVQ m+32(FP), R8")
	p("\tMOVQ n+40(FP), BX")
	p("\tMOVQ D+48(FP), R11")
	p("\tMOVQ acc+56(FP), R14")
	p("\tMOVQ ldacc+64(FP), AX")
	p("\tTESTQ R8, R8")
	p("\tJZ done")
	p("\tTESTQ BX, BX")
	p("\tJZ done")
	a.setTail("BX")
	rows := func(name string, acc bool) {
		p("%s:", name)
		p("\tVBROADCASTSS (R11), %s", a.r(2))
		a.cols(name+"c", unroll, func(o, i int, tail bool) {
			t, u := 6+2*i, 7+2*i
			a.load(ix(o, "R10"), t, tail)
			p("\tVSUBPS %s, %s, %s", a.r(2), a.r(t), a.r(t))
			if tail {
				a.load(ix(o, "SI"), u, true)
				p("\tVMULPS %s, %s, %s", a.r(u), a.r(t), a.r(t))
			} else {
				p("\tVMULPS %s, %s, %s", ix(o, "SI"), a.r(t), a.r(t))
			}
			if acc {
				a.load(ix(o, "R14"), u, tail)
				p("\tVADDPS %s, %s, %s", a.r(t), a.r(u), a.r(u))
				a.put(u, o, "R14", tail)
			}
			a.put(t, o, "DI", tail)
		})
		p("\tADDQ R9, DI")
		p("\tADDQ R9, SI")
		p("\tADDQ R9, R10")
		p("\tADDQ $4, R11")
		if acc {
			p("\tADDQ AX, R14")
		}
		p("\tDECQ R8")
		p("\tJNZ %s", name)
	}
	p("\tTESTQ $1, flags+72(FP)")
	p("\tJNZ arow")
	rows("row", false)
	p("\tJMP done")
	rows("arow", true)
	ret()
}

// ---------------------------------------------------------------------------------------------
// Row dot products.

// genRowDots: D[i] = sum_c a[i][c]*b[i][c] for m rows of d values (strides lda, ldb).
// Registers: V0 the sum, V6, V7 temporaries; DI D, SI a row, R10 b row, R9 lda, R11 ldb, R8
// rows left, BX d.
func genRowDots(a *visa) {
	name := "rowDots" + a.sfx
	p("")
	p("// func %s(D, a, b *float32, lda, ldb uintptr, m, d int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	p("\tMOVQ D+0(FP), DI")
	p("\tMOVQ a+8(FP), SI")
	p("\tMOVQ b+16(FP), R10")
	p("\tMOVQ lda+24(FP), R9")
	p("\tMOVQ ldb+32(FP), R11")
	p("\tMOVQ m+40(FP), R8")
	p("\tMOVQ d+48(FP), BX")
	p("\tTESTQ R8, R8")
	p("\tJZ done")
	p("\tTESTQ BX, BX")
	p("\tJZ zeros")
	a.setTail("BX")
	p("row:")
	a.zero(0)
	a.cols("d", 1, func(o, i int, tail bool) {
		a.load(ix(o, "SI"), 6, tail)
		if tail {
			a.load(ix(o, "R10"), 7, true)
			p("\tVFMADD231PS %s, %s, %s", a.r(7), a.r(6), a.r(0))
		} else {
			p("\tVFMADD231PS %s, %s, %s", ix(o, "R10"), a.r(6), a.r(0))
		}
	})
	a.hsum(0, 14)
	p("\tVMOVSS X0, (DI)")
	p("\tADDQ $4, DI")
	p("\tADDQ R9, SI")
	p("\tADDQ R11, R10")
	p("\tDECQ R8")
	p("\tJNZ row")
	p("\tJMP done")
	// d = 0: empty sums.
	p("zeros:")
	p("\tMOVL $0, (DI)")
	p("\tADDQ $4, DI")
	p("\tDECQ R8")
	p("\tJNZ zeros")
	ret()
}

// ---------------------------------------------------------------------------------------------
// GELU'.

// GELU'(x) = Phi(x) + x*phi(x): Phi as in GELU (h = Phi(-|x|) = exp(-z²/2)*S(u), Phi(x) = h for
// x < 0, 1 - h otherwise), phi(x) = exp(-z²/2)/sqrt(2π) from the same exponential. x is
// clamped to [-20, 20] first (NaN kept), so that GELU'(±Inf) = 1 or 0 rather than Inf*0.
//
// Phi itself must be accurate near x = 0 (GELU multiplies its error by x, GELU' does not):
// u = alpha/(1 + p*z) + beta loses up to 3 ulp to the cancellation at z ~ 0 (u ~ 1, the
// error of 1/(1 + p*z) times alpha = 2.8), which makes 2.9e-7 in Phi. Here
// u = (1 + gq*z)/(1 + p*z), gq = beta*p (alpha + beta = 1), the same function without the
// cancellation, as a quotient refined by one Newton step (AVX-512) or VDIVPS (AVX2).

func genGELUBwd512() {
	p("")
	p("// func geluBwdAVX512(dx, x *float32, n int)")
	p("TEXT ·geluBwdAVX512(SB), NOSPLIT, $0-24")
	p("\tMOVQ dx+0(FP), DI")
	p("\tMOVQ x+8(FP), SI")
	p("\tMOVQ n+16(FP), BX")
	tailMask512()
	loadExpConsts512(expFlush)
	g := map[string]string{"gxlo": "Z19", "gzhi": "Z18", "gp": "Z17", "gq": "Z16",
		"mhalf": "Z14", "invsqrt2pi": "Z12", "absmask": "Z10"}
	for _, n := range []string{"gxlo", "gzhi", "gp", "gq", "mhalf", "invsqrt2pi", "absmask"} {
		p("\tVBROADCASTSS %s, %s", mem(n), g[n])
	}
	p("\tVPXORD Z11, Z11, Z11")
	p("\tMOVQ BX, CX")
	loop("gb", 16, 1, []string{"SI", "DI"}, func(o, i int, tail bool) {
		const x, z, d, t, s, a, k, e, h, dx, q = "Z0", "Z1", "Z2", "Z3", "Z4", "Z5", "Z6", "Z7", "Z8", "Z9", "Z15"
		if tail {
			p("\tVMOVUPS.Z %s, K1, %s", off(o, "SI"), x)
		} else {
			p("\tVMOVUPS %s, %s", off(o, "SI"), x)
		}
		p("\tVMAXPS %s, %s, %s", x, g["gxlo"], x) // x in [-20, 20], NaN kept
		p("\tVMINPS %s, %s, %s", x, g["gzhi"], x)
		p("\tVPANDD %s, %s, %s", g["absmask"], x, z) // z = |x|
		p("\tVMOVAPS %s, %s", zc["one"], d)
		p("\tVFMADD231PS %s, %s, %s", z, g["gp"], d) // d = 1 + p*z
		p("\tVMOVAPS %s, %s", zc["one"], s)
		p("\tVFMADD231PS %s, %s, %s", z, g["gq"], s) // s = 1 + gq*z
		p("\tVRCP14PS %s, %s", d, q)
		p("\tVMULPS %s, %s, %s", s, q, t)       // t = s/d to 14 bits
		p("\tVFNMADD231PS %s, %s, %s", t, d, s) // s = s - d*t, the residual
		p("\tVFMADD231PS %s, %s, %s", s, q, t)  // u = t + s/d
		p("\tVBROADCASTSS %s, %s", mem("s9"), s)
		for j := 8; j >= 0; j-- {
			p("\tVFMADD213PS.BCST %s, %s, %s", mem(fmt.Sprintf("s%d", j)), t, s)
		}
		p("\tVMULPS %s, %s, %s", g["mhalf"], z, a)
		p("\tVMULPS %s, %s, %s", z, a, a) // a = -z*z/2
		exp512(a, k, e, expFlush, "K3")
		p("\tVMULPS %s, %s, %s", s, e, h)         // h = Phi(-|x|)
		p("\tVPCMPD $1, Z11, %s, K2", x)          // K2: x < 0 (sign bit set)
		p("\tVSUBPS %s, %s, %s", h, zc["one"], s) // s = 1 - h
		p("\tVMOVAPS %s, K2, %s", h, s)           // s = Phi(x)
		p("\tVMULPS %s, %s, %s", g["invsqrt2pi"], e, e)
		p("\tVFMADD231PS %s, %s, %s", e, x, s) // s = Phi(x) + x*phi(x)
		if tail {
			p("\tVMOVUPS.Z %s, K1, %s", off(o, "DI"), dx)
			p("\tVMULPS %s, %s, %s", dx, s, s)
			p("\tVMOVUPS %s, K1, %s", s, off(o, "DI"))
		} else {
			p("\tVMULPS %s, %s, %s", off(o, "DI"), s, s)
			p("\tVMOVUPS %s, %s", s, off(o, "DI"))
		}
	})
	p("\tVZEROUPPER")
	p("\tRET")
}

func genGELUBwd256() {
	p("")
	p("// func geluBwdAVX2(dx, x *float32, n int)")
	p("TEXT ·geluBwdAVX2(SB), NOSPLIT, $0-24")
	p("\tMOVQ dx+0(FP), DI")
	p("\tMOVQ x+8(FP), SI")
	p("\tMOVQ n+16(FP), BX")
	tailMask256()
	p("\tMOVQ BX, CX")
	loop("gb", 8, 1, []string{"SI", "DI"}, func(o, i int, tail bool) {
		const x, z, d, t, s, a, k, e, c, h = "Y0", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Y8", "Y9"
		if tail {
			p("\tVMASKMOVPS %s, Y15, %s", off(o, "SI"), x)
		} else {
			p("\tVMOVUPS %s, %s", off(o, "SI"), x)
		}
		p("\tVBROADCASTSS %s, %s", mem("gxlo"), c)
		p("\tVMAXPS %s, %s, %s", x, c, x)
		p("\tVBROADCASTSS %s, %s", mem("gzhi"), c)
		p("\tVMINPS %s, %s, %s", x, c, x)
		p("\tVANDPS %s, %s, %s", mem("absmask"), x, z)
		p("\tVMOVUPS %s, %s", mem("one"), c)
		p("\tVMOVAPS %s, %s", c, d)
		p("\tVFMADD231PS %s, %s, %s", mem("gp"), z, d) // d = 1 + p*z
		p("\tVMOVAPS %s, %s", c, t)
		p("\tVFMADD231PS %s, %s, %s", mem("gq"), z, t) // t = 1 + gq*z
		p("\tVDIVPS %s, %s, %s", d, t, t)              // u = t/d
		p("\tVMOVUPS %s, %s", mem("s9"), s)
		for j := 8; j >= 0; j-- {
			p("\tVFMADD213PS %s, %s, %s", mem(fmt.Sprintf("s%d", j)), t, s)
		}
		p("\tVMULPS %s, %s, %s", mem("mhalf"), z, a)
		p("\tVMULPS %s, %s, %s", z, a, a)
		exp256(a, k, d, c, e, expFlush)
		p("\tVMULPS %s, %s, %s", s, e, h) // h = Phi(-|x|)
		p("\tVMOVUPS %s, %s", mem("one"), s)
		p("\tVSUBPS %s, %s, %s", h, s, s)           // 1 - h
		p("\tVBLENDVPS %s, %s, %s, %s", x, h, s, s) // sign of x ? h : 1-h
		p("\tVMULPS %s, %s, %s", mem("invsqrt2pi"), e, e)
		p("\tVFMADD231PS %s, %s, %s", e, x, s) // Phi(x) + x*phi(x)
		if tail {
			p("\tVMASKMOVPS %s, Y15, Y10", off(o, "DI"))
			p("\tVMULPS Y10, %s, %s", s, s)
			p("\tVMASKMOVPS %s, Y15, %s", s, off(o, "DI"))
		} else {
			p("\tVMULPS %s, %s, %s", off(o, "DI"), s, s)
			p("\tVMOVUPS %s, %s", s, off(o, "DI"))
		}
	})
	p("\tVZEROUPPER")
	p("\tRET")
}

// ---------------------------------------------------------------------------------------------
// Column sums and LayerNorm parameter gradients: float64 accumulators in registers. One call
// reads m rows (stride ld bytes) of one block of cols columns, cols <= kmax vectors of 8
// (AVX-512) or 4 (AVX2) float64 lanes; the code for k = ceil(cols/lanes) vectors is chosen by
// a chain of compares (a call through a table of functions would make the caller's
// accumulators escape to the heap). The last vector of the block is read under a lane mask
// (K2, or X15 for VMASKMOVPS; all lanes when the block is whole). The accumulators are loaded
// from and stored back to memory whole (k*lanes float64: the caller pads them).

// genBlocks emits function name (Go arguments args, argBytes of them, the last one cols) with
// one body per k in 1..kmax. The body (prefix for its labels) finds the arguments in
// registers: see colSums512 and lnPG512.
func genBlocks(name, args string, argBytes, kmax int, avx512 bool, body func(k int, pre string)) {
	p("")
	p("// func %s(%s)", name, args)
	p("TEXT ·%s(SB), NOSPLIT, $0-%d", name, argBytes)
	p("\tMOVQ cols+%d(FP), CX", argBytes-8)
	lanes := 4
	if avx512 {
		lanes = 8
	}
	// AX = k = ceil(cols/lanes), CX = the columns of the last vector.
	p("\tLEAQ %d(CX), AX", lanes-1)
	p("\tSHRQ $%d, AX", map[int]int{4: 2, 8: 3}[lanes])
	p("\tLEAQ -1(AX), DX")
	p("\tSHLQ $%d, DX", map[int]int{4: 2, 8: 3}[lanes])
	p("\tSUBQ DX, CX")
	if avx512 {
		p("\tMOVL $1, DX")
		p("\tSHLL CX, DX")
		p("\tDECL DX")
		p("\tKMOVW DX, K2")
	} else {
		p("\tSHLQ $2, CX")
		p("\tLEAQ tailmask<>+32(SB), DX")
		p("\tSUBQ CX, DX")
		p("\tVMOVDQU (DX), X15")
	}
	for k := 1; k <= kmax; k++ {
		p("\tCMPQ AX, $%d", k)
		p("\tJEQ k%d", k)
	}
	p("\tRET")
	for k := 1; k <= kmax; k++ {
		p("k%d:", k)
		body(k, fmt.Sprintf("k%d", k))
		p("\tVZEROUPPER")
		p("\tRET")
	}
}

// colSums512: acc[j] += src[i][j] for the block. DI acc, SI src row, R9 ld, R8 rows left;
// Z0-Z15 accumulators, Z16-Z31 temporaries.
func colSums512(k int, pre string) {
	p("\tMOVQ acc+0(FP), DI")
	p("\tMOVQ src+8(FP), SI")
	p("\tMOVQ ld+16(FP), R9")
	p("\tMOVQ m+24(FP), R8")
	for j := 0; j < k; j++ {
		p("\tVMOVUPD %s, Z%d", off(64*j, "DI"), j)
	}
	p("\tTESTQ R8, R8")
	p("\tJZ %sstore", pre)
	p("%srow:", pre)
	for j := 0; j < k; j++ {
		t := 16 + j
		if j == k-1 {
			p("\tVCVTPS2PD.Z %s, K2, Z%d", off(32*j, "SI"), t)
		} else {
			p("\tVCVTPS2PD %s, Z%d", off(32*j, "SI"), t)
		}
		p("\tVADDPD Z%d, Z%d, Z%d", t, j, j)
	}
	p("\tADDQ R9, SI")
	p("\tDECQ R8")
	p("\tJNZ %srow", pre)
	p("%sstore:", pre)
	for j := 0; j < k; j++ {
		p("\tVMOVUPD Z%d, %s", j, off(64*j, "DI"))
	}
}

// colSums256: as colSums512 with vectors of 4 float64: Y0-Y11 accumulators, Y12-Y14
// temporaries, X15 the mask of the last vector.
func colSums256(k int, pre string) {
	p("\tMOVQ acc+0(FP), DI")
	p("\tMOVQ src+8(FP), SI")
	p("\tMOVQ ld+16(FP), R9")
	p("\tMOVQ m+24(FP), R8")
	for j := 0; j < k; j++ {
		p("\tVMOVUPD %s, Y%d", off(32*j, "DI"), j)
	}
	p("\tTESTQ R8, R8")
	p("\tJZ %sstore", pre)
	p("%srow:", pre)
	for j := 0; j < k; j++ {
		t := 12 + j%3
		if j == k-1 {
			p("\tVMASKMOVPS %s, X15, X%d", off(16*j, "SI"), t)
			p("\tVCVTPS2PD X%d, Y%d", t, t)
		} else {
			p("\tVCVTPS2PD %s, Y%d", off(16*j, "SI"), t)
		}
		p("\tVADDPD Y%d, Y%d, Y%d", t, j, j)
	}
	p("\tADDQ R9, SI")
	p("\tDECQ R8")
	p("\tJNZ %srow", pre)
	p("%sstore:", pre)
	for j := 0; j < k; j++ {
		p("\tVMOVUPD Y%d, %s", j, off(32*j, "DI"))
	}
}

// lnPG512: row by row, xh = (x - mean)*rstd in float64, accg = fma(dy, xh, accg), accb += dy.
// Z0-Z7 accg, Z8-Z15 accb, Z16 mean, Z17 rstd, temporaries Z18-Z31; DI accg, R11 accb, SI dy
// row, R10 x row, R9 ld, BX mean, R14 rstd, R8 rows left.
func lnPG512(k int, pre string) {
	lnPGArgs()
	for j := 0; j < k; j++ {
		p("\tVMOVUPD %s, Z%d", off(64*j, "DI"), j)
		p("\tVMOVUPD %s, Z%d", off(64*j, "R11"), 8+j)
	}
	p("\tTESTQ R8, R8")
	p("\tJZ %sstore", pre)
	p("%srow:", pre)
	p("\tVBROADCASTSS (BX), Z16")
	p("\tVCVTPS2PD Y16, Z16")
	p("\tVBROADCASTSS (R14), Z17")
	p("\tVCVTPS2PD Y17, Z17")
	for j := 0; j < k; j++ {
		d, x := 18+2*(j%7), 19+2*(j%7)
		if j == k-1 {
			p("\tVCVTPS2PD.Z %s, K2, Z%d", off(32*j, "SI"), d)
			p("\tVCVTPS2PD.Z %s, K2, Z%d", off(32*j, "R10"), x)
		} else {
			p("\tVCVTPS2PD %s, Z%d", off(32*j, "SI"), d)
			p("\tVCVTPS2PD %s, Z%d", off(32*j, "R10"), x)
		}
		p("\tVSUBPD Z16, Z%d, Z%d", x, x)
		p("\tVMULPD Z17, Z%d, Z%d", x, x)
		p("\tVFMADD231PD Z%d, Z%d, Z%d", x, d, j)
		p("\tVADDPD Z%d, Z%d, Z%d", d, 8+j, 8+j)
	}
	lnPGNext(pre)
	for j := 0; j < k; j++ {
		p("\tVMOVUPD Z%d, %s", j, off(64*j, "DI"))
		p("\tVMOVUPD Z%d, %s", 8+j, off(64*j, "R11"))
	}
}

// lnPG256: as lnPG512 with vectors of 4: Y0-Y4 accg, Y5-Y9 accb, Y10 mean, Y11 rstd, Y12, Y13
// temporaries, X15 the mask of the last vector.
func lnPG256(k int, pre string) {
	lnPGArgs()
	for j := 0; j < k; j++ {
		p("\tVMOVUPD %s, Y%d", off(32*j, "DI"), j)
		p("\tVMOVUPD %s, Y%d", off(32*j, "R11"), 5+j)
	}
	p("\tTESTQ R8, R8")
	p("\tJZ %sstore", pre)
	p("%srow:", pre)
	p("\tVBROADCASTSS (BX), X10")
	p("\tVCVTPS2PD X10, Y10")
	p("\tVBROADCASTSS (R14), X11")
	p("\tVCVTPS2PD X11, Y11")
	for j := 0; j < k; j++ {
		if j == k-1 {
			p("\tVMASKMOVPS %s, X15, X12", off(16*j, "SI"))
			p("\tVCVTPS2PD X12, Y12")
			p("\tVMASKMOVPS %s, X15, X13", off(16*j, "R10"))
			p("\tVCVTPS2PD X13, Y13")
		} else {
			p("\tVCVTPS2PD %s, Y12", off(16*j, "SI"))
			p("\tVCVTPS2PD %s, Y13", off(16*j, "R10"))
		}
		p("\tVSUBPD Y10, Y13, Y13")
		p("\tVMULPD Y11, Y13, Y13")
		p("\tVFMADD231PD Y13, Y12, Y%d", j)
		p("\tVADDPD Y12, Y%d, Y%d", 5+j, 5+j)
	}
	lnPGNext(pre)
	for j := 0; j < k; j++ {
		p("\tVMOVUPD Y%d, %s", j, off(32*j, "DI"))
		p("\tVMOVUPD Y%d, %s", 5+j, off(32*j, "R11"))
	}
}

func lnPGArgs() {
	p("\tMOVQ accg+0(FP), DI")
	p("\tMOVQ accb+8(FP), R11")
	p("\tMOVQ dy+16(FP), SI")
	p("\tMOVQ x+24(FP), R10")
	p("\tMOVQ ld+32(FP), R9")
	p("\tMOVQ m+40(FP), R8")
	p("\tMOVQ mean+48(FP), BX")
	p("\tMOVQ rstd+56(FP), R14")
}

// lnPGNext ends the row loop of lnPG512 and lnPG256; the store follows.
func lnPGNext(pre string) {
	p("\tADDQ R9, SI")
	p("\tADDQ R9, R10")
	p("\tADDQ $4, BX")
	p("\tADDQ $4, R14")
	p("\tDECQ R8")
	p("\tJNZ %srow", pre)
	p("%sstore:", pre)
}
