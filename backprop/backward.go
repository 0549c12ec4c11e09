package backprop

import (
	"fmt"
	"math"

	"github.com/grformer/grformer/internal/gemm"
	"github.com/grformer/grformer/internal/kernels"
	"github.com/grformer/grformer/internal/par"
	"github.com/grformer/grformer/internal/vmath"
	"github.com/grformer/grformer/model"
)

// windowChunk is how many windows share one partial sum of the position-bias
// gradient; partial sums are added in chunk order, so gradients do not
// depend on the number of goroutines.
const windowChunk = 16

// backward computes the mean L1 loss against target and every gradient
// (accumulated into Param.Grad), and the input gradient (InputGrad).
func (n *Net) backward(target []float32) (float64, error) {
	a := n.acts
	if a == nil || a.out == nil {
		return 0, errNoForward
	}
	if len(target) != len(a.out) {
		return 0, fmt.Errorf("backprop: target has %d values, the output %d", len(target), len(a.out))
	}
	cfg := n.cfg
	c, C, s := cfg.InChans, cfg.EmbedDim, cfg.Scale
	N, H, W, hp, wp := a.N, a.H, a.W, a.hp, a.wp
	P := hp * wp
	M := N * P
	th := n.threads()

	// Loss = mean |out - target|; d/dout = sign(out - target) / count.
	var loss float64
	count := float64(len(a.out))
	for i, v := range a.out {
		d := float64(v) - float64(target[i])
		if n.squaredLoss {
			loss += d * d
		} else {
			loss += math.Abs(d)
		}
	}
	loss /= count
	cs := c * s * s
	dup := n.zbuf("dup", M*cs)
	oh, ow := H*s, W*s
	g := float32(1 / count / float64(cfg.ImgRange))
	for img := range N {
		for ch := range c {
			for oy := range oh {
				for ox := range ow {
					i := ((img*c+ch)*oh+oy)*ow + ox
					d := a.out[i] - target[i]
					var sg float32
					switch {
					case n.squaredLoss:
						sg = 2 * d * g
					case d > 0:
						sg = g
					case d < 0:
						sg = -g
					}
					dup[(img*P+(oy/s)*wp+ox/s)*cs+ch*s*s+(oy%s)*s+ox%s] = sg
				}
			}
		}
	}
	// Step 6: upsample conv; step 5: y = conv_after_body(tn) + f0.
	dy := n.zbuf("dy", M*C)
	n.upsample.bwd(dy, dup, a.Y, N, hp, wp, th)
	dtn := n.zbuf("dtn", M*C)
	n.convAfter.bwd(dtn, dy, a.Norm, N, hp, wp, th)
	dt := n.buf("dt", M*C)
	lnBwd(dt, dtn, a.Body, M, C, n.normW.Data, a.NormMean, a.NormRstd, n.normW.Grad, n.normB.Grad, false, th)

	sc := n.bwdScratch(M, C, cfg.Hidden())
	for g := len(n.groups) - 1; g >= 0; g-- {
		// t_out = t_b + conv(t_b): dt_b = dt + conv^T(dt).
		copy(sc.c1, dt)
		n.groups[g].conv.bwd(sc.c1, dt, a.GroupOut[g], N, hp, wp, th)
		copy(dt, sc.c1)
		for i := len(n.groups[g].blocks) - 1; i >= 0; i-- {
			n.blockBwd(dt, a, n.groups[g].blocks[i], &a.Blocks[g][i], sc, th)
		}
	}
	// f0 feeds both the body and the residual of step 5.
	addInto(dt, dy, th)
	dxp := n.zbuf("dxp", M*c)
	n.convFirst.bwd(dxp, dt, a.X, N, hp, wp, th)
	// Steps 1-2: the padded pixels' gradients flow back to their mirror
	// sources; the normalisation scales by img_range.
	n.inputGrad = make([]float32, N*c*H*W)
	for img := range N {
		for y := range hp {
			sy := kernels.ReflectIndex(y, H)
			for x := range wp {
				sx := kernels.ReflectIndex(x, W)
				for ch := range c {
					n.inputGrad[((img*c+ch)*H+sy)*W+sx] += dxp[(img*P+y*wp+x)*c+ch] * cfg.ImgRange
				}
			}
		}
	}
	return loss, nil
}

