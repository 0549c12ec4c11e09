package model

import (
	"context"
	"fmt"

	"github.com/grformer/grformer/internal/kernels"
	"github.com/grformer/grformer/internal/par"
	"github.com/grformer/grformer/internal/vmath"
)

// layers are a network's layers in the run-time form the forward pass
// uses: the one definition of the forward pass (forward) runs on them, for
// inference (Model) and for training (Layers).
type layers struct {
	convFirst    *kernels.Conv3
	groups       []group
	normW, normB []float32
	convAfter    *kernels.Conv3
	upsample     *kernels.Conv3
}

type group struct {
	blocks []*Block
	conv   *kernels.Conv3
}

// Saved receives, from a training forward pass (Layers.Forward), what the
// backward pass needs, in token order over all images (M = images*hp*wp
// rows of C channels).
type Saved struct {
	X                  []float32     // [M*in] conv_first input: padded and normalised
	Blocks             [][]BlockSave // per group and block
	GroupOut           [][]float32   // [M*C] per group: the blocks' output, the group conv's input
	Body               []float32     // [M*C] body output, before the final norm
	NormMean, NormRstd []float32     // [M] final norm statistics
	Norm               []float32     // [M*C] final norm output, conv_after_body's input
	Y                  []float32     // [M*C] conv_after_body(norm) + f0, the upsampler's input
}

// NewSaved allocates a Saved for images images of padded size hp x wp.
func NewSaved(cfg Config, images, hp, wp int) *Saved {
	M, C := images*hp*wp, cfg.EmbedDim
	f := func(n int) []float32 { return make([]float32, n) }
	s := &Saved{X: f(M * cfg.InChans), Body: f(M * C), NormMean: f(M), NormRstd: f(M), Norm: f(M * C), Y: f(M * C)}
	for g, depth := range cfg.Depths {
		var bs []BlockSave
		for range depth {
			bs = append(bs, newBlockSave(cfg, M, cfg.NumHeads[g]))
		}
		s.Blocks = append(s.Blocks, bs)
		s.GroupOut = append(s.GroupOut, f(M*C))
	}
	return s
}

// forward runs the network (spec, "Forward pass") on images images x
// [images][3][h][w] (NCHW, nominally in [0, 1]) into dst
// [images][3][h*s][w*s], not clamped, in ws (made for images images of the
// padded size). geo gives the blocks' window geometry. With save
// (training) it keeps what the backward pass needs; trace (images = 1)
// receives the reference's stages; ctx (may be nil) is checked between
// blocks.
func (l *layers) forward(cfg Config, dst, x []float32, images, h, w int, ws *Workspace, th int,
	geo func(hp, wp int, b *Block) *Geometry, save *Saved, trace Trace, ctx context.Context) error {
	c, C, s := cfg.InChans, cfg.EmbedDim, cfg.Scale
	hp, wp := cfg.PaddedSize(h, w)
	P := hp * wp
	M := images * P

	// Steps 1-2: reflect-pad to [hp, wp] (bottom, right), subtract the mean,
	// scale, as tokens [hp*wp, 3] per image.
	xt := ws.tmp[:M*c]
	if save != nil {
		xt = save.X
	}
	for img := range images {
		padNormalize(cfg, xt[img*P*c:(img+1)*P*c], x[img*c*h*w:(img+1)*c*h*w], h, w, hp, wp)
	}
	if trace != nil {
		trace("00_conv_first_in_NCHW", "HWC", xt, hp, wp, c)
	}

	// Step 3: f0 = conv_first(x), tokens [P, C].
	f0, t := ws.f0[:M*C], ws.t[:M*C]
	conv(ws, th, l.convFirst, f0, xt, images, hp, wp)
	if trace != nil {
		trace("00_conv_first_out_NCHW", "HWC", f0, hp, wp, C)
	}

	// Step 4: deep features.
	copy(t, f0)
	for g, grp := range l.groups {
		for i, b := range grp.blocks {
			if ctx != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			var tr Trace
			if trace != nil && g == 0 {
				tr = trace
			}
			var bs *BlockSave
			if save != nil {
				bs = &save.Blocks[g][i]
			}
			b.forward(t, images, hp, wp, geo(hp, wp, b), ws, th, bs, g, i, tr)
			if trace != nil {
				trace(fmt.Sprintf("01_layer%d_block%d_out_BLC", g, i), "HWC", t, hp, wp, C)
			}
		}
		// Group tail (spec, step 4): t = t + conv(t), the residual taken from
		// the blocks' output, not from the group's input.
		if save != nil {
			copy(save.GroupOut[g], t)
		}
		tmp := ws.tmp[:M*C]
		conv(ws, th, grp.conv, tmp, t, images, hp, wp)
		addTo(t, tmp, th)
		if trace != nil {
			trace(fmt.Sprintf("02_layer%d_out_BLC", g), "HWC", t, hp, wp, C)
		}
	}
	tn := t
	var mean, rstd []float32
	if save != nil {
		copy(save.Body, t)
		tn, mean, rstd = save.Norm, save.NormMean, save.NormRstd
	}
	par.For(M, th, func(_, lo, hi int) {
		var mn, rs []float32
		if mean != nil {
			mn, rs = mean[lo:hi], rstd[lo:hi]
		}
		vmath.LayerNormRows(tn[lo*C:hi*C], t[lo*C:hi*C], hi-lo, C, l.normW, l.normB, LayerNormEps, mn, rs)
	})
	if trace != nil {
		trace("03_norm_out_BLC", "HWC", tn, hp, wp, C)
	}

	// Step 5: y = conv_after_body(features) + f0.
	y := ws.tmp[:M*C]
	if save != nil {
		y = save.Y
	}
	conv(ws, th, l.convAfter, y, tn, images, hp, wp)
	addTo(y, f0, th)
	if trace != nil {
		trace("04_conv_after_body_plus_residual_NCHW", "HWC", y, hp, wp, C)
	}

	// Step 6: upsample conv to 3*s*s channels ([P, 3*s*s] in the FFN
	// buffer, free now), then pixel shuffle fused with step 7: undo the
	// normalisation and crop to [3, h*s, w*s].
	cs := c * s * s
	up := ws.u[:M*cs]
	conv(ws, th, l.upsample, up, y, images, hp, wp)
	if trace != nil {
		trace("08_upsample_conv_out_NCHW", "HWC", up, hp, wp, cs)
		sh := make([]float32, c*P*s*s)
		kernels.PixelShuffle(sh, up, hp, wp, c, s)
		trace("09_upsample_out_before_mean_and_crop_NCHW", "raw", sh, c, hp*s, wp*s)
	}
	for img := range images {
		o := c * h * s * w * s
		shuffleOut(cfg, dst[img*o:(img+1)*o], up[img*P*cs:(img+1)*P*cs], h, w, wp, th)
	}
	return nil
}

