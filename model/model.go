package model

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/kernels"
)

// Model is a GRFormer network with its weights, ready to run. It is safe for
// concurrent use by several goroutines.
type Model struct {
	Cfg Config

	convFirstW, convFirstB []float32 // packed [C][9*3]
	groups                 []group
	normW, normB           []float32
	convAfterW, convAfterB []float32 // packed [C][9*C]
	upW, upB               []float32 // packed [3*s*s][9*C]

	mu    sync.Mutex
	masks map[maskKey][]int32 // shift-mask labels per padded size and orientation
}

type group struct {
	blocks       []*block
	convW, convB []float32 // packed [C][9*C]
}

// block holds the weights of one GRFormer block (spec, "Block i of a group").
type block struct {
	wh, ww, sh, sw int
	heads          int

	norm1W, norm1B, norm2W, norm2B []float32
	// GRL and output projections: [C/2, C/2] weights and [C/2] biases.
	q1W, q1B, q2W, q2B, k1W, k1B, k2W, k2B, v1W, v1B, v2W, v2B []float32
	p1W, p1B, p2W, p2B                                         []float32
	logitScale                                                 []float32 // exp(min(logit_scale, ln 100)) per head
	bias                                                       []float32 // ES-RPB [heads][n][n]

	fc1W, fc1B, fc2W, fc2B []float32
	dw1W, dw1B, dw2W, dw2B []float32 // packed [9][hidden]
}

// Trace, when set on a Forward call, receives intermediate tensors by the
// golden-file stage names of the reference (see ../shared/golden/README.md),
// for batch item 0. layout is "HWC" (h, w, c = dims) for token tensors,
// "raw" for tensors already in the reference's layout.
type Trace func(name, layout string, data []float32, dims ...int)