// InputGrad returns dLoss/dinput (NCHW) of the last Step.
func (n *Net) InputGrad() []float32 { return n.inputGrad }

// bwdScratch holds the backward pass's temporary buffers, shared by blocks.
type bwdScratch struct {
	c1, c2, c3, dq, dk, dv []float32 // [M*C]
	h1, h2                 []float32 // [M*hid]
	dqkv                   []float32
}

func (n *Net) bwdScratch(M, C, hid int) *bwdScratch {
	return &bwdScratch{c1: n.buf("c1", M*C), c2: n.buf("c2", M*C), c3: n.buf("c3", M*C),
		dq: n.buf("dq", M*C), dk: n.buf("dk", M*C), dv: n.buf("dv", M*C),
		h1: n.buf("h1", M*hid), h2: n.buf("h2", M*hid)}
}

// blockBwd turns dt, the gradient of block b's output, into the gradient of
// its input, accumulating the block's parameter gradients.
func (n *Net) blockBwd(dt []float32, a *activations, b *blk, ba *model.BlockSave, sc *bwdScratch, th int) {
	cfg := n.cfg
	C, hid, half := cfg.EmbedDim, cfg.Hidden(), cfg.EmbedDim/2
	N, hp, wp := a.N, a.hp, a.wp
	P := hp * wp
	M := N * P

	// t2 = t1 + m2*norm2(f).
	dln, df := sc.c1, sc.c2
	scaleRows(dln, dt, ba.Mul2, P, C, th)
	lnBwd(df, dln, ba.F, M, C, b.norm2W.Data, ba.LN2Mean, ba.LN2Rstd, b.norm2W.Grad, b.norm2B.Grad, false, th)

	// Recompute g1 = GELU(u1), g2 = GELU(d1), u2 = g1 + dw2(g2) as the
	// forward pass computed them.
	dw1p, dw2p := b.mb.DepthwiseWeights()
	geluInto(a.g1, ba.U1, th)
	geluInto(a.g2, ba.D1, th)
	copy(a.u2, a.g1)
	model.Depthwise(a.u2, a.g2, N, hp, wp, hid, dw2p, b.dw2B.Data, true, th)
	// f = fc2(u2).
	du2 := sc.h1
	linearBwd(du2, hid, df, C, a.u2, hid, b.fc2.w.Data, b.fc2.w.Grad, b.fc2.b.Grad, M, hid, C, false, th)
	// u2 = g1 + dw2(g2): dg1 = du2, dg2 = dw2^T(du2).
	dg2 := sc.h2
	clear(dg2)
	dwBwd(dg2, du2, a.g2, N, hp, wp, hid, dw2p, b.dw2W.Grad, b.dw2B.Grad, th)
	// g2 = GELU(d1).
	mulGeluGrad(dg2, ba.D1, th)
	// d1 = dw1(g1): dg1 += dw1^T(dd1).
	dwBwd(du2, dg2, a.g1, N, hp, wp, hid, dw1p, b.dw1W.Grad, b.dw1B.Grad, th)
	// g1 = GELU(u1).
	mulGeluGrad(du2, ba.U1, th)
	// u1 = fc1(t1), t1 = tin + m1*norm1(a) (recomputed as the forward pass
	// computed it).
	t1 := sc.c3
	par.For(M, th, func(_, lo, hi int) {
		vmath.LayerNormRows(t1[lo*C:hi*C], ba.A[lo*C:hi*C], hi-lo, C, b.norm1W.Data, b.norm1B.Data, model.LayerNormEps, nil, nil)
	})
	residualRows(t1, ba.In, ba.Mul1, P, C, th)
	linearBwd(dt, C, du2, hid, t1, C, b.fc1.w.Data, b.fc1.w.Grad, b.fc1.b.Grad, M, C, hid, true, th)

	// t1 = tin + m1*norm1(a): dtin = dt1, da = norm1^T(m1*dt1).
	da := sc.c2
	scaleRows(dln, dt, ba.Mul1, P, C, th)
	lnBwd(da, dln, ba.A, M, C, b.norm1W.Data, ba.LN1Mean, ba.LN1Rstd, b.norm1W.Grad, b.norm1B.Grad, false, th)
	// a = proj(o).
	do := sc.c1
	if b.proj.w != nil {
		linearBwd(do, C, da, C, ba.O, C, b.proj.w.Data, b.proj.w.Grad, b.proj.b.Grad, M, C, C, false, th)
	} else {
		linearBwd(do, C, da, C, ba.O, C, b.p1.w.Data, b.p1.w.Grad, b.p1.b.Grad, M, half, half, false, th)
		linearBwd(do[half:], C, da[half:], C, ba.O[half:], C, b.p2.w.Data, b.p2.w.Grad, b.p2.b.Grad, M, half, half, false, th)
	}

	n.attnBwd(do, a, b, ba, sc, th)

	// Normalisation backward: dq = (dqn - qn (qn . dqn)) / max(||q||, eps).
	d := C / b.heads
	par.For(M, th, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			for h := range b.heads {
				o := r*C + h*d
				normBwd(sc.dq[o:o+d], ba.Q[o:o+d], ba.QNorm[r*b.heads+h])
				normBwd(sc.dk[o:o+d], ba.K[o:o+d], ba.KNorm[r*b.heads+h])
			}
		}
	})
	// Projections q, k, v.
	if b.qkv.w != nil {
		if sc.dqkv == nil {
			sc.dqkv = n.buf("dqkv", M*3*C)
		}
		par.For(M, th, func(_, lo, hi int) {
			for r := lo; r < hi; r++ {
				copy(sc.dqkv[r*3*C:], sc.dq[r*C:(r+1)*C])
				copy(sc.dqkv[r*3*C+C:], sc.dk[r*C:(r+1)*C])
				copy(sc.dqkv[r*3*C+2*C:], sc.dv[r*C:(r+1)*C])
			}
		})
		linearBwd(dt, C, sc.dqkv, 3*C, ba.In, C, b.qkv.w.Data, b.qkv.w.Grad, b.qkv.b.Grad, M, C, 3*C, true, th)
		return
	}
	// GRL: q = x + [q1(x0), q2(x1)]: dx += dq + dq0 Wq1 | dq1 Wq2; same for k, v.
	for _, q := range []struct {
		dy     []float32
		l1, l2 lin
	}{{sc.dq, b.q1, b.q2}, {sc.dk, b.k1, b.k2}, {sc.dv, b.v1, b.v2}} {
		addInto(dt, q.dy, th)
		linearBwd(dt, C, q.dy, C, ba.In, C, q.l1.w.Data, q.l1.w.Grad, q.l1.b.Grad, M, half, half, true, th)
		linearBwd(dt[half:], C, q.dy[half:], C, ba.In[half:], C, q.l2.w.Data, q.l2.w.Grad, q.l2.b.Grad, M, half, half, true, th)
	}
}

