package model

import (
	"fmt"

	"github.com/grformer/grformer/internal/dwconv"
	"github.com/grformer/grformer/internal/gemm"
	"github.com/grformer/grformer/internal/kernels"
	"github.com/grformer/grformer/internal/par"
	"github.com/grformer/grformer/internal/vmath"
)

// Block is one GRFormer block in the form the forward pass runs on (spec,
// "Block i of a group"): packed linear layers, clamped logit scales and the
// position bias evaluated once per weight update. New builds the blocks of
// a Model; NewLayers those the training network reloads after each update.
type Block struct {
	wh, ww, sh, sw int
	heads          int

	norm1W, norm1B, norm2W, norm2B []float32
	// GRL and output projections, Linear(C/2 -> C/2); or, for the "qkv"
	// variant, Linear(C -> 3C) and Linear(C -> C).
	q1, q2, k1, k2, v1, v2, p1, p2 *kernels.Dense
	qkv, proj                      *kernels.Dense
	logitScale                     []float32 // exp(min(logit_scale, ln 100)) per head
	bias                           []float32 // position bias [heads][n][n]; nil for "none"

	fc1, fc2               *kernels.Dense
	dw1W, dw1B, dw2W, dw2B []float32 // packed [9][hidden]

	// Kept by NewLayers only (training): what Load needs to re-evaluate the
	// bias, and the MLP's hidden pre-activations the backward pass reads.
	index          []int64   // relative position index [n*n]
	coords         []float32 // MLP input table [rows][2]; nil without MLP
	mlpHid, mlpOut []float32 // [rows][hidden], [rows][heads]
}

// Bias returns the position bias [heads][n][n] the forward pass adds to the
// logits, nil for the "none" variant.
func (b *Block) Bias() []float32 { return b.bias }

// LogitScales returns the clamped logit scale of every head,
// exp(min(logit_scale, ln 100)).
func (b *Block) LogitScales() []float32 { return b.logitScale }

// BiasHidden returns the position-bias MLP's hidden pre-activations
// [rows][hidden] of the last Load (Layers' blocks with an MLP bias only;
// nil otherwise).
func (b *Block) BiasHidden() []float32 { return b.mlpHid }

// DepthwiseWeights returns the FFN's two depthwise kernels packed [9][hidden]
// (kernels.PackDepthwise3x3).
func (b *Block) DepthwiseWeights() (dw1, dw2 []float32) { return b.dw1W, b.dw2W }

// BlockSave receives what the backward pass of training needs from one
// block's forward pass, in token order over all images (M = images*hp*wp
// rows). Forward fills every slice; Mul1 and Mul2 are inputs.
type BlockSave struct {
	In               []float32 // [M*C] block input
	Q, K, V          []float32 // [M*C] q and k normalised per head, v
	QNorm, KNorm     []float32 // [M*heads] norms of q and k before normalising
	O                []float32 // [M*C] attention output, before the projection
	A                []float32 // [M*C] projection output, before norm1
	LN1Mean, LN1Rstd []float32 // [M] norm1 statistics
	U1, D1           []float32 // [M*hidden] fc1 and dw1 outputs, before GELU
	F                []float32 // [M*C] fc2 output, before norm2
	LN2Mean, LN2Rstd []float32 // [M] norm2 statistics
	// Mul1 and Mul2 multiply the attention and FFN branches per image
	// (stochastic depth); nil means 1, the inference network.
	Mul1, Mul2 []float32
}

// newBlockSave allocates a BlockSave for M tokens.
func newBlockSave(cfg Config, M, heads int) BlockSave {
	C, hid := cfg.EmbedDim, cfg.Hidden()
	f := func(n int) []float32 { return make([]float32, n) }
	return BlockSave{In: f(M * C), Q: f(M * C), K: f(M * C), V: f(M * C),
		QNorm: f(M * heads), KNorm: f(M * heads), O: f(M * C), A: f(M * C),
		LN1Mean: f(M), LN1Rstd: f(M), U1: f(M * hid), D1: f(M * hid), F: f(M * C),
		LN2Mean: f(M), LN2Rstd: f(M)}
}

