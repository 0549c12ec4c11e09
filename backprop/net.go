package backprop

import (
	"fmt"
	"runtime"
	"slices"
	"sort"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/internal/param"
	"github.com/grformer/grformer/model"
)

// Net is a GRFormer network with gradients: parameters by PyTorch key, a
// training forward pass that keeps what the backward pass needs, and the
// backward pass of every layer written out (as llm.c does). Step computes
// the mean L1 loss and all gradients for one batch.
//
// A Net is not safe for concurrent use.
type Net struct {
	cfg     model.Config
	Threads int // goroutines; 0 means GOMAXPROCS

	params []*param.Param
	byName map[string]*param.Param

	convFirst, convAfter, upsample *conv3
	groups                         []*group
	normW, normB                   *param.Param

	layers    *model.Layers    // the forward pass's form of the parameters (prepare)
	ws        *model.Workspace // the forward pass's buffers
	wsThreads int              // goroutines ws is made for
	geos      model.GeometryCache
	acts      *activations // of the last forward pass
	inputGrad []float32
	bufs      map[string][]float32
	wins      []*winScratch // per goroutine
	// squaredLoss switches the loss to the mean squared error (smooth, for
	// the finite-difference tests).
	squaredLoss bool
}

type group struct {
	blocks []*blk
	conv   *conv3
}

// blk holds one block's parameters (views of the Net's Params) and
// constants (spec, "Block i of a group").
type blk struct {
	wh, ww, sh, sw, heads int
	n                     int     // tokens per window
	dropRate              float64 // stochastic depth of this block

	norm1W, norm1B, norm2W, norm2B *param.Param
	q1, q2, k1, k2, v1, v2, p1, p2 lin // "grl"
	qkv, proj                      lin // "qkv" variant
	logitScale                     *param.Param
	mlp0W, mlp0B, mlp2W            *param.Param // ES-RPB / CPB MLP
	table                          *param.Param // "table" variant
	fc1, fc2                       lin
	dw1W, dw1B, dw2W, dw2B         *param.Param

	index    []int64   // relative position index [n*n]
	coords   []float32 // MLP input table, rows x 2
	mlpHid   int
	hasBias  bool      // false for the "none" variant
	dBiasAcc []float32 // dLoss/dbias [heads][n][n] of the current backward
	dScale   []float64 // dLoss/dscale per head

	// mb is the block in the forward pass's form (set by prepare): packed
	// weights, the position bias, the clamped logit scales and the bias
	// MLP's pre-activations of the current parameters.
	mb *model.Block
}

// lin is a Linear layer's parameters.
type lin struct{ w, b *param.Param }