// attnBwd is the backward pass of GRSA steps 4-8 on every window: from do
// (token order) it fills sc.dq, sc.dk (gradients of the normalised q, k)
// and sc.dv, and the position-bias and logit-scale gradients. The
// probabilities are recomputed from q, k and the saved log-sum-exp.
func (n *Net) attnBwd(do []float32, a *activations, b *blk, ba *model.BlockSave, sc *bwdScratch, th int) {
	C := n.cfg.EmbedDim
	N, hp, wp := a.N, a.hp, a.wp
	P := hp * wp
	nn := b.n * b.n
	d := C / b.heads
	geo := n.geometry(hp, wp, b)
	nW := P / b.n
	total := N * nW
	chunks := (total + windowChunk - 1) / windowChunk
	dBias := n.zbuf("dBias", chunks*b.heads*nn)
	dScale := make([]float64, chunks*b.heads)
	wss := n.winScratches(th, b.n)
	par.For(chunks, th, func(tid, lo, hi int) {
		ws := wss[tid]
		for ch := lo; ch < hi; ch++ {
			db := dBias[ch*b.heads*nn : (ch+1)*b.heads*nn]
			for wi := ch * windowChunk; wi < min((ch+1)*windowChunk, total); wi++ {
				img, w := wi/nW, wi%nW
				ix := geo.Index[w*b.n : (w+1)*b.n]
				var lab []int32
				if geo.Labels != nil {
					lab = geo.Labels[w*b.n : (w+1)*b.n]
				}
				ws.gather(ba.Q, ba.K, ba.V, ba.O, do, ix, img*P, C)
				for h := range b.heads {
					// P, recomputed exactly as the forward pass did.
					ws.probs(b, h, d, C, lab)
					// dv = P^T dO; dP = dO v^T.
					gemm.TN(b.n, d, b.n, ws.s, b.n, ws.do[h*d:], C, ws.dv[h*d:], C, false)
					gemm.NT(b.n, b.n, d, ws.do[h*d:], C, ws.v[h*d:], C, ws.dp, b.n, false)
					// dS = P (dP - D), D_i = dO_i . O_i over the head.
					// dS = P (dP - D), D_i = dO_i . O_i over the head; dS is
					// also the position bias's gradient (summed over windows).
					vmath.RowDots(ws.D, ws.do[h*d:], ws.o[h*d:], C, C, b.n, d)
					vmath.SoftmaxBackwardAccRows(ws.dp, ws.s, ws.dp, b.n, b.n, b.n, ws.D, db[h*nn:(h+1)*nn], b.n)
					// dS kn and dS^T qn; dscale = sum dS.(qn kn^T) = sum_i qn_i.(dS kn)_i.
					gemm.NN(b.n, d, b.n, ws.dp, b.n, ws.kn[h*d:], C, ws.dq[h*d:], C, false)
					gemm.TN(b.n, d, b.n, ws.dp, b.n, ws.qn[h*d:], C, ws.dk[h*d:], C, false)
					scl := b.mb.LogitScales()[h]
					var dsc float64
					for i := range b.n {
						for c := h * d; c < (h+1)*d; c++ {
							dsc += float64(ws.qn[i*C+c] * ws.dq[i*C+c])
							ws.dq[i*C+c] *= scl
							ws.dk[i*C+c] *= scl
						}
					}
					dScale[ch*b.heads+h] += dsc
				}
				for i, p := range ix {
					r := (img*P + int(p)) * C
					copy(sc.dq[r:r+C], ws.dq[i*C:])
					copy(sc.dk[r:r+C], ws.dk[i*C:])
					copy(sc.dv[r:r+C], ws.dv[i*C:])
				}
			}
		}
	})
	clear(b.dBiasAcc)
	for h := range b.dScale {
		b.dScale[h] = 0
	}
	for ch := range chunks {
		db := dBias[ch*b.heads*nn : (ch+1)*b.heads*nn]
		for j, v := range db {
			b.dBiasAcc[j] += v
		}
		for h := range b.heads {
			b.dScale[h] += dScale[ch*b.heads+h]
		}
	}
	b.biasBackward()
}