// Workspace holds the buffers of one forward pass over a number of images
// of one padded size, reused by every block and, through Model's pool, by
// later calls of the same size.
type Workspace struct {
	hp, wp, images, threads int
	f0, t, tmp              []float32 // [M*C]
	u                       []float32 // [M*max(hidden, 3*s*s)]: FFN, then the upsampler's output
	d1                      []float32 // [M*hidden]
	per                     []*threadScratch
	// Trace buffers, allocated only when tracing.
	win, att []float32
}

// threadScratch is one goroutine's buffers.
type threadScratch struct {
	x, q, k, v, o, a []float32 // [n*C] one window ("grl": q, k, v)
	qkv              []float32 // [n*3C] ("qkv" variant)
	logits           []float32 // [n*n]
	col              []float32 // im2col rows for Conv3
	rows             []float32 // [ColRows*C]
	norms            []float32 // [2*n*heads] q and k norms (training)
	stats            []float32 // [2*n] norm1 mean and rstd (training)
}

// wsLens is the layout of a Workspace: the length of every buffer, the one
// definition that newWorkspace allocates and WorkspaceBytes counts.
type wsLens struct {
	f0, t, tmp, u, d1                                      int // shared
	x, q, k, v, qkv, o, a, logits, col, rows, norms, stats int // per goroutine
}

func workspaceLens(cfg Config, tokens int, train bool) wsLens {
	C, hid := cfg.EmbedDim, cfg.Hidden()
	n := cfg.Window[0] * cfg.Window[1]
	cs := cfg.InChans * cfg.Scale * cfg.Scale
	l := wsLens{f0: tokens * C, t: tokens * C, tmp: tokens * max(C, cfg.InChans),
		u: tokens * max(hid, cs), d1: tokens * hid,
		x: n * C, o: n * C, a: n * C, logits: n * n,
		col: kernels.ColRows * 9 * max(C, cfg.InChans), rows: kernels.ColRows * C}
	if cfg.Proj() == ProjQKV {
		l.qkv = n * 3 * C
	} else {
		l.q, l.k, l.v = n*C, n*C, n*C
	}
	if train {
		l.norms, l.stats = 2*n*maxInt(cfg.NumHeads), 2*n
	}
	return l
}

func (l wsLens) floats(threads int) int {
	return l.f0 + l.t + l.tmp + l.u + l.d1 +
		threads*(l.x+l.q+l.k+l.v+l.qkv+l.o+l.a+l.logits+l.col+l.rows+l.norms+l.stats)
}

