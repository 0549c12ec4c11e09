package model

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/internal/kernels"
	"github.com/grformer/grformer/internal/par"
	"github.com/grformer/grformer/internal/vmath"
)

// Model is a GRFormer network with its weights, ready to run. It is safe for
// concurrent use by several goroutines.
type Model struct {
	Cfg Config

	convFirst    *kernels.Conv3
	groups       []group
	normW, normB []float32
	convAfter    *kernels.Conv3
	upsample     *kernels.Conv3

	mu   sync.Mutex
	geos map[geoKey]*geometry // window index maps and mask labels per size
	pool sync.Pool            // *workspace
}

type group struct {
	blocks []*block
	conv   *kernels.Conv3
}

// block holds the weights of one GRFormer block (spec, "Block i of a group").
type block struct {
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
}

// Trace, when set on a Forward call, receives intermediate tensors by the
// golden-file stage names of the reference (see ../shared/golden/README.md),
// for batch item 0. layout is "HWC" (h, w, c = dims) for token tensors,
// "raw" for tensors already in the reference's layout.
type Trace func(name, layout string, data []float32, dims ...int)

// New builds a model with the given configuration from a state dict keyed by
// the reference's PyTorch names, checked against Schema(cfg) by
// CheckStateDict: every parameter must be present with its exact shape;
// the derivable buffers are optional and, when present, checked against
// what the model computes. Any other key is an error.
func New(cfg Config, sd checkpoint.StateDict) (*Model, error) {
	if err := CheckStateDict(cfg, sd); err != nil {
		return nil, err
	}
	get := func(key string) []float32 { return sd[key].F32 }
	C, half, hid, in := cfg.EmbedDim, cfg.EmbedDim/2, cfg.Hidden(), cfg.InChans
	m := &Model{Cfg: cfg, geos: map[geoKey]*geometry{}}
	conv := func(key string, cout, cin int) *kernels.Conv3 {
		return kernels.NewConv3(get(key+".weight"), get(key+".bias"), cout, cin)
	}
	dense := func(key string, out, in int) *kernels.Dense {
		return kernels.NewDense(get(key+".weight"), get(key+".bias"), out, in)
	}
	m.convFirst = conv("conv_first", C, in)
	for g, depth := range cfg.Depths {
		heads := cfg.NumHeads[g]
		var grp group
		for i := range depth {
			p := fmt.Sprintf("layers.%d.blocks.%d.", g, i)
			b := &block{heads: heads}
			b.wh, b.ww, b.sh, b.sw = cfg.BlockWindow(i)
			n := b.wh * b.ww
			b.norm1W, b.norm1B = get(p+"norm1.weight"), get(p+"norm1.bias")
			b.norm2W, b.norm2B = get(p+"norm2.weight"), get(p+"norm2.bias")
			if cfg.Proj() == ProjQKV {
				b.qkv, b.proj = dense(p+"attn.qkv", 3*C, C), dense(p+"attn.proj", C, C)
			} else {
				b.q1, b.q2 = dense(p+"attn.q1", half, half), dense(p+"attn.q2", half, half)
				b.k1, b.k2 = dense(p+"attn.k1", half, half), dense(p+"attn.k2", half, half)
				b.v1, b.v2 = dense(p+"attn.v1", half, half), dense(p+"attn.v2", half, half)
				b.p1, b.p2 = dense(p+"attn.proj1", half, half), dense(p+"attn.proj2", half, half)
			}
			b.fc1, b.fc2 = dense(p+"mlp.fc1", hid, C), dense(p+"mlp.fc2", C, hid)
			b.dw1W = kernels.PackDepthwise3x3(get(p+"mlp.dwconv.depthwise_conv.0.weight"), hid)
			b.dw1B = get(p + "mlp.dwconv.depthwise_conv.0.bias")
			b.dw2W = kernels.PackDepthwise3x3(get(p+"mlp.dwconv.depthwise_conv.2.weight"), hid)
			b.dw2B = get(p + "mlp.dwconv.depthwise_conv.2.bias")
			b.logitScale = make([]float32, heads)
			for h, v := range get(p + "attn.logit_scale") {
				b.logitScale[h] = LogitScale(v)
			}
			index := RelativePositionIndex(b.wh, b.ww)
			switch cfg.Bias() {
			case BiasESRPB:
				mlpOut := biasMLP(ESRPBTable(b.wh, b.ww), get(p+"attn.ESRPB_MLP.0.weight"), get(p+"attn.ESRPB_MLP.0.bias"),
					get(p+"attn.ESRPB_MLP.2.weight"), esrpbHidden, heads)
				b.bias = ESRPBBias(mlpOut, index, heads, n)
			case BiasCPBLog:
				mlpOut := biasMLP(CPBLogTable(b.wh, b.ww), get(p+"attn.cpb_mlp.0.weight"), get(p+"attn.cpb_mlp.0.bias"),
					get(p+"attn.cpb_mlp.2.weight"), cpbHidden, heads)
				b.bias = ESRPBBias(mlpOut, index, heads, n) // 16*sigmoid, as Swin V2's CPB too
			case BiasTable:
				b.bias = TableBias(get(p+"attn.relative_position_bias_table"), index, heads, n)
			}
			grp.blocks = append(grp.blocks, b)
		}
		grp.conv = conv(fmt.Sprintf("layers.%d.conv", g), C, C)
		m.groups = append(m.groups, grp)
	}
	m.normW, m.normB = get("norm.weight"), get("norm.bias")
	m.convAfter = conv("conv_after_body", C, C)
	m.upsample = conv("upsample.0", in*cfg.Scale*cfg.Scale, C)
	return m, nil
}

