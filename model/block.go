package model

import (
	"fmt"

	"github.com/grformer/grformer/internal/dwconv"
	"github.com/grformer/grformer/internal/gemm"
	"github.com/grformer/grformer/internal/kernels"
	"github.com/grformer/grformer/internal/par"
	"github.com/grformer/grformer/internal/vmath"
)

// workspace holds the buffers of one forward pass at one padded size, reused
// by every block and, through Model's pool, by later calls of the same size.
type workspace struct {
	hp, wp, threads int
	f0, t, tmp      []float32 // [P*C]
	u, d1           []float32 // [P*hidden]
	per             []*threadScratch
	// Trace buffers, allocated only when tracing.
	win, att []float32
}

// threadScratch is one goroutine's buffers.
type threadScratch struct {
	x, q, k, v, o, a []float32 // [n*C] one window
	qkv              []float32 // [n*3C], "qkv" variant only
	logits           []float32 // [n*n]
	col              []float32 // im2col rows for Conv3
	rows             []float32 // [ColRows*C]
}

func newWorkspace(cfg Config, hp, wp, threads int) *workspace {
	P, C, hid := hp*wp, cfg.EmbedDim, cfg.Hidden()
	n := cfg.Window[0] * cfg.Window[1]
	f := func(k int) []float32 { return make([]float32, k) }
	ws := &workspace{hp: hp, wp: wp, threads: threads,
		f0: f(P * C), t: f(P * C), tmp: f(P * C), u: f(P * hid), d1: f(P * hid)}
	for range threads {
		ws.per = append(ws.per, &threadScratch{
			x: f(n * C), q: f(n * C), qkv: f(n * 3 * C), k: f(n * C), v: f(n * C), o: f(n * C), a: f(n * C),
			logits: f(n * n), col: f(kernels.ColRows * 9 * C), rows: f(kernels.ColRows * C),
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

// blockForward runs block b on the tokens t [hp*wp, C] in place (spec,
// "Block i of a group", post-norm):
// t = t + norm1(GRSA(windows(roll(t)))); t = t + norm2(FFN(t)).
func (m *Model) blockForward(t []float32, hp, wp int, b *block, ws *workspace, th, g, i int, trace Trace) {
	C, hid := m.Cfg.EmbedDim, m.Cfg.Hidden()
	P, n := hp*wp, b.wh*b.ww
	nW := P / n
	geo := m.geometry(hp, wp, b)

	if trace != nil {
		ws.win, ws.att = make([]float32, P*C), make([]float32, P*C)
		for j, p := range geo.index {
			copy(ws.win[j*C:(j+1)*C], t[int(p)*C:])
		}
		trace(fmt.Sprintf("05_layer%d_block%d_attn_in_windows_nWB_N_C", g, i), "raw", ws.win, nW, n, C)
		trace(fmt.Sprintf("06_layer%d_block%d_esrpb_bias_%dx%d_HeadsxNxN", g, i, b.wh, b.ww), "raw", b.bias, b.heads, n, n)
		if geo.labels != nil {
			trace(fmt.Sprintf("07_layer%d_block%d_attn_mask_%dx%d_nWxNxN", g, i, hp, wp), "raw", MaskFromLabels(geo.labels, n), nW, n, n)
		}
	}

	// Steps 2-5 per window: gather (roll + partition), GRSA, norm1, and
	// scatter-add into t (reverse partition + roll back + residual). Every
	// token belongs to exactly one window, so windows update t in place
	// without reading each other's tokens.
	par.For(nW, th, func(tid, lo, hi int) {
		sc := ws.per[tid]
		for w := lo; w < hi; w++ {
			ix := geo.index[w*n : (w+1)*n]
			for j, p := range ix {
				copy(sc.x[j*C:(j+1)*C], t[int(p)*C:])
			}
			var lw []int32
			if geo.labels != nil {
				lw = geo.labels[w*n : (w+1)*n]
			}
			grsa(sc.a, sc.x, b, C, lw, sc)
			if trace != nil {
				copy(ws.att[w*n*C:], sc.a)
			}
			vmath.LayerNormRows(sc.a, sc.a, n, C, b.norm1W, b.norm1B, LayerNormEps, nil, nil)
			for j, p := range ix {
				dst := t[int(p)*C : int(p+1)*C]
				for c, v := range sc.a[j*C : (j+1)*C] {
					dst[c] += v
				}
			}
		}
	})
	if trace != nil {
		trace(fmt.Sprintf("05_layer%d_block%d_attn_out_windows_nWB_N_C", g, i), "raw", ws.att, nW, n, C)
	}

	// Step 6 (spec, "FFN"): u = GELU(fc1(t)); u += dw2(GELU(dw1(u)));
	// t += norm2(fc2(u)). u is viewed as an image [hp, wp, hid].
	par.For(P, th, func(_, lo, hi int) {
		b.fc1.Apply(ws.u[lo*hid:], hid, t[lo*C:], C, hi-lo, false)
		vmath.GELU(ws.u[lo*hid : hi*hid])
	})
	par.For(hp, th, func(_, lo, hi int) {
		dwconv.Conv3x3(ws.d1, ws.u, hp, wp, hid, b.dw1W, b.dw1B, lo, hi, false)
		vmath.GELU(ws.d1[lo*wp*hid : hi*wp*hid])
	})
	par.For(hp, th, func(_, lo, hi int) {
		dwconv.Conv3x3(ws.u, ws.d1, hp, wp, hid, b.dw2W, b.dw2B, lo, hi, true)
	})
	par.For(P, th, func(tid, lo, hi int) {
		f := ws.per[tid].rows
		for r := lo; r < hi; r += kernels.ColRows {
			k := min(kernels.ColRows, hi-r)
			b.fc2.Apply(f, C, ws.u[r*hid:], hid, k, false)
			vmath.LayerNormAddRows(t[r*C:(r+k)*C], f[:k*C], k, C, b.norm2W, b.norm2B, LayerNormEps, 1)
		}
	})
}

// grsa is Grouped Residual Self-Attention on one window (spec, "GRSA"):
// x and out are [n, C]; labels (nil for unshifted blocks) are the window's
// shift-mask regions.
func grsa(out, x []float32, b *block, C int, labels []int32, sc *threadScratch) {
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
	vmath.L2NormalizeHeads(Q, ld, n, C, d, nil)
	vmath.L2NormalizeHeads(K, ld, n, C, d, nil)
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
	// Step 9: grouped output projection, no shortcut.
	if b.proj != nil {
		b.proj.Apply(out, C, sc.o, C, n, false)
		return
	}
	b.p1.Apply(out, C, sc.o, C, n, false)
	b.p2.Apply(out[half:], C, sc.o[half:], C, n, false)
}
