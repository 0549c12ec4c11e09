package backprop

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/grformer/grformer/internal/gemm"
	"github.com/grformer/grformer/internal/kernels"
	"github.com/grformer/grformer/internal/par"
	"github.com/grformer/grformer/internal/vmath"
)

// blockActs is what one block's forward pass keeps for its backward pass;
// M = batch * padded pixels.
type blockActs struct {
	tin          []float32 // [M*C] block input
	qn, kn, v    []float32 // [M*C] token order; q, k normalised per head
	qnorm, knorm []float32 // [M*heads] L2 norms before normalising
	o            []float32 // [M*C] attention output (before the projection)
	a            []float32 // [M*C] projection output (before norm1)
	ln1m, ln1r   []float32 // [M] norm1 statistics
	u1, d1       []float32 // [M*hid] fc1 output and dw1 output, before GELU
	f            []float32 // [M*C] fc2 output (before norm2)
	ln2m, ln2r   []float32 // [M]
	m1, m2       []float32 // [N] drop-path multipliers of the two branches
}

// activations of one training forward pass.
type activations struct {
	N, H, W, hp, wp int
	xp              []float32 // [N*P*3] conv_first input (padded, normalised)
	blocks          [][]*blockActs
	gout            [][]float32 // per group, the blocks' output (group conv input)
	tbody           []float32   // body output before norm
	nm, nr          []float32
	tn              []float32 // norm output
	y               []float32 // upsampler input
	out             []float32 // NCHW output, cropped
	// scratch shared by all blocks
	g1, g2, u2, t1 []float32
	qkv            []float32
}

func f32(n int) []float32 { return make([]float32, n) }

func (n *Net) newActivations(N, H, W int) *activations {
	cfg := n.cfg
	hp, wp := cfg.PaddedSize(H, W)
	M := N * hp * wp
	C, hid := cfg.EmbedDim, cfg.Hidden()
	a := &activations{N: N, H: H, W: W, hp: hp, wp: wp, xp: f32(M * cfg.InChans)}
	for g, grp := range n.groups {
		var bs []*blockActs
		for range grp.blocks {
			h := cfg.NumHeads[g]
			bs = append(bs, &blockActs{
				tin: f32(M * C), qn: f32(M * C), kn: f32(M * C), v: f32(M * C),
				qnorm: f32(M * h), knorm: f32(M * h),
				o: f32(M * C), a: f32(M * C), ln1m: f32(M), ln1r: f32(M),
				u1: f32(M * hid), d1: f32(M * hid), f: f32(M * C), ln2m: f32(M), ln2r: f32(M),
				m1: f32(N), m2: f32(N),
			})
		}
		a.blocks = append(a.blocks, bs)
		a.gout = append(a.gout, f32(M*C))
	}
	a.tbody, a.nm, a.nr, a.tn, a.y = f32(M*C), f32(M), f32(M), f32(M*C), f32(M*C)
	a.g1, a.g2, a.u2, a.t1 = f32(M*hid), f32(M*hid), f32(M*hid), f32(M*C)
	if cfg.Proj() == "qkv" {
		a.qkv = f32(M * 3 * C)
	}
	return a
}

// Step zeroes the gradients, runs the forward and backward passes on a batch
// and returns the mean L1 loss. x is n x 3 x h x w (LR), target
// n x 3 x h*s x w*s (HR), NCHW in [0, 1]. dropRate is the largest
// stochastic-depth rate (block k of K gets dropRate*k/(K-1), as the
// reference's constructor spaces it); dropSeed seeds which samples drop
// their branches in this step.
func (n *Net) Step(x, target []float32, N, h, w int, dropRate float64, dropSeed uint64) (float64, error) {
	n.ZeroGrad()
	if err := n.forward(x, N, h, w, dropRate, dropSeed); err != nil {
		return 0, err
	}
	loss, err := n.backward(target)
	return loss, err
}