// NewNet builds a trainable network with configuration cfg from a state dict
// holding every parameter (buffers are accepted, checked and ignored: they
// are derived), checked by model.CheckStateDict. The parameters are those
// of model.Schema, in its order; the values are copied.
func NewNet(cfg model.Config, sd checkpoint.StateDict) (*Net, error) {
	if err := model.CheckStateDict(cfg, sd); err != nil {
		return nil, err
	}
	n := &Net{cfg: cfg, byName: map[string]*param.Param{}, geos: model.GeometryCache{}, bufs: map[string][]float32{}}
	for _, s := range model.Schema(cfg) {
		if s.Kind != model.Parameter {
			continue
		}
		t := sd[s.Key]
		p := &param.Param{Name: s.Key, Shape: slices.Clone(s.Shape),
			Data: slices.Clone(t.F32), Grad: make([]float32, len(t.F32))}
		n.params = append(n.params, p)
		n.byName[s.Key] = p
	}
	take := func(key string) *param.Param { return n.byName[key] }
	C, in := cfg.EmbedDim, cfg.InChans
	conv := func(key string, cout, cin int) *conv3 {
		w, b := take(key+".weight"), take(key+".bias")
		return &conv3{cin: cin, cout: cout, w: w.Data, b: b.Data, dw: w.Grad, db: b.Grad}
	}
	linear := func(key string) lin { return lin{take(key + ".weight"), take(key + ".bias")} }
	n.convFirst = conv("conv_first", C, in)
	total := 0
	for _, d := range cfg.Depths {
		total += d
	}
	k := 0
	for g, depth := range cfg.Depths {
		grp := &group{}
		for i := range depth {
			p := fmt.Sprintf("layers.%d.blocks.%d.", g, i)
			b := &blk{heads: cfg.NumHeads[g]}
			b.wh, b.ww, b.sh, b.sw = cfg.BlockWindow(i)
			b.n = b.wh * b.ww
			if total > 1 {
				b.dropRate = float64(k) / float64(total-1) // times the rate given to Step
			}
			k++
			b.norm1W, b.norm1B = take(p+"norm1.weight"), take(p+"norm1.bias")
			b.norm2W, b.norm2B = take(p+"norm2.weight"), take(p+"norm2.bias")
			if cfg.Proj() == model.ProjQKV {
				b.qkv, b.proj = linear(p+"attn.qkv"), linear(p+"attn.proj")
			} else {
				b.q1, b.q2 = linear(p+"attn.q1"), linear(p+"attn.q2")
				b.k1, b.k2 = linear(p+"attn.k1"), linear(p+"attn.k2")
				b.v1, b.v2 = linear(p+"attn.v1"), linear(p+"attn.v2")
				b.p1, b.p2 = linear(p+"attn.proj1"), linear(p+"attn.proj2")
			}
			b.logitScale = take(p + "attn.logit_scale")
			switch cfg.Bias() {
			case model.BiasESRPB:
				b.mlp0W, b.mlp0B, b.mlp2W = take(p+"attn.ESRPB_MLP.0.weight"), take(p+"attn.ESRPB_MLP.0.bias"), take(p+"attn.ESRPB_MLP.2.weight")
			case model.BiasCPBLog:
				b.mlp0W, b.mlp0B, b.mlp2W = take(p+"attn.cpb_mlp.0.weight"), take(p+"attn.cpb_mlp.0.bias"), take(p+"attn.cpb_mlp.2.weight")
			case model.BiasTable:
				b.table = take(p + "attn.relative_position_bias_table")
			}
			b.fc1, b.fc2 = linear(p+"mlp.fc1"), linear(p+"mlp.fc2")
			b.dw1W, b.dw1B = take(p+"mlp.dwconv.depthwise_conv.0.weight"), take(p+"mlp.dwconv.depthwise_conv.0.bias")
			b.dw2W, b.dw2B = take(p+"mlp.dwconv.depthwise_conv.2.weight"), take(p+"mlp.dwconv.depthwise_conv.2.bias")
			b.index = model.RelativePositionIndex(b.wh, b.ww)
			b.coords = model.CoordTable(cfg.Bias(), b.wh, b.ww)
			b.mlpHid = model.BiasMLPHidden(cfg.Bias())
			b.hasBias = cfg.Bias() != model.BiasNone
			b.dBiasAcc = make([]float32, b.heads*b.n*b.n)
			b.dScale = make([]float64, b.heads)
			grp.blocks = append(grp.blocks, b)
		}
		grp.conv = conv(fmt.Sprintf("layers.%d.conv", g), C, C)
		n.groups = append(n.groups, grp)
	}
	n.normW, n.normB = take("norm.weight"), take("norm.bias")
	n.convAfter = conv("conv_after_body", C, C)
	n.upsample = conv("upsample.0", in*cfg.Scale*cfg.Scale, C)
	return n, nil
}

// Config returns the network's configuration.
func (n *Net) Config() model.Config { return n.cfg }

// Params returns every trainable parameter in state-dict order (the order
// of the reference's named_parameters).
func (n *Net) Params() []*param.Param { return n.params }

// Param returns the parameter with the given PyTorch key, or nil.
func (n *Net) Param(key string) *param.Param { return n.byName[key] }

// StateDict returns the parameters (copies) keyed by PyTorch name, without
// buffers.
func (n *Net) StateDict() checkpoint.StateDict {
	sd := checkpoint.StateDict{}
	for _, p := range n.params {
		sd[p.Name] = checkpoint.NewF32(p.Shape, append([]float32(nil), p.Data...))
	}
	return sd
}

// ParamNames returns the parameter keys sorted, for messages and tests.
func (n *Net) ParamNames() []string {
	s := make([]string, 0, len(n.params))
	for _, p := range n.params {
		s = append(s, p.Name)
	}
	sort.Strings(s)
	return s
}

