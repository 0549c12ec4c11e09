package model

// Component is one row of the model's cost accounting: parameters and
// multiply-accumulates of one kind of layer, summed over the whole model,
// for an input of a given size.
type Component struct {
	Name   string
	Params int
	// MACs on the padded size the model actually computes, and on the
	// unpadded input size (the same formulas with H*W in place of Hp*Wp).
	MACsPadded, MACsUnpadded int64
	// AttnProduct marks q.k^T and attn.v, which some papers leave out of
	// their MAC counts.
	AttnProduct bool
}

// Component names, in model order.
const (
	CompConvFirst     = "conv_first"
	CompQKV           = "q/k/v projection"  // GRL q1..v2, or Linear(C, 3C)
	CompProj          = "output projection" // proj1 + proj2, or Linear(C, C)
	CompQK            = "q.k^T"
	CompAV            = "attn.v"
	CompPosBias       = "position bias" // ES-RPB MLP, CPB MLP or table
	CompLogitScale    = "logit scales"
	CompNorms         = "LayerNorms"
	CompFC1           = "FFN fc1"
	CompDWConv        = "depthwise convs"
	CompFC2           = "FFN fc2"
	CompGroupConv     = "group convs"
	CompConvAfterBody = "conv_after_body"
	CompUpsampler     = "upsampler"
)

// Costs returns the parameter and MAC accounting per component for an LR
// input of h x w pixels (one image). Only multiply-accumulates of linear
// layers, convolutions and the two attention products count; LayerNorm,
// softmax, GELU and additions do not, as is usual. The ES-RPB MLP runs once
// per block per forward pass on its (2Wh-1)(2Ww-1) table rows, whatever the
// image size. The parameters add up to NumParams.
func (c Config) Costs(h, w int) []Component {
	hp, wp := c.PaddedSize(h, w)
	Pp, Pu := int64(hp*wp), int64(h*w)
	C, half, hid := c.EmbedDim, c.EmbedDim/2, c.Hidden()
	comps := []*Component{}
	get := func(name string, attn bool) *Component {
		for _, k := range comps {
			if k.Name == name {
				return k
			}
		}
		k := &Component{Name: name, AttnProduct: attn}
		comps = append(comps, k)
		return k
	}
	// perPixel adds per-pixel MACs to a component.
	perPixel := func(name string, macs int64) {
		k := get(name, false)
		k.MACsPadded += macs * Pp
		k.MACsUnpadded += macs * Pu
	}
	conv := func(name string, cout, cinPerGroup int) {
		perPixel(name, int64(cout*cinPerGroup*9))
	}
	conv(CompConvFirst, C, c.InChans)
	for g, depth := range c.Depths {
		heads := c.NumHeads[g]
		for i := range depth {
			wh, ww, _, _ := c.BlockWindow(i)
			n := int64(wh * ww)
			if c.Proj() == ProjQKV {
				perPixel(CompQKV, int64(3*C*C))
				perPixel(CompProj, int64(C*C))
			} else {
				perPixel(CompQKV, int64(6*half*half))
				perPixel(CompProj, int64(2*half*half))
			}
			// Per window and head, n x n x d; summed over windows and heads
			// that is n*C per pixel.
			for _, name := range []string{CompQK, CompAV} {
				k := get(name, true)
				k.MACsPadded += Pp * n * int64(C)
				k.MACsUnpadded += Pu * n * int64(C)
			}
			rows := (2*wh - 1) * (2*ww - 1)
			k := get(CompPosBias, false)
			if b := c.Bias(); b == BiasESRPB || b == BiasCPBLog {
				hid := BiasMLPHidden(b)
				k.MACsPadded += int64(rows * (2*hid + hid*heads))
				k.MACsUnpadded += int64(rows * (2*hid + hid*heads))
			}
			perPixel(CompLogitScale, 0)
			perPixel(CompNorms, 0)
			perPixel(CompFC1, int64(hid*C))
			perPixel(CompDWConv, int64(2*hid*9))
			perPixel(CompFC2, int64(C*hid))
		}
		conv(CompGroupConv, C, C)
	}
	conv(CompConvAfterBody, C, C)
	conv(CompUpsampler, c.InChans*c.Scale*c.Scale, C)
	// Parameters: every parameter of the schema, in its component.
	for _, t := range Schema(c) {
		if t.Kind == Parameter {
			get(t.Comp, false).Params += t.Numel()
		}
	}
	out := make([]Component, len(comps))
	for i, k := range comps {
		out[i] = *k
	}
	return out
}

// SelfAttention reports whether a component belongs to the self-attention
// module (projections, attention products, position bias, logit scales):
// what GRSA replaces in the paper's comparison.
func SelfAttention(name string) bool {
	switch name {
	case CompQKV, CompProj, CompQK, CompAV, CompPosBias, CompLogitScale:
		return true
	}
	return false
}

// TotalMACs sums the MACs of Costs(h, w) on the padded size, with or
// without the attention products.
func (c Config) TotalMACs(h, w int, withAttn bool) int64 {
	var t int64
	for _, k := range c.Costs(h, w) {
		if withAttn || !k.AttnProduct {
			t += k.MACsPadded
		}
	}
	return t
}