// Forward runs the training forward pass without drop path (equal to the
// inference model) and returns the NCHW output.
func (n *Net) Forward(x []float32, N, h, w int) ([]float32, error) {
	if err := n.forward(x, N, h, w, 0, 0); err != nil {
		return nil, err
	}
	return n.acts.out, nil
}

func (n *Net) forward(x []float32, N, H, W int, dropRate float64, dropSeed uint64) error {
	cfg := n.cfg
	c, C, s := cfg.InChans, cfg.EmbedDim, cfg.Scale
	if N < 1 || H < 1 || W < 1 || len(x) != N*c*H*W {
		return fmt.Errorf("backprop: input has %d values for %dx%dx%dx%d", len(x), N, c, H, W)
	}
	if dropRate < 0 || dropRate >= 1 {
		return fmt.Errorf("backprop: drop-path rate %g out of [0, 1)", dropRate)
	}
	th := n.threads()
	a := n.acts
	if a == nil || a.N != N || a.H != H || a.W != W {
		n.acts = nil // let the old buffers go before making new ones
		a = n.newActivations(N, H, W)
		n.acts = a
	}
	n.prepare()
	hp, wp := a.hp, a.wp
	P := hp * wp
	M := N * P

	// Steps 1-2: reflect pad, normalise, as tokens [N*P, 3].
	for img := range N {
		for y := range hp {
			sy := kernels.ReflectIndex(y, H)
			for xx := range wp {
				sx := kernels.ReflectIndex(xx, W)
				for ch := range c {
					a.xp[(img*P+y*wp+xx)*c+ch] = (x[((img*c+ch)*H+sy)*W+sx] - cfg.Mean[ch]) * cfg.ImgRange
				}
			}
		}
	}
	// Step 3: f0 = conv_first(x), kept in the first block's input.
	t := n.buf("t", M*C)
	n.convFirst.fwd(t, a.xp, N, hp, wp, th)
	f0 := n.buf("f0", M*C)
	copy(f0, t)

	// Step 4: groups of blocks, each closed by t = t + conv(t).
	rng := rand.New(rand.NewPCG(dropSeed, 0x5eed))
	for g, grp := range n.groups {
		for i, b := range grp.blocks {
			ba := a.blocks[g][i]
			p := dropRate * b.dropRate
			for img := range N {
				ba.m1[img], ba.m2[img] = dropMul(rng, p), dropMul(rng, p)
			}
			n.blockFwd(t, a, b, ba, th)
		}
		copy(a.gout[g], t)
		tmp := a.t1
		n.groups[g].conv.fwd(tmp, t, N, hp, wp, th)
		addInto(t, tmp, th)
	}
	copy(a.tbody, t)
	lnFwd(a.tn, t, M, C, n.normW.Data, n.normB.Data, a.nm, a.nr, th)

	// Step 5: y = conv_after_body(norm) + f0.
	n.convAfter.fwd(a.y, a.tn, N, hp, wp, th)
	addInto(a.y, f0, th)
	// Steps 6-7: upsample conv, pixel shuffle, denormalise, crop.
	cs := c * s * s
	up := n.buf("up", M*cs)
	n.upsample.fwd(up, a.y, N, hp, wp, th)
	oh, ow := H*s, W*s
	a.out = f32(N * c * oh * ow)
	for img := range N {
		for ch := range c {
			for oy := range oh {
				for ox := range ow {
					v := up[(img*P+(oy/s)*wp+ox/s)*cs+ch*s*s+(oy%s)*s+ox%s]
					a.out[((img*c+ch)*oh+oy)*ow+ox] = v/cfg.ImgRange + cfg.Mean[ch]
				}
			}
		}
	}
	return nil
}

// dropMul draws one sample's drop-path multiplier: 0 with probability p,
// else 1/(1-p) (timm's drop_path with scale_by_keep).
func dropMul(r *rand.Rand, p float64) float32 {
	if p == 0 {
		return 1
	}
	if r.Float64() < p {
		return 0
	}
	return float32(1 / (1 - p))
}