// normBwd turns dy, the gradient of y = x / max(||x||, eps), into the
// gradient of x in place, given y and ||x||.
func normBwd(dy, y []float32, nrm float32) {
	if nrm <= 1e-12 {
		for j := range dy {
			dy[j] /= 1e-12
		}
		return
	}
	var dot float32
	for j, v := range dy {
		dot += v * y[j]
	}
	for j := range dy {
		dy[j] = (dy[j] - y[j]*dot) / nrm
	}
}

// scaleRows sets dst = m[img] * src row-wise per image.
func scaleRows(dst, src, m []float32, P, C, th int) {
	par.For(len(m), th, func(_, lo, hi int) {
		for img := lo; img < hi; img++ {
			s := m[img]
			d, x := dst[img*P*C:(img+1)*P*C], src[img*P*C:(img+1)*P*C]
			for j, v := range x {
				d[j] = s * v
			}
		}
	})
}

// residualRows sets t = in + m[img]*t row-wise per image (P rows of C
// values), as the forward pass's residual added the branch t to in.
func residualRows(t, in, m []float32, P, C, th int) {
	par.For(len(m), th, func(_, lo, hi int) {
		for img := lo; img < hi; img++ {
			s := m[img]
			tt, x := t[img*P*C:(img+1)*P*C], in[img*P*C:(img+1)*P*C]
			if s == 1 {
				for j, v := range x {
					tt[j] = v + tt[j]
				}
				continue
			}
			for j, v := range x {
				tt[j] = v + s*tt[j]
			}
		}
	})
}

// mulGeluGrad does dx *= GELU'(x).
func mulGeluGrad(dx, x []float32, th int) {
	par.For(len(dx), th, func(_, lo, hi int) {
		vmath.GELUBackward(dx[lo:hi], x[lo:hi])
	})
}