// padNormalize writes the tokens [hp*wp, 3] of image x [3, h, w]
// reflect-padded to hp x wp (bottom, right), minus the mean, times the
// image range (spec, steps 1-2).
func padNormalize(cfg Config, dst, x []float32, h, w, hp, wp int) {
	c := cfg.InChans
	for y := range hp {
		sy := kernels.ReflectIndex(y, h)
		for xx := range wp {
			sx := kernels.ReflectIndex(xx, w)
			for ch := range c {
				dst[(y*wp+xx)*c+ch] = (x[(ch*h+sy)*w+sx] - cfg.Mean[ch]) * cfg.ImgRange
			}
		}
	}
}

// shuffleOut is the pixel shuffle of the upsampler's output up [hp*wp,
// 3*s*s] (row width wp) fused with step 7: undo the normalisation and crop
// to dst [3, h*s, w*s]:
// dst[ch][yy*s+i][xx*s+j] = up[yy][xx][ch*s*s + i*s + j]/range + mean.
func shuffleOut(cfg Config, dst, up []float32, h, w, wp, th int) {
	c, s := cfg.InChans, cfg.Scale
	cs := c * s * s
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
}

// conv runs a 3x3 convolution on images images of [h, w, cin] tokens,
// split by rows over the goroutines.
func conv(ws *Workspace, th int, c *kernels.Conv3, dst, src []float32, images, h, w int) {
	P := h * w
	forRows(images, h, th, func(tid, img, y0, y1 int) {
		c.Apply(dst[img*P*c.Cout():(img+1)*P*c.Cout()], src[img*P*c.Cin():(img+1)*P*c.Cin()], h, w, ws.per[tid].col, y0, y1)
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

// Layers are a network's layers for training: the network with gradients
// (package backprop) loads its parameters into them after every update
// (Load) and runs through them the forward pass that inference runs
// (Forward), keeping what its backward pass needs (Saved). Not safe for
// concurrent use.
type Layers struct {
	layers
	cfg    Config
	keys   [][]string // block key prefixes
	mlpAct []float32  // the bias MLP's hidden activations (scratch)
}

// NewLayers builds the layers of a network with configuration cfg, without
// their values (Load gives them).
func NewLayers(cfg Config) (*Layers, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	C, half, hid, in := cfg.EmbedDim, cfg.EmbedDim/2, cfg.Hidden(), cfg.InChans
	f := func(n int) []float32 { return make([]float32, n) }
	conv := func(cout, cin int) *kernels.Conv3 { return kernels.NewConv3(f(cout*cin*9), nil, cout, cin) }
	dense := func(out, in int) *kernels.Dense { return kernels.NewDense(f(out*in), nil, out, in) }
	l := &Layers{cfg: cfg}
	l.convFirst = conv(C, in)
	for g, depth := range cfg.Depths {
		heads := cfg.NumHeads[g]
		var grp group
		var keys []string
		for i := range depth {
			keys = append(keys, fmt.Sprintf("layers.%d.blocks.%d.", g, i))
			b := &Block{heads: heads}
			b.wh, b.ww, b.sh, b.sw = cfg.BlockWindow(i)
			n := b.wh * b.ww
			if cfg.Proj() == ProjQKV {
				b.qkv, b.proj = dense(3*C, C), dense(C, C)
			} else {
				b.q1, b.q2, b.k1, b.k2 = dense(half, half), dense(half, half), dense(half, half), dense(half, half)
				b.v1, b.v2, b.p1, b.p2 = dense(half, half), dense(half, half), dense(half, half), dense(half, half)
			}
			b.fc1, b.fc2 = dense(hid, C), dense(C, hid)
			b.dw1W, b.dw2W = f(9*hid), f(9*hid)
			b.logitScale = f(heads)
			if cfg.Bias() != BiasNone {
				b.bias = f(heads * n * n)
				b.index = RelativePositionIndex(b.wh, b.ww)
			}
			if b.coords = CoordTable(cfg.Bias(), b.wh, b.ww); b.coords != nil {
				rows, mh := len(b.coords)/2, BiasMLPHidden(cfg.Bias())
				b.mlpHid, b.mlpOut = f(rows*mh), f(rows*heads)
				if len(l.mlpAct) < rows*mh {
					l.mlpAct = f(rows * mh)
				}
			}
			grp.blocks = append(grp.blocks, b)
		}
		grp.conv = conv(C, C)
		l.groups = append(l.groups, grp)
		l.keys = append(l.keys, keys)
	}
	l.normW, l.normB = f(C), f(C)
	l.convAfter = conv(C, C)
	l.upsample = conv(in*cfg.Scale*cfg.Scale, C)
	return l, nil
}

// Load gives the layers the values of the parameters: param returns the
// values (PyTorch layout, as in a state dict) of the parameter with the
// given state-dict key. Biases and LayerNorm weights are used in place, not
// copied; weights are repacked and the position bias and logit scales are
// re-evaluated, so Load must run again after any parameter changes.
func (l *Layers) Load(param func(key string) []float32) {
	conv := func(c *kernels.Conv3, key string) { c.SetWeights(param(key+".weight"), param(key+".bias")) }
	dense := func(d *kernels.Dense, key string) { d.SetWeights(param(key+".weight"), param(key+".bias")) }
	conv(l.convFirst, "conv_first")
	for g, grp := range l.groups {
		for i, b := range grp.blocks {
			p := l.keys[g][i]
			n := b.wh * b.ww
			b.norm1W, b.norm1B = param(p+"norm1.weight"), param(p+"norm1.bias")
			b.norm2W, b.norm2B = param(p+"norm2.weight"), param(p+"norm2.bias")
			if b.qkv != nil {
				dense(b.qkv, p+"attn.qkv")
				dense(b.proj, p+"attn.proj")
			} else {
				for _, d := range []struct {
					l   *kernels.Dense
					key string
				}{{b.q1, "q1"}, {b.q2, "q2"}, {b.k1, "k1"}, {b.k2, "k2"}, {b.v1, "v1"}, {b.v2, "v2"}, {b.p1, "proj1"}, {b.p2, "proj2"}} {
					dense(d.l, p+"attn."+d.key)
				}
			}
			LogitScales(b.logitScale, param(p+"attn.logit_scale"))
			switch l.cfg.Bias() {
			case BiasESRPB, BiasCPBLog:
				mlp := p + "attn.ESRPB_MLP."
				if l.cfg.Bias() == BiasCPBLog {
					mlp = p + "attn.cpb_mlp."
				}
				hw := BiasMLPHidden(l.cfg.Bias())
				BiasMLPInto(b.mlpOut, b.mlpHid, l.mlpAct[:len(b.mlpHid)], b.coords,
					param(mlp+"0.weight"), param(mlp+"0.bias"), param(mlp+"2.weight"), hw, b.heads)
				ESRPBBiasInto(b.bias, b.mlpOut, b.index, b.heads, n)
			case BiasTable:
				TableBiasInto(b.bias, param(p+"attn.relative_position_bias_table"), b.index, b.heads, n)
			}
			dense(b.fc1, p+"mlp.fc1")
			dense(b.fc2, p+"mlp.fc2")
			hid := b.fc1.Out()
			kernels.PackDepthwise3x3Into(b.dw1W, param(p+"mlp.dwconv.depthwise_conv.0.weight"), hid)
			kernels.PackDepthwise3x3Into(b.dw2W, param(p+"mlp.dwconv.depthwise_conv.2.weight"), hid)
			b.dw1B = param(p + "mlp.dwconv.depthwise_conv.0.bias")
			b.dw2B = param(p + "mlp.dwconv.depthwise_conv.2.bias")
		}
		conv(grp.conv, fmt.Sprintf("layers.%d.conv", g))
	}
	l.normW, l.normB = param("norm.weight"), param("norm.bias")
	conv(l.convAfter, "conv_after_body")
	conv(l.upsample, "upsample.0")
}

// Block returns block i of group g.
func (l *Layers) Block(g, i int) *Block { return l.groups[g].blocks[i] }

// Forward runs the forward pass of inference (Model.Forward, without
// drop path when every BlockSave's Mul1 and Mul2 are nil) on images
// images x [images][3][h][w] into dst [images][3][h*s][w*s], in ws
// (NewWorkspace for this size and at least th goroutines), keeping in save
// (NewSaved for this size) what the backward pass needs. geos caches the
// window geometry.
func (l *Layers) Forward(dst, x []float32, images, h, w int, ws *Workspace, th int, geos GeometryCache, save *Saved) error {
	cfg := l.cfg
	c, s := cfg.InChans, cfg.Scale
	hp, wp := cfg.PaddedSize(h, w)
	switch {
	case images < 1 || h < 1 || w < 1 || len(x) != images*c*h*w || len(dst) != images*c*h*s*w*s:
		return fmt.Errorf("model: Forward: %d inputs, %d outputs for %dx%dx%dx%d", len(x), len(dst), images, c, h, w)
	case ws.hp != hp || ws.wp != wp || ws.images != images || ws.threads < th || len(ws.per[0].norms) == 0:
		return fmt.Errorf("model: Forward: the workspace is for %d images of %dx%d, not %d of %dx%d", ws.images, ws.hp, ws.wp, images, hp, wp)
	case len(save.X) != images*hp*wp*c:
		return fmt.Errorf("model: Forward: the saved activations are not for %d images of %dx%d", images, hp, wp)
	}
	geo := func(hp, wp int, b *Block) *Geometry { return geos.Get(hp, wp, b.wh, b.ww, b.sh, b.sw) }
	return l.forward(cfg, dst, x, images, h, w, ws, th, geo, save, nil, nil)
}

// Geometry is what a block's window attention needs for one padded size:
// the gather index map (WindowIndex) and, for shifted blocks, the mask
// labels (ShiftLabels).
type Geometry struct {
	Index  []int32
	Labels []int32
}

// GeometryKey identifies a Geometry: padded size, window and shift.
type GeometryKey struct{ hp, wp, wh, ww, sh, sw int }

// GeometryCache keeps the Geometry of each padded size and block
// orientation. It is not safe for concurrent use (Model guards its own).
type GeometryCache map[GeometryKey]*Geometry

// maxGeometries bounds a cache: a few sizes (tiles, one image) times the
// block orientations, without growing with every new image size.
const maxGeometries = 32

// Get returns the geometry of a block with window (wh, ww) and shift
// (sh, sw) on an hp x wp padded map, computing it on first use.
func (c GeometryCache) Get(hp, wp, wh, ww, sh, sw int) *Geometry {
	k := GeometryKey{hp, wp, wh, ww, sh, sw}
	if g, ok := c[k]; ok {
		return g
	}
	g := &Geometry{Index: WindowIndex(hp, wp, wh, ww, sh, sw)}
	if sh != 0 || sw != 0 {
		g.Labels = ShiftLabels(hp, wp, wh, ww, sh, sw)
	}
	if len(c) >= maxGeometries {
		clear(c) // many image sizes (a folder of photos): start over
	}
	c[k] = g
	return g
}