// blockFwd runs block b on t [M, C] in place, filling ba.
func (n *Net) blockFwd(t []float32, a *activations, b *blk, ba *blockActs, th int) {
	cfg := n.cfg
	C, hid, half := cfg.EmbedDim, cfg.Hidden(), cfg.EmbedDim/2
	N, hp, wp := a.N, a.hp, a.wp
	P := hp * wp
	M := N * P
	copy(ba.tin, t)

	// GRSA steps 1-2 on all tokens at once (GRL is per token).
	if b.qkv.w != nil {
		linearFwd(a.qkv, 3*C, t, C, b.qkv.w.Data, b.qkv.b.Data, M, C, 3*C, false, th)
		par.For(M, th, func(_, lo, hi int) {
			for r := lo; r < hi; r++ {
				copy(ba.qn[r*C:(r+1)*C], a.qkv[r*3*C:])
				copy(ba.kn[r*C:(r+1)*C], a.qkv[r*3*C+C:])
				copy(ba.v[r*C:(r+1)*C], a.qkv[r*3*C+2*C:])
			}
		})
	} else {
		for _, q := range []struct {
			dst    []float32
			l1, l2 lin
		}{{ba.qn, b.q1, b.q2}, {ba.kn, b.k1, b.k2}, {ba.v, b.v1, b.v2}} {
			copy(q.dst, t)
			linearFwd(q.dst, C, t, C, q.l1.w.Data, q.l1.b.Data, M, half, half, true, th)
			linearFwd(q.dst[half:], C, t[half:], C, q.l2.w.Data, q.l2.b.Data, M, half, half, true, th)
		}
	}
	// Step 4: normalise q and k per head, keeping the norms.
	d := C / b.heads
	par.For(M, th, func(_, lo, hi int) {
		vmath.L2NormalizeHeads(ba.qn[lo*C:hi*C], C, hi-lo, C, d, ba.qnorm[lo*b.heads:hi*b.heads])
		vmath.L2NormalizeHeads(ba.kn[lo*C:hi*C], C, hi-lo, C, d, ba.knorm[lo*b.heads:hi*b.heads])
	})

	// Steps 5-8 per window and head.
	geo := n.geometry(hp, wp, b)
	nW := P / b.n
	wss := n.winScratches(th, b.n)
	par.For(N*nW, th, func(tid, lo, hi int) {
		sc := wss[tid]
		for wi := lo; wi < hi; wi++ {
			img, w := wi/nW, wi%nW
			ix := geo.index[w*b.n : (w+1)*b.n]
			var lab []int32
			if geo.labels != nil {
				lab = geo.labels[w*b.n : (w+1)*b.n]
			}
			sc.gather(ba.qn, ba.kn, ba.v, nil, nil, ix, img*P, C)
			for h := range b.heads {
				sc.probs(b, h, d, C, lab)
				gemm.NN(b.n, d, b.n, sc.s, b.n, sc.v[h*d:], C, sc.o[h*d:], C, false)
			}
			for i, p := range ix {
				copy(ba.o[(img*P+int(p))*C:(img*P+int(p)+1)*C], sc.o[i*C:])
			}
		}
	})
	// Step 9: output projection.
	if b.proj.w != nil {
		linearFwd(ba.a, C, ba.o, C, b.proj.w.Data, b.proj.b.Data, M, C, C, false, th)
	} else {
		linearFwd(ba.a, C, ba.o, C, b.p1.w.Data, b.p1.b.Data, M, half, half, false, th)
		linearFwd(ba.a[half:], C, ba.o[half:], C, b.p2.w.Data, b.p2.b.Data, M, half, half, false, th)
	}
	// t1 = t + drop(norm1(a)).
	ln := a.t1
	lnFwd(ln, ba.a, M, C, b.norm1W.Data, b.norm1B.Data, ba.ln1m, ba.ln1r, th)
	addRowsScaled(t, ln, ba.m1, P, C, th)

	// FFN: u1 = fc1(t1); g1 = GELU(u1); d1 = dw1(g1); g2 = GELU(d1);
	// u2 = g1 + dw2(g2); f = fc2(u2); t2 = t1 + drop(norm2(f)).
	linearFwd(ba.u1, hid, t, C, b.fc1.w.Data, b.fc1.b.Data, M, C, hid, false, th)
	geluInto(a.g1, ba.u1, th)
	dwFwd(ba.d1, a.g1, N, hp, wp, hid, b.dw1p, b.dw1B.Data, th)
	geluInto(a.g2, ba.d1, th)
	dwFwd(a.u2, a.g2, N, hp, wp, hid, b.dw2p, b.dw2B.Data, th)
	addInto(a.u2, a.g1, th)
	linearFwd(ba.f, C, a.u2, hid, b.fc2.w.Data, b.fc2.b.Data, M, hid, C, false, th)
	lnFwd(ln, ba.f, M, C, b.norm2W.Data, b.norm2B.Data, ba.ln2m, ba.ln2r, th)
	addRowsScaled(t, ln, ba.m2, P, C, th)
}