// LogitScale is the multiplier of a head's cosine logits: exp(min(ls,
// ln 100)), the reference's clamp (spec, "GRSA").
func LogitScale(ls float32) float32 {
	return float32(math.Exp(float64(min(ls, ln100))))
}

var ln100 = float32(math.Log(100))

// Options control one Forward call.
type Options struct {
	// Threads limits the goroutines used; 0 means GOMAXPROCS.
	Threads int
	// Trace, when set, receives intermediate tensors (see Trace).
	Trace Trace
	// Ctx, when set, is checked between blocks: a cancelled forward pass
	// stops early and Forward returns Ctx.Err().
	Ctx context.Context
}

func (o Options) threads() int {
	if o.Threads > 0 {
		return o.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// PaddedSize returns the size an h x w input is padded to (spec, step 1).
func (c Config) PaddedSize(h, w int) (hp, wp int) {
	p := c.PadMultiple()
	return (h + p - 1) / p * p, (w + p - 1) / p * p
}

// Forward runs the network on a batch x: n images of 3 x h x w (NCHW, values
// nominally in [0, 1]) and returns n x 3 x h*s x w*s, not clamped (spec,
// "Forward pass").
func (m *Model) Forward(x []float32, n, h, w int, opt Options) ([]float32, error) {
	c, s := m.Cfg.InChans, m.Cfg.Scale
	if n < 1 || h < 1 || w < 1 {
		return nil, fmt.Errorf("model: bad input size %dx%dx%dx%d", n, c, h, w)
	}
	if len(x) != n*c*h*w {
		return nil, fmt.Errorf("model: input has %d values, want %d (n=%d c=%d h=%d w=%d)", len(x), n*c*h*w, n, c, h, w)
	}
	out := make([]float32, n*c*h*s*w*s)
	for i := range n {
		if i > 0 {
			opt.Trace = nil
		}
		if err := m.forwardOne(out[i*c*h*s*w*s:(i+1)*c*h*s*w*s], x[i*c*h*w:(i+1)*c*h*w], h, w, opt); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// forwardOne runs one image: x is [3, h, w], dst is [3, h*s, w*s].
func (m *Model) forwardOne(dst, x []float32, h, w int, opt Options) error {
	cfg, trace, th := m.Cfg, opt.Trace, opt.threads()
	c, C, s := cfg.InChans, cfg.EmbedDim, cfg.Scale
	hp, wp := cfg.PaddedSize(h, w)
	P := hp * wp
	ws := m.getWorkspace(hp, wp, th)
	defer m.pool.Put(ws)

	// Steps 1-2: reflect-pad to [hp, wp] (bottom, right), subtract the mean,
	// scale, as tokens [hp*wp, 3].
	xt := grow(ws.tmp, P*c)
	for y := range hp {
		sy := kernels.ReflectIndex(y, h)
		for xx := range wp {
			sx := kernels.ReflectIndex(xx, w)
			for ch := range c {
				xt[(y*wp+xx)*c+ch] = (x[(ch*h+sy)*w+sx] - cfg.Mean[ch]) * cfg.ImgRange
			}
		}
	}
	if trace != nil {
		trace("00_conv_first_in_NCHW", "HWC", xt, hp, wp, c)
	}

	// Step 3: f0 = conv_first(x), tokens [P, C].
	f0, t := ws.f0, ws.t
	m.conv(ws, th, m.convFirst, f0, xt, hp, wp)
	if trace != nil {
		trace("00_conv_first_out_NCHW", "HWC", f0, hp, wp, C)
	}

	// Step 4: deep features.
	copy(t, f0)
	for g, grp := range m.groups {
		for i, b := range grp.blocks {
			if opt.Ctx != nil && opt.Ctx.Err() != nil {
				return opt.Ctx.Err()
			}
			var tr Trace
			if trace != nil && g == 0 {
				tr = trace
			}
			m.blockForward(t, hp, wp, b, ws, th, g, i, tr)
			if trace != nil {
				trace(fmt.Sprintf("01_layer%d_block%d_out_BLC", g, i), "HWC", t, hp, wp, C)
			}
		}
		// Group tail (spec, step 4): t = t + conv(t), the residual taken from
		// the blocks' output, not from the group's input.
		m.conv(ws, th, grp.conv, ws.tmp, t, hp, wp)
		addTo(t, ws.tmp, th)
		if trace != nil {
			trace(fmt.Sprintf("02_layer%d_out_BLC", g), "HWC", t, hp, wp, C)
		}
	}
	par.For(P, th, func(_, lo, hi int) {
		vmath.LayerNormRows(t[lo*C:hi*C], t[lo*C:hi*C], hi-lo, C, m.normW, m.normB, LayerNormEps, nil, nil)
	})
	if trace != nil {
		trace("03_norm_out_BLC", "HWC", t, hp, wp, C)
	}

	// Step 5: y = conv_after_body(features) + f0.
	y := ws.tmp
	m.conv(ws, th, m.convAfter, y, t, hp, wp)
	addTo(y, f0, th)
	if trace != nil {
		trace("04_conv_after_body_plus_residual_NCHW", "HWC", y, hp, wp, C)
	}

	// Step 6: upsample conv to 3*s*s channels ([P, 3*s*s] in the FFN buffer,
	// free now), then pixel shuffle fused with step 7: undo the
	// normalisation and crop to [3, h*s, w*s]:
	// out[ch][yy*s+i][xx*s+j] = up[yy][xx][ch*s*s + i*s + j].
	cs := c * s * s
	up := grow(ws.u, P*cs)
	m.conv(ws, th, m.upsample, up, y, hp, wp)
	if trace != nil {
		trace("08_upsample_conv_out_NCHW", "HWC", up, hp, wp, cs)
		sh := make([]float32, c*P*s*s)
		kernels.PixelShuffle(sh, up, hp, wp, c, s)
		trace("09_upsample_out_before_mean_and_crop_NCHW", "raw", sh, c, hp*s, wp*s)
	}
	oh, ow := h*s, w*s
	par.For(oh, th, func(_, lo, hi int) {
		for oy := lo; oy < hi; oy++ {
			yy, i := oy/s, oy%s
			for ch := range c {
				d := dst[(ch*oh+oy)*ow : (ch*oh+oy+1)*ow]
				for ox := range d {
					v := up[(yy*wp+ox/s)*cs+ch*s*s+i*s+ox%s]
					d[ox] = v/cfg.ImgRange + cfg.Mean[ch]
				}
			}
		}
	})
	return nil
}

// grow returns buf[:n], or a new slice when buf is too short.
func grow(buf []float32, n int) []float32 {
	if len(buf) >= n {
		return buf[:n]
	}
	return make([]float32, n)
}

// getWorkspace takes a workspace for this size from the pool, or makes one.
func (m *Model) getWorkspace(hp, wp, threads int) *workspace {
	if v := m.pool.Get(); v != nil {
		ws := v.(*workspace)
		if ws.hp == hp && ws.wp == wp && ws.threads >= threads {
			return ws
		}
	}
	return newWorkspace(m.Cfg, hp, wp, threads)
}

// conv runs a 3x3 convolution on [h, w, cin] tokens, split by rows over the
// goroutines.
func (m *Model) conv(ws *workspace, th int, c *kernels.Conv3, dst, src []float32, h, w int) {
	par.For(h, th, func(tid, lo, hi int) {
		c.Apply(dst, src, h, w, ws.per[tid].col, lo, hi)
	})
}

// addTo does dst += src over the goroutines.
func addTo(dst, src []float32, th int) {
	par.For(len(dst), th, func(_, lo, hi int) {
		d := dst[lo:hi]
		for j, v := range src[lo:hi] {
			d[j] += v
		}
	})
}

// geometry is what a block's window attention needs for one padded size:
// the gather index map and, for shifted blocks, the mask labels.
type geometry struct {
	index  []int32
	labels []int32
}

type geoKey struct{ hp, wp, wh, ww, sh, sw int }

// maxGeometries bounds the geometry cache: a few sizes (tiles, one image)
// times the block orientations, without growing with every new image size.
const maxGeometries = 32

func (m *Model) geometry(hp, wp int, b *block) *geometry {
	k := geoKey{hp, wp, b.wh, b.ww, b.sh, b.sw}
	m.mu.Lock()
	defer m.mu.Unlock()
	if g, ok := m.geos[k]; ok {
		return g
	}
	g := &geometry{index: WindowIndex(hp, wp, b.wh, b.ww, b.sh, b.sw)}
	if b.sh != 0 || b.sw != 0 {
		g.labels = ShiftLabels(hp, wp, b.wh, b.ww, b.sh, b.sw)
	}
	if len(m.geos) >= maxGeometries {
		clear(m.geos) // many image sizes (a folder of photos): start over
	}
	m.geos[k] = g
	return g
}