// New builds a model with the given configuration from a state dict keyed by
// the reference's PyTorch names. Every parameter must be present with its
// exact shape; the derivable buffers (relative_position_bias_table,
// relative_position_index, attn_mask) are optional and, when present, are
// checked against what the model computes. Any other key is an error.
func New(cfg Config, sd checkpoint.StateDict) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &loader{sd: sd, used: map[string]bool{}}
	C, half, hid, in := cfg.EmbedDim, cfg.EmbedDim/2, cfg.Hidden(), cfg.InChans
	m := &Model{Cfg: cfg, masks: map[maskKey][]int32{}}
	conv := func(key string, cout, cin int) ([]float32, []float32) {
		w := l.take(key+".weight", cout, cin, 3, 3)
		b := l.take(key+".bias", cout)
		if l.err != nil {
			return nil, nil
		}
		return kernels.PackConv3x3(w, cout, cin), b
	}
	m.convFirstW, m.convFirstB = conv("conv_first", C, in)
	ln100 := float32(math.Log(100))
	for g, depth := range cfg.Depths {
		heads := cfg.NumHeads[g]
		var grp group
		for i := range depth {
			p := fmt.Sprintf("layers.%d.blocks.%d.", g, i)
			b := &block{heads: heads}
			b.wh, b.ww, b.sh, b.sw = cfg.BlockWindow(i)
			n := b.wh * b.ww
			b.norm1W, b.norm1B = l.take(p+"norm1.weight", C), l.take(p+"norm1.bias", C)
			b.norm2W, b.norm2B = l.take(p+"norm2.weight", C), l.take(p+"norm2.bias", C)
			lin := func(name string) ([]float32, []float32) {
				return l.take(p+"attn."+name+".weight", half, half), l.take(p+"attn."+name+".bias", half)
			}
			b.q1W, b.q1B = lin("q1")
			b.q2W, b.q2B = lin("q2")
			b.k1W, b.k1B = lin("k1")
			b.k2W, b.k2B = lin("k2")
			b.v1W, b.v1B = lin("v1")
			b.v2W, b.v2B = lin("v2")
			b.p1W, b.p1B = lin("proj1")
			b.p2W, b.p2B = lin("proj2")
			ls := l.take(p+"attn.logit_scale", heads, 1, 1)
			mlp0W := l.take(p+"attn.ESRPB_MLP.0.weight", esrpbHidden, 2)
			mlp0B := l.take(p+"attn.ESRPB_MLP.0.bias", esrpbHidden)
			mlp2W := l.take(p+"attn.ESRPB_MLP.2.weight", heads, esrpbHidden)
			b.fc1W, b.fc1B = l.take(p+"mlp.fc1.weight", hid, C), l.take(p+"mlp.fc1.bias", hid)
			b.fc2W, b.fc2B = l.take(p+"mlp.fc2.weight", C, hid), l.take(p+"mlp.fc2.bias", C)
			dw1 := l.take(p+"mlp.dwconv.depthwise_conv.0.weight", hid, 1, 3, 3)
			b.dw1B = l.take(p+"mlp.dwconv.depthwise_conv.0.bias", hid)
			dw2 := l.take(p+"mlp.dwconv.depthwise_conv.2.weight", hid, 1, 3, 3)
			b.dw2B = l.take(p+"mlp.dwconv.depthwise_conv.2.bias", hid)
			tableT := l.buffer(p+"attn.relative_position_bias_table", 1, 2*b.wh-1, 2*b.ww-1, 2)
			indexT := l.buffer(p+"attn.relative_position_index", n, n)
			var maskT *checkpoint.Tensor
			if b.sh != 0 || b.sw != 0 {
				s := cfg.ImgSize
				if s%b.wh == 0 && s%b.ww == 0 {
					maskT = l.buffer(p+"attn_mask", (s/b.wh)*(s/b.ww), n, n)
				}
			}
			if l.err != nil {
				return nil, l.err
			}
			b.dw1W, b.dw2W = kernels.PackDepthwise3x3(dw1, hid), kernels.PackDepthwise3x3(dw2, hid)
			b.logitScale = make([]float32, heads)
			for h, v := range ls {
				b.logitScale[h] = float32(math.Exp(float64(min(v, ln100))))
			}
			table := ESRPBTable(b.wh, b.ww)
			if err := checkTable(p+"attn.relative_position_bias_table", tableT, table); err != nil {
				return nil, err
			}
			index := RelativePositionIndex(b.wh, b.ww)
			if err := checkIndex(p+"attn.relative_position_index", indexT, index); err != nil {
				return nil, err
			}
			if maskT != nil {
				if err := checkMask(p+"attn_mask", maskT, cfg.ImgSize, b); err != nil {
					return nil, err
				}
			}
			mlpOut := ESRPBMLP(table, mlp0W, mlp0B, mlp2W, heads)
			b.bias = ESRPBBias(mlpOut, index, heads, n)
			grp.blocks = append(grp.blocks, b)
		}
		grp.convW, grp.convB = conv(fmt.Sprintf("layers.%d.conv", g), C, C)
		m.groups = append(m.groups, grp)
	}
	m.normW, m.normB = l.take("norm.weight", C), l.take("norm.bias", C)
	m.convAfterW, m.convAfterB = conv("conv_after_body", C, C)
	m.upW, m.upB = conv("upsample.0", in*cfg.Scale*cfg.Scale, C)
	if l.err != nil {
		return nil, l.err
	}
	if err := l.unexpected(); err != nil {
		return nil, err
	}
	return m, nil
}

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

	// Step 1-2: reflect-pad to [3, hp, wp], subtract the mean, scale.
	xp := make([]float32, c*P)
	kernels.ReflectPadCHW(xp, x, c, h, w, hp, wp)
	for ch := range c {
		p := xp[ch*P : (ch+1)*P]
		for i := range p {
			p[i] = (p[i] - cfg.Mean[ch]) * cfg.ImgRange
		}
	}
	// [3, hp, wp] -> tokens [hp*wp, 3]
	xt := make([]float32, P*c)
	for ch := range c {
		for i := range P {
			xt[i*c+ch] = xp[ch*P+i]
		}
	}
	if trace != nil {
		trace("00_conv_first_in_NCHW", "HWC", xt, hp, wp, c)
	}

	// Step 3: f0 = conv_first(x), tokens [P, C].
	f0 := make([]float32, P*C)
	m.conv3x3(th, f0, xt, hp, wp, c, C, m.convFirstW, m.convFirstB)
	if trace != nil {
		trace("00_conv_first_out_NCHW", "HWC", f0, hp, wp, C)
	}

	// Step 4: deep features.
	ws := newWorkspace(cfg, hp, wp)
	t := make([]float32, P*C)
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
		m.conv3x3(th, ws.tmp, t, hp, wp, C, C, grp.convW, grp.convB)
		for j := range t {
			t[j] += ws.tmp[j]
		}
		if trace != nil {
			trace(fmt.Sprintf("02_layer%d_out_BLC", g), "HWC", t, hp, wp, C)
		}
	}
	kernels.LayerNorm(t, t, P, C, m.normW, m.normB, LayerNormEps)
	if trace != nil {
		trace("03_norm_out_BLC", "HWC", t, hp, wp, C)
	}

	// Step 5: y = conv_after_body(features) + f0.
	y := ws.tmp
	m.conv3x3(th, y, t, hp, wp, C, C, m.convAfterW, m.convAfterB)
	for j := range y {
		y[j] += f0[j]
	}
	if trace != nil {
		trace("04_conv_after_body_plus_residual_NCHW", "HWC", y, hp, wp, C)
	}

	// Step 6: upsample conv to 3*s*s channels, pixel shuffle to [3, hp*s, wp*s].
	cs := c * s * s
	up := make([]float32, P*cs)
	m.conv3x3(th, up, y, hp, wp, C, cs, m.upW, m.upB)
	if trace != nil {
		trace("08_upsample_conv_out_NCHW", "HWC", up, hp, wp, cs)
	}
	sh := make([]float32, c*P*s*s)
	kernels.PixelShuffle(sh, up, hp, wp, c, s)
	if trace != nil {
		trace("09_upsample_out_before_mean_and_crop_NCHW", "raw", sh, c, hp*s, wp*s)
	}

	// Step 7: undo the normalisation, crop to [3, h*s, w*s].
	ow, oh, pw := w*s, h*s, wp*s
	for ch := range c {
		for yy := range oh {
			src := sh[(ch*hp*s+yy)*pw : (ch*hp*s+yy)*pw+ow]
			d := dst[(ch*oh+yy)*ow : (ch*oh+yy+1)*ow]
			for xx, v := range src {
				d[xx] = v/cfg.ImgRange + cfg.Mean[ch]
			}
		}
	}
	return nil
}

// conv3x3 runs kernels.Conv3x3 split by rows over the model's goroutines.
func (m *Model) conv3x3(th int, dst, src []float32, h, w, cin, cout int, wp, bias []float32) {
	parallelFor(h, th, func(lo, hi int) {
		col := make([]float32, 9*cin)
		kernels.Conv3x3(dst, src, h, w, cin, cout, wp, bias, col, lo, hi)
	})
}

// parallelFor splits [0, n) into up to threads contiguous ranges and runs f
// on each in its own goroutine, returning when all are done.
func parallelFor(n, threads int, f func(lo, hi int)) {
	if threads <= 1 || n <= 1 {
		f(0, n)
		return
	}
	threads = min(threads, n)
	var wg sync.WaitGroup
	for t := range threads {
		lo, hi := t*n/threads, (t+1)*n/threads
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