func maxInt(s []int) int {
	m := 0
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

// WorkspaceBytes returns the size in bytes of the workspace one inference
// forward pass at padded size hp x wp on threads goroutines allocates (and
// Model keeps in its pool): the activations [hp*wp] x (3C + max(hidden,
// 3*s*s) + hidden) and each goroutine's window scratch. It leaves out the
// output, the input and the geometry cache.
func WorkspaceBytes(cfg Config, hp, wp, threads int) int64 {
	return 4 * int64(workspaceLens(cfg, hp*wp, false).floats(threads))
}

// NewWorkspace allocates the workspace of a training forward pass
// (Layers.Forward) over images images of padded size hp x wp on threads
// goroutines.
func NewWorkspace(cfg Config, images, hp, wp, threads int) *Workspace {
	return newWorkspace(cfg, images, hp, wp, threads, true)
}

func newWorkspace(cfg Config, images, hp, wp, threads int, train bool) *Workspace {
	l := workspaceLens(cfg, images*hp*wp, train)
	f := func(k int) []float32 { return make([]float32, k) }
	ws := &Workspace{hp: hp, wp: wp, images: images, threads: threads,
		f0: f(l.f0), t: f(l.t), tmp: f(l.tmp), u: f(l.u), d1: f(l.d1)}
	for range threads {
		ws.per = append(ws.per, &threadScratch{
			x: f(l.x), q: f(l.q), k: f(l.k), v: f(l.v), qkv: f(l.qkv), o: f(l.o), a: f(l.a),
			logits: f(l.logits), col: f(l.col), rows: f(l.rows), norms: f(l.norms), stats: f(l.stats),
		})
	}
	return ws
}

// WindowIndex returns, for every token of every window of a block on an
// hp x wp map, the token index it is read from: the cyclic roll by
// (-sh, -sw) and the window partition as one index map (spec, block steps
// 2-3). Windows are row-major over the grid, tokens row-major inside.
// Scattering back through the same map is the reverse partition and the
// roll back (step 4).
func WindowIndex(hp, wp, wh, ww, sh, sw int) []int32 {
	idx := make([]int32, hp*wp)
	gw := wp / ww
	for y := range hp {
		sy := (y + sh) % hp
		for x := range wp {
			sx := (x + sw) % wp
			win := (y/wh)*gw + x/ww
			idx[win*wh*ww+(y%wh)*ww+x%ww] = int32(sy*wp + sx)
		}
	}
	return idx
}

// forward runs block b on the tokens t [images*hp*wp, C] in place (spec,
// "Block i of a group", post-norm):
// t = t + norm1(GRSA(windows(roll(t)))); t = t + norm2(FFN(t)).
// With save (training) it keeps what the backward pass needs and scales the
// branches by save.Mul1, save.Mul2. trace (images = 1) sees the windows.
func (b *Block) forward(t []float32, images, hp, wp int, geo *Geometry, ws *Workspace, th int, save *BlockSave, g, i int, trace Trace) {
	C, hid := len(b.norm1W), b.fc1.Out()
	P, n := hp*wp, b.wh*b.ww
	M, nW := images*P, P/n
	if save != nil {
		copy(save.In, t[:M*C])
	}

	if trace != nil {
		ws.win, ws.att = make([]float32, P*C), make([]float32, P*C)
		for j, p := range geo.Index {
			copy(ws.win[j*C:(j+1)*C], t[int(p)*C:])
		}
		trace(fmt.Sprintf("05_layer%d_block%d_attn_in_windows_nWB_N_C", g, i), "raw", ws.win, nW, n, C)
		trace(fmt.Sprintf("06_layer%d_block%d_esrpb_bias_%dx%d_HeadsxNxN", g, i, b.wh, b.ww), "raw", b.bias, b.heads, n, n)
		if geo.Labels != nil {
			trace(fmt.Sprintf("07_layer%d_block%d_attn_mask_%dx%d_nWxNxN", g, i, hp, wp), "raw", MaskFromLabels(geo.Labels, n), nW, n, n)
		}
	}

	// Steps 2-5 per window: gather (roll + partition), GRSA, norm1, and
	// scatter-add into t (reverse partition + roll back + residual). Every
	// token belongs to exactly one window, so windows update t in place
	// without reading each other's tokens.
	par.For(images*nW, th, func(tid, lo, hi int) {
		sc := ws.per[tid]
		for wi := lo; wi < hi; wi++ {
			img, w := wi/nW, wi%nW
			base := img * P
			ix := geo.Index[w*n : (w+1)*n]
			ti := t[base*C : (base+P)*C]
			for j, p := range ix {
				copy(sc.x[j*C:(j+1)*C], ti[int(p)*C:])
			}
			var lw []int32
			if geo.Labels != nil {
				lw = geo.Labels[w*n : (w+1)*n]
			}
			b.grsa(sc.a, sc.x, C, lw, sc, save, ix, base)
			if trace != nil {
				copy(ws.att[w*n*C:], sc.a)
			}
			mul := float32(1)
			if save == nil {
				vmath.LayerNormRows(sc.a, sc.a, n, C, b.norm1W, b.norm1B, LayerNormEps, nil, nil)
			} else {
				scatter(save.A, sc.a, ix, base, C, C)
				mean, rstd := sc.stats[:n], sc.stats[n:2*n]
				vmath.LayerNormRows(sc.a, sc.a, n, C, b.norm1W, b.norm1B, LayerNormEps, mean, rstd)
				scatter(save.LN1Mean, mean, ix, base, 1, 1)
				scatter(save.LN1Rstd, rstd, ix, base, 1, 1)
				if save.Mul1 != nil {
					mul = save.Mul1[img]
				}
			}
			for j, p := range ix {
				dst := ti[int(p)*C : int(p+1)*C]
				src := sc.a[j*C : (j+1)*C]
				if mul == 1 {
					for c, v := range src {
						dst[c] += v
					}
					continue
				}
				for c, v := range src {
					dst[c] += mul * v
				}
			}
		}
	})
	if trace != nil {
		trace(fmt.Sprintf("05_layer%d_block%d_attn_out_windows_nWB_N_C", g, i), "raw", ws.att, nW, n, C)
	}

	// Step 6 (spec, "FFN"): u = GELU(fc1(t)); u += dw2(GELU(dw1(u)));
	// t += norm2(fc2(u)). u is viewed as images [hp, wp, hid]. Training
	// keeps fc1's and dw1's outputs before GELU and fc2's output.
	u1, d1 := ws.u[:M*hid], ws.d1[:M*hid]
	if save != nil {
		u1, d1 = save.U1, save.D1
	}
	par.For(M, th, func(_, lo, hi int) {
		b.fc1.Apply(u1[lo*hid:], hid, t[lo*C:], C, hi-lo, false)
		vmath.GELUInto(ws.u[lo*hid:hi*hid], u1[lo*hid:hi*hid])
	})
	forRows(images, hp, th, func(_, img, y0, y1 int) {
		o, lo, hi := img*P*hid, (img*P+y0*wp)*hid, (img*P+y1*wp)*hid
		dwconv.Conv3x3(d1[o:o+P*hid], ws.u[o:o+P*hid], hp, wp, hid, b.dw1W, b.dw1B, y0, y1, false)
		vmath.GELUInto(ws.d1[lo:hi], d1[lo:hi]) // while the rows are in cache
	})
	Depthwise(ws.u, ws.d1, images, hp, wp, hid, b.dw2W, b.dw2B, true, th)
	par.For(M, th, func(tid, lo, hi int) {
		rows := ws.per[tid].rows
		for r := lo; r < hi; {
			img := r / P
			k := min(kernels.ColRows, hi-r, (img+1)*P-r)
			f := rows[:k*C]
			mul := float32(1)
			var mean, rstd []float32
			if save != nil {
				f, mean, rstd = save.F[r*C:(r+k)*C], save.LN2Mean[r:r+k], save.LN2Rstd[r:r+k]
				if save.Mul2 != nil {
					mul = save.Mul2[img]
				}
			}
			b.fc2.Apply(f, C, ws.u[r*hid:], hid, k, false)
			vmath.LayerNormAddRows(t[r*C:(r+k)*C], f, k, C, b.norm2W, b.norm2B, LayerNormEps, mul, mean, rstd)
			r += k
		}
	})
}

// Depthwise runs the FFN's depthwise 3x3 convolution (weight packed [9][ch],
// kernels.PackDepthwise3x3) on images images [h, w, ch] from src into dst,
// adding to dst with accumulate, split by rows over th goroutines. The
// forward pass and the training's recomputation share it.
func Depthwise(dst, src []float32, images, h, w, ch int, wp, bias []float32, accumulate bool, th int) {
	P := h * w * ch
	forRows(images, h, th, func(_, img, y0, y1 int) {
		dwconv.Conv3x3(dst[img*P:(img+1)*P], src[img*P:(img+1)*P], h, w, ch, wp, bias, y0, y1, accumulate)
	})
}

// forRows splits the rows of images images of h rows each over th
// goroutines and calls f on ranges [y0, y1) of one image each.
func forRows(images, h, th int, f func(tid, img, y0, y1 int)) {
	par.For(images*h, th, func(tid, lo, hi int) {
		for r := lo; r < hi; {
			img, y := r/h, r%h
			y1 := min(h, y+hi-r)
			f(tid, img, y, y1)
			r += y1 - y
		}
	})
}

// scatter copies the rows of src (width values each, row stride lds) to
// the token rows base+ix[j] of dst (row stride width).
func scatter(dst, src []float32, ix []int32, base, width, lds int) {
	for j, p := range ix {
		r := (base + int(p)) * width
		copy(dst[r:r+width], src[j*lds:j*lds+width])
	}
}

// grsa is Grouped Residual Self-Attention on one window (spec, "GRSA"):
// x and out are [n, C]; labels (nil for unshifted blocks) are the window's
// shift-mask regions. With save, the window's normalised q, k, their norms,
// v and the attention output go to its token rows base+ix[j].
func (b *Block) grsa(out, x []float32, C int, labels []int32, sc *threadScratch, save *BlockSave, ix []int32, base int) {
	n := b.wh * b.ww
	half := C / 2
	var Q, K, V []float32 // [n, C] each, row stride ld
	ld := C
	if b.qkv != nil {
		// "qkv" variant: [n, 3C] = x W^T + b; q, k, v are column blocks.
		b.qkv.Apply(sc.qkv, 3*C, x, C, n, false)
		Q, K, V, ld = sc.qkv, sc.qkv[C:], sc.qkv[2*C:], 3*C
	} else {
		// Steps 1-2, GRL: q = concat(x0 + q1(x0), x1 + q2(x1)); same for k, v.
		grl := func(dst []float32, l1, l2 *kernels.Dense) {
			copy(dst, x[:n*C])
			l1.Apply(dst, C, x, C, n, true)
			l2.Apply(dst[half:], C, x[half:], C, n, true)
		}
		grl(sc.q, b.q1, b.q2)
		grl(sc.k, b.k1, b.k2)
		grl(sc.v, b.v1, b.v2)
		Q, K, V = sc.q, sc.k, sc.v
	}

	// Steps 3-8 per head: channels [hd*d, (hd+1)*d) of q, k, v.
	d := C / b.heads
	var qn, kn []float32
	if save != nil {
		qn, kn = sc.norms[:n*b.heads], sc.norms[n*b.heads:2*n*b.heads]
	}
	vmath.L2NormalizeHeads(Q, ld, n, C, d, qn)
	vmath.L2NormalizeHeads(K, ld, n, C, d, kn)
	if save != nil {
		scatter(save.Q, Q, ix, base, C, ld)
		scatter(save.K, K, ix, base, C, ld)
		scatter(save.V, V, ix, base, C, ld)
		scatter(save.QNorm, qn, ix, base, b.heads, b.heads)
		scatter(save.KNorm, kn, ix, base, b.heads, b.heads)
	}
	lg := sc.logits[:n*n]
	for hd := range b.heads {
		q, k, v := Q[hd*d:], K[hd*d:], V[hd*d:]
		gemm.NT(n, n, d, q, ld, k, ld, lg, n, false) // [n, n] = q k^T
		var bias []float32
		if b.bias != nil {
			bias = b.bias[hd*n*n : (hd+1)*n*n]
		}
		// Steps 5-7: logits*scale + bias, -1e9 between shift regions, softmax.
		vmath.ScaleBiasSoftmaxRows(lg, n, n, n, b.logitScale[hd], bias, n, labels, labels)
		gemm.NN(n, d, n, lg, n, v, ld, sc.o[hd*d:], C, false) // [n, d] into head's columns
	}
	if save != nil {
		scatter(save.O, sc.o, ix, base, C, C)
	}
	// Step 9: grouped output projection, no shortcut.
	if b.proj != nil {
		b.proj.Apply(out, C, sc.o, C, n, false)
		return
	}
	b.p1.Apply(out, C, sc.o, C, n, false)
	b.p2.Apply(out[half:], C, sc.o[half:], C, n, false)
}