func (n *Net) threads() int {
	if n.Threads > 0 {
		return n.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// ZeroGrad sets every gradient to zero.
func (n *Net) ZeroGrad() {
	for _, p := range n.params {
		clear(p.Grad)
	}
}

// prepare refreshes what depends on the weights: the forward pass's layers
// (packed weights, clamped logit scales, the position bias of every block)
// and the backward pass's packed convolution weights.
func (n *Net) prepare() error {
	for _, c := range []*conv3{n.convFirst, n.convAfter, n.upsample} {
		c.pack()
	}
	for _, g := range n.groups {
		g.conv.pack()
	}
	if n.layers == nil {
		l, err := model.NewLayers(n.cfg)
		if err != nil {
			return err
		}
		for g, grp := range n.groups {
			for i, b := range grp.blocks {
				b.mb = l.Block(g, i)
			}
		}
		n.layers = l
	}
	n.layers.Load(func(key string) []float32 { return n.byName[key].Data })
	return nil
}

// biasBackward turns dLoss/dbias (b.dBiasAcc) into parameter gradients.
func (b *blk) biasBackward() {
	nn := b.n * b.n
	bias, scale := b.mb.Bias(), b.mb.LogitScales()
	switch {
	case b.mlp0W != nil:
		rows := len(b.coords) / 2
		dOut := make([]float64, rows*b.heads)
		for h := range b.heads {
			for ij, r := range b.index {
				bv := float64(bias[h*nn+ij]) / 16 // sigmoid
				dOut[int(r)*b.heads+h] += float64(b.dBiasAcc[h*nn+ij]) * 16 * bv * (1 - bv)
			}
		}
		// out = W2 relu(pre); pre = W0 coords + b0.
		hid := b.mlpHid
		mlpPre := b.mb.BiasHidden()
		dPre := make([]float64, rows*hid)
		w2, dw2 := b.mlp2W.Data, b.mlp2W.Grad
		for r := range rows {
			pre := mlpPre[r*hid : (r+1)*hid]
			for h := range b.heads {
				g := dOut[r*b.heads+h]
				if g == 0 {
					continue
				}
				for j, v := range pre {
					if v > 0 {
						dw2[h*hid+j] += float32(g * float64(v))
						dPre[r*hid+j] += g * float64(w2[h*hid+j])
					}
				}
			}
		}
		dw0, db0 := b.mlp0W.Grad, b.mlp0B.Grad
		for j := range hid {
			var s0, s1, sb float64
			for r := range rows {
				g := dPre[r*hid+j]
				s0 += g * float64(b.coords[2*r])
				s1 += g * float64(b.coords[2*r+1])
				sb += g
			}
			dw0[2*j] += float32(s0)
			dw0[2*j+1] += float32(s1)
			db0[j] += float32(sb)
		}
	case b.table != nil:
		for h := range b.heads {
			for ij, r := range b.index {
				b.table.Grad[int(r)*b.heads+h] += b.dBiasAcc[h*nn+ij]
			}
		}
	}
	// logit_scale: scale = exp(min(ls, ln 100)); the clamp passes no
	// gradient above ln 100.
	for h, v := range b.logitScale.Data {
		if model.LogitScalePasses(v) {
			b.logitScale.Grad[h] += float32(b.dScale[h] * float64(scale[h]))
		}
	}
}

// geometry returns block b's window geometry at padded size hp x wp.
func (n *Net) geometry(hp, wp int, b *blk) *model.Geometry {
	return n.geos.Get(hp, wp, b.wh, b.ww, b.sh, b.sw)
}

// buf returns the named scratch buffer with at least size values, reused
// across steps; its contents are whatever was left in it.
func (n *Net) buf(name string, size int) []float32 {
	b := n.bufs[name]
	if cap(b) < size {
		b = make([]float32, size)
		n.bufs[name] = b
	}
	return b[:size]
}

// zbuf is buf cleared to zero.
func (n *Net) zbuf(name string, size int) []float32 {
	b := n.buf(name, size)
	clear(b)
	return b
}

// winScratches returns th per-goroutine window scratch sets for windows of
// wn tokens.
func (n *Net) winScratches(th, wn int) []*winScratch {
	C := n.cfg.EmbedDim
	for len(n.wins) < th {
		n.wins = append(n.wins, nil)
	}
	for i := range th {
		if n.wins[i] == nil || len(n.wins[i].s) != wn*wn {
			n.wins[i] = newWinScratch(wn, C)
		}
	}
	return n.wins[:th]
}