// addRowsScaled does t += m[img] * x for the rows of each image (P rows of
// C values per image).
func addRowsScaled(t, x, m []float32, P, C, th int) {
	par.For(len(m), th, func(_, lo, hi int) {
		for img := lo; img < hi; img++ {
			s := m[img]
			if s == 0 {
				continue
			}
			tt, xx := t[img*P*C:(img+1)*P*C], x[img*P*C:(img+1)*P*C]
			for j, v := range xx {
				tt[j] += s * v
			}
		}
	})
}

func geluInto(dst, src []float32, th int) {
	par.For(len(src), th, func(_, lo, hi int) {
		vmath.GELUInto(dst[lo:hi], src[lo:hi])
	})
}

// winScratch holds one window's gathered rows and per-head products.
type winScratch struct {
	qn, kn, v, o, do []float32 // [n*C]
	dq, dk, dv       []float32 // [n*C]
	s, dp            []float32 // [n*n]
	D                []float32 // [n]
}

func newWinScratch(n, C int) *winScratch {
	return &winScratch{qn: f32(n * C), kn: f32(n * C), v: f32(n * C), o: f32(n * C), do: f32(n * C),
		dq: f32(n * C), dk: f32(n * C), dv: f32(n * C), s: f32(n * n), dp: f32(n * n), D: f32(n)}
}

// gather copies the window's rows (token index base+ix[i]) of the given
// token-order arrays; o and do may be nil.
func (sc *winScratch) gather(qn, kn, v, o, do []float32, ix []int32, base, C int) {
	for i, p := range ix {
		r := (base + int(p)) * C
		copy(sc.qn[i*C:(i+1)*C], qn[r:])
		copy(sc.kn[i*C:(i+1)*C], kn[r:])
		copy(sc.v[i*C:(i+1)*C], v[r:])
		if o != nil {
			copy(sc.o[i*C:(i+1)*C], o[r:])
			copy(sc.do[i*C:(i+1)*C], do[r:])
		}
	}
}

// probs fills sc.s with head h's attention probabilities (GRSA steps 4-7):
// softmax(scale*qn.kn^T + bias + mask). The backward pass calls it again
// to recompute exactly the same probabilities.
func (sc *winScratch) probs(b *blk, h, d, C int, lab []int32) {
	n := b.n
	gemm.NT(n, n, d, sc.qn[h*d:], C, sc.kn[h*d:], C, sc.s, n, false)
	var bias []float32
	if b.hasBias {
		bias = b.bias[h*n*n : (h+1)*n*n]
	}
	vmath.ScaleBiasSoftmaxRows(sc.s, n, n, n, b.scale[h], bias, n, lab, lab)
}

var errNoForward = errors.New("backprop: backward without a forward pass")
