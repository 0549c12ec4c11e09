package model

import (
	"fmt"

	"github.com/grformer/grformer/kernels"
)

// workspace holds the per-forward buffers of one padded size, reused by
// every block.
type workspace struct {
	shifted, win, att, a, tmp []float32 // [P*C]
	u, d1, d2                 []float32 // [P*hidden]
}

func newWorkspace(cfg Config, hp, wp int) *workspace {
	P, C, hid := hp*wp, cfg.EmbedDim, cfg.Hidden()
	f := func(n int) []float32 { return make([]float32, n) }
	return &workspace{
		shifted: f(P * C), win: f(P * C), att: f(P * C), a: f(P * C), tmp: f(P * C),
		u: f(P * hid), d1: f(P * hid), d2: f(P * hid),
	}
}

// attnScratch is one goroutine's buffers for GRSA on one window.
type attnScratch struct {
	q, k, v, o []float32 // [n*C]
	logits     []float32 // [n*n]
}

func newAttnScratch(n, C int) *attnScratch {
	return &attnScratch{
		q: make([]float32, n*C), k: make([]float32, n*C), v: make([]float32, n*C),
		o: make([]float32, n*C), logits: make([]float32, n*n),
	}
}

// blockForward runs block b on the tokens t [hp*wp, C] in place (spec,
// "Block i of a group", post-norm):
// t = t + norm1(GRSA(windows(roll(t)))); t = t + norm2(FFN(t)).
func (m *Model) blockForward(t []float32, hp, wp int, b *block, ws *workspace, th, g, i int, trace Trace) {
	C, hid := m.Cfg.EmbedDim, m.Cfg.Hidden()
	P, n := hp*wp, b.wh*b.ww
	nW := P / n
	shifted := b.sh != 0 || b.sw != 0

	// Steps 2-3: cyclic roll by (-sh, -sw), then windows [nW, n, C].
	src := t
	if shifted {
		kernels.Roll(ws.shifted, t, hp, wp, C, b.sh, b.sw)
		src = ws.shifted
	}
	kernels.WindowPartition(ws.win, src, hp, wp, C, b.wh, b.ww)
	var labels []int32
	if shifted {
		labels = m.maskLabels(hp, wp, b)
	}
	if trace != nil {
		trace(fmt.Sprintf("05_layer%d_block%d_attn_in_windows_nWB_N_C", g, i), "raw", ws.win, nW, n, C)
		trace(fmt.Sprintf("06_layer%d_block%d_esrpb_bias_%dx%d_HeadsxNxN", g, i, b.wh, b.ww), "raw", b.bias, b.heads, n, n)
		if shifted {
			trace(fmt.Sprintf("07_layer%d_block%d_attn_mask_%dx%d_nWxNxN", g, i, hp, wp), "raw", MaskFromLabels(labels, n), nW, n, n)
		}
	}

	// Step 4: GRSA on every window.
	parallelFor(nW, th, func(lo, hi int) {
		sc := newAttnScratch(n, C)
		for w := lo; w < hi; w++ {
			var lw []int32
			if labels != nil {
				lw = labels[w*n : (w+1)*n]
			}
			grsa(ws.att[w*n*C:(w+1)*n*C], ws.win[w*n*C:(w+1)*n*C], b, C, lw, sc)
		}
	})
	if trace != nil {
		trace(fmt.Sprintf("05_layer%d_block%d_attn_out_windows_nWB_N_C", g, i), "raw", ws.att, nW, n, C)
	}
	// [nW, n, C] -> [hp, wp, C], roll back by (+sh, +sw).
	kernels.WindowReverse(ws.a, ws.att, hp, wp, C, b.wh, b.ww)
	a := ws.a
	if shifted {
		kernels.Roll(ws.shifted, ws.a, hp, wp, C, -b.sh, -b.sw)
		a = ws.shifted
	}

	// Step 5: t = s + norm1(a).
	parallelFor(P, th, func(lo, hi int) {
		kernels.LayerNorm(a[lo*C:hi*C], a[lo*C:hi*C], hi-lo, C, b.norm1W, b.norm1B, LayerNormEps)
		for j := lo * C; j < hi*C; j++ {
			t[j] += a[j]
		}
	})

	// Step 6 (spec, "FFN"): u = GELU(fc1(t)); u += dw2(GELU(dw1(u))); t += norm2(fc2(u)).
	parallelFor(P, th, func(lo, hi int) {
		kernels.Linear(ws.u[lo*hid:], hid, t[lo*C:], C, b.fc1W, b.fc1B, hi-lo, C, hid)
		kernels.GELU(ws.u[lo*hid : hi*hid])
	})
	// u viewed as an image [hp, wp, hid].
	parallelFor(hp, th, func(lo, hi int) {
		kernels.DepthwiseConv3x3(ws.d1, ws.u, hp, wp, hid, b.dw1W, b.dw1B, lo, hi)
		kernels.GELU(ws.d1[lo*wp*hid : hi*wp*hid])
	})
	parallelFor(hp, th, func(lo, hi int) {
		kernels.DepthwiseConv3x3(ws.d2, ws.d1, hp, wp, hid, b.dw2W, b.dw2B, lo, hi)
		for j := lo * wp * hid; j < hi*wp*hid; j++ {
			ws.u[j] += ws.d2[j]
		}
	})
	parallelFor(P, th, func(lo, hi int) {
		f := ws.tmp[lo*C : hi*C]
		kernels.Linear(f, C, ws.u[lo*hid:], hid, b.fc2W, b.fc2B, hi-lo, hid, C)
		kernels.LayerNorm(f, f, hi-lo, C, b.norm2W, b.norm2B, LayerNormEps)
		for j := range f {
			t[lo*C+j] += f[j]
		}
	})
}

