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

	layers // convFirst, groups, normW, normB, convAfter, upsample

	mu   sync.Mutex
	geos GeometryCache // window index maps and mask labels per size
	pool sync.Pool     // *Workspace
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
	m := &Model{Cfg: cfg, geos: map[geoKey]*geometry{}}
	conv := func(key string, cout, cin int) *kernels.Conv3 {
		w := l.take(key+".weight", cout, cin, 3, 3)
		b := l.take(key+".bias", cout)
		if l.err != nil {
			return nil
		}
		return kernels.NewConv3(w, b, cout, cin)
	}
	m.convFirst = conv("conv_first", C, in)
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
			dense := func(key string, out, in int) *kernels.Dense {
				w, bias := l.take(key+".weight", out, in), l.take(key+".bias", out)
				if l.err != nil {
					return nil
				}
				return kernels.NewDense(w, bias, out, in)
			}
			if cfg.Proj() == ProjQKV {
				b.qkv, b.proj = dense(p+"attn.qkv", 3*C, C), dense(p+"attn.proj", C, C)
			} else {
				b.q1, b.q2 = dense(p+"attn.q1", half, half), dense(p+"attn.q2", half, half)
				b.k1, b.k2 = dense(p+"attn.k1", half, half), dense(p+"attn.k2", half, half)
				b.v1, b.v2 = dense(p+"attn.v1", half, half), dense(p+"attn.v2", half, half)
				b.p1, b.p2 = dense(p+"attn.proj1", half, half), dense(p+"attn.proj2", half, half)
			}
			ls := l.take(p+"attn.logit_scale", heads, 1, 1)
			rows := (2*b.wh - 1) * (2*b.ww - 1)
			var mlp0W, mlp0B, mlp2W, learned []float32
			var tableT *checkpoint.Tensor
			switch cfg.Bias() {
			case BiasESRPB:
				mlp0W = l.take(p+"attn.ESRPB_MLP.0.weight", esrpbHidden, 2)
				mlp0B = l.take(p+"attn.ESRPB_MLP.0.bias", esrpbHidden)
				mlp2W = l.take(p+"attn.ESRPB_MLP.2.weight", heads, esrpbHidden)
				tableT = l.buffer(p+"attn.relative_position_bias_table", 1, 2*b.wh-1, 2*b.ww-1, 2)
			case BiasCPBLog:
				mlp0W = l.take(p+"attn.cpb_mlp.0.weight", cpbHidden, 2)
				mlp0B = l.take(p+"attn.cpb_mlp.0.bias", cpbHidden)
				mlp2W = l.take(p+"attn.cpb_mlp.2.weight", heads, cpbHidden)
				tableT = l.buffer(p+"attn.relative_coords_table", 1, 2*b.wh-1, 2*b.ww-1, 2)
			case BiasTable:
				learned = l.take(p+"attn.relative_position_bias_table", rows, heads)
			}
			b.fc1, b.fc2 = dense(p+"mlp.fc1", hid, C), dense(p+"mlp.fc2", C, hid)
			dw1 := l.take(p+"mlp.dwconv.depthwise_conv.0.weight", hid, 1, 3, 3)
			b.dw1B = l.take(p+"mlp.dwconv.depthwise_conv.0.bias", hid)
			dw2 := l.take(p+"mlp.dwconv.depthwise_conv.2.weight", hid, 1, 3, 3)
			b.dw2B = l.take(p+"mlp.dwconv.depthwise_conv.2.bias", hid)
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
			index := RelativePositionIndex(b.wh, b.ww)
			if err := checkIndex(p+"attn.relative_position_index", indexT, index); err != nil {
				return nil, err
			}
			if maskT != nil {
				if err := checkMask(p+"attn_mask", maskT, cfg.ImgSize, b); err != nil {
					return nil, err
				}
			}
			switch cfg.Bias() {
			case BiasESRPB, BiasCPBLog:
				table, name := ESRPBTable(b.wh, b.ww), "relative_position_bias_table"
				if cfg.Bias() == BiasCPBLog {
					table, name = CPBLogTable(b.wh, b.ww), "relative_coords_table"
				}
				if err := checkTable(p+"attn."+name, tableT, table); err != nil {
					return nil, err
				}
				mlpOut := biasMLP(table, mlp0W, mlp0B, mlp2W, BiasMLPHidden(cfg.Bias()), heads)
				b.bias = ESRPBBias(mlpOut, index, heads, n) // 16*sigmoid, as Swin V2's CPB too
			case BiasTable:
				b.bias = TableBias(learned, index, heads, n)
			}
			grp.blocks = append(grp.blocks, b)
		}
		grp.conv = conv(fmt.Sprintf("layers.%d.conv", g), C, C)
		m.groups = append(m.groups, grp)
	}
	m.normW, m.normB = l.take("norm.weight", C), l.take("norm.bias", C)
	m.convAfter = conv("conv_after_body", C, C)
	m.upsample = conv("upsample.0", in*cfg.Scale*cfg.Scale, C)
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
	th := opt.threads()
	hp, wp := m.Cfg.PaddedSize(h, w)
	ws := m.getWorkspace(hp, wp, th)
	defer m.pool.Put(ws)
	return m.forward(m.Cfg, dst, x, 1, h, w, ws, th, m.geometry, nil, opt.Trace, opt.Ctx)
}

// getWorkspace takes a workspace for this size from the pool, or makes one.
func (m *Model) getWorkspace(hp, wp, threads int) *Workspace {
	if v := m.pool.Get(); v != nil {
		ws := v.(*Workspace)
		if ws.hp == hp && ws.wp == wp && ws.threads >= threads {
			return ws
		}
	}
	return newWorkspace(m.Cfg, 1, hp, wp, threads, false)
}

// geometry returns block b's window geometry at padded size hp x wp from
// the model's cache.
func (m *Model) geometry(hp, wp int, b *Block) *Geometry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.geos.Get(hp, wp, b.wh, b.ww, b.sh, b.sw)
}