// grsa is Grouped Residual Self-Attention on one window (spec, "GRSA"):
// x and out are [n, C]; labels (nil for unshifted blocks) are the window's
// shift-mask regions.
func grsa(out, x []float32, b *block, C int, labels []int32, sc *attnScratch) {
	n := b.wh * b.ww
	half := C / 2
	// Steps 1-2, GRL: q = concat(x0 + q1(x0), x1 + q2(x1)); same for k, v.
	grl := func(dst, w1, b1, w2, b2 []float32) {
		kernels.Linear(dst, C, x, C, w1, b1, n, half, half)
		kernels.Linear(dst[half:], C, x[half:], C, w2, b2, n, half, half)
		for j := range dst[:n*C] {
			dst[j] += x[j]
		}
	}
	grl(sc.q, b.q1W, b.q1B, b.q2W, b.q2B)
	grl(sc.k, b.k1W, b.k1B, b.k2W, b.k2B)
	grl(sc.v, b.v1W, b.v1B, b.v2W, b.v2B)

	// Steps 3-8 per head: channels [hd*d, (hd+1)*d) of q, k, v.
	d := C / b.heads
	for hd := range b.heads {
		q, k, v := sc.q[hd*d:], sc.k[hd*d:], sc.v[hd*d:]
		kernels.L2Normalize(q, C, n, d)
		kernels.L2Normalize(k, C, n, d)
		lg := sc.logits
		kernels.MatMulNT(lg, n, q, C, k, C, n, n, d) // [n, n]
		scale := b.logitScale[hd]
		bias := b.bias[hd*n*n : (hd+1)*n*n]
		for i := range n {
			row := lg[i*n : (i+1)*n]
			br := bias[i*n : (i+1)*n]
			for j := range row {
				row[j] = row[j]*scale + br[j]
			}
			if labels != nil {
				li := labels[i]
				for j, lj := range labels {
					if lj != li {
						row[j] += maskValue
					}
				}
			}
		}
		kernels.Softmax(lg, n, n, n)
		kernels.MatMulNN(sc.o[hd*d:], C, lg, n, v, C, n, d, n) // [n, d] into head's columns
	}
	// Step 9: grouped output projection, no shortcut.
	kernels.Linear(out, C, sc.o, C, b.p1W, b.p1B, n, half, half)
	kernels.Linear(out[half:], C, sc.o[half:], C, b.p2W, b.p2B, n, half, half)
}
