package model

import (
	"errors"
	"fmt"
	"math"
)

// Config is the whole architecture of a GRFormer network (spec,
// "Configuration"). The zero value is not valid; start from a preset
// (Light) and change fields, or derive one from a checkpoint (ConfigFrom).
type Config struct {
	InChans  int     // image channels in and out; GRFormer uses 3 (RGB)
	EmbedDim int     // C, the feature width
	Depths   []int   // blocks per residual group
	NumHeads []int   // attention heads per group; EmbedDim must divide by each
	Window   [2]int  // [Wh, Ww] of the even-orientation blocks; blocks 2,3 (mod 4) use [Ww, Wh]
	MLPRatio float64 // FFN hidden width = int(EmbedDim * MLPRatio)
	Scale    int     // upscaling factor (pixel shuffle)
	ImgRange float32 // input scaling after mean subtraction
	Mean     [3]float32
	// ImgSize is the training patch side (LR). It only decides the shape of
	// the attn_mask buffers that reference checkpoints store; inference
	// works at any size.
	ImgSize int

	// AttnProj is the attention's input/output projection (ablation
	// variants; "" means the default):
	//   "grl"  GRFormer's grouped residual layers q1..v2, proj1, proj2
	//   "qkv"  one Linear(C, 3C) and one Linear(C, C), the SwinIR / Swin V2 form
	AttnProj AttnProj
	// PosBias is the relative position bias added to the logits ("" means
	// the default):
	//   "esrpb"    GRFormer's exponential-space bias, MLP 2 -> 128 -> heads, 16*sigmoid
	//   "cpb-log"  Swin V2's log-spaced continuous bias: t = 8*d/(W-1) per axis,
	//              sign(t)*log2(|t|+1)/log2(8), MLP 2 -> 512 -> heads, 16*sigmoid
	//   "table"    SwinIR's learned table [(2Wh-1)(2Ww-1), heads], added as is
	//   "none"     no position bias
	// The attention itself stays GRSA's cosine attention with the clamped
	// logit scale in every variant.
	PosBias PosBias
}

// AttnProj names an attention projection variant (Config.AttnProj).
type AttnProj string

// PosBias names a relative position bias variant (Config.PosBias).
type PosBias string

// Attention projection and position bias variants (Config.AttnProj, PosBias).
const (
	ProjGRL    AttnProj = "grl"
	ProjQKV    AttnProj = "qkv"
	BiasESRPB  PosBias  = "esrpb"
	BiasCPBLog PosBias  = "cpb-log"
	BiasTable  PosBias  = "table"
	BiasNone   PosBias  = "none"
)

// Proj returns AttnProj with the default filled in.
func (c Config) Proj() AttnProj {
	if c.AttnProj == "" {
		return ProjGRL
	}
	return c.AttnProj
}

// Bias returns PosBias with the default filled in.
func (c Config) Bias() PosBias {
	if c.PosBias == "" {
		return BiasESRPB
	}
	return c.PosBias
}

// LayerNormEps is the epsilon of every LayerNorm in the model.
const LayerNormEps float32 = 1e-5

// DIV2KMean is the RGB mean subtracted from inputs (spec, "Configuration").
var DIV2KMean = [3]float32{0.4488, 0.4371, 0.4040}

// Light returns the paper's "light" configuration for scale 2, 3 or 4:
// C = 60, 4 groups of 6 blocks, 3 heads, window [8, 32], MLP ratio 2.
func Light(scale int) Config {
	return Config{
		InChans:  3,
		EmbedDim: 60,
		Depths:   []int{6, 6, 6, 6},
		NumHeads: []int{3, 3, 3, 3},
		Window:   [2]int{8, 32},
		MLPRatio: 2,
		Scale:    scale,
		ImgRange: 1,
		Mean:     DIV2KMean,
		ImgSize:  64,
	}
}

// Hidden is the FFN hidden width, int(EmbedDim*MLPRatio) as Python computes it.
func (c Config) Hidden() int {
	return int(float64(c.EmbedDim)*c.MLPRatio + 1e-9)
}

// PadMultiple is the side multiple inputs are padded to: max(Wh, Ww).
func (c Config) PadMultiple() int {
	return max(c.Window[0], c.Window[1])
}

// BlockWindow returns the window (Wh, Ww) and shift (sh, sw) of block i of a
// group (spec, "Block i of a group"). The orientation flips for
// (i/2)%2 == 1, but the shift is always half the group's window: block 3
// has window (Ww, Wh) and shift (Wh/2, Ww/2). This quirk is the reference's.
func (c Config) BlockWindow(i int) (wh, ww, sh, sw int) {
	wh, ww = c.Window[0], c.Window[1]
	if (i/2)%2 == 1 {
		wh, ww = ww, wh
	}
	if i%2 == 1 {
		sh, sw = c.Window[0]/2, c.Window[1]/2
	}
	return
}

// Validate reports the first problem with c, or nil.
func (c Config) Validate() error {
	switch {
	case c.InChans != 3:
		return fmt.Errorf("model: in_chans %d: only 3 (RGB) is supported", c.InChans)
	case c.EmbedDim <= 0 || c.EmbedDim%2 != 0:
		return fmt.Errorf("model: embed dim %d must be positive and even (GRL halves)", c.EmbedDim)
	case len(c.Depths) == 0:
		return errors.New("model: no residual groups (depths is empty)")
	case len(c.NumHeads) != len(c.Depths):
		return fmt.Errorf("model: %d depths but %d head counts", len(c.Depths), len(c.NumHeads))
	case c.Window[0] < 2 || c.Window[1] < 2:
		return fmt.Errorf("model: window %v: both sides must be at least 2", c.Window)
	case c.PadMultiple()%min(c.Window[0], c.Window[1]) != 0:
		return fmt.Errorf("model: window %v: the larger side must be a multiple of the smaller", c.Window)
	case c.MLPRatio <= 0 || c.Hidden() < 1:
		return fmt.Errorf("model: mlp ratio %g gives no hidden units", c.MLPRatio)
	case c.Scale < 1 || c.Scale > 8:
		return fmt.Errorf("model: scale %d out of range 1..8", c.Scale)
	case c.ImgRange == 0 || math.IsNaN(float64(c.ImgRange)):
		return fmt.Errorf("model: img_range %v", c.ImgRange)
	case c.Proj() != ProjGRL && c.Proj() != ProjQKV:
		return fmt.Errorf("model: attention projection %q: want grl or qkv", c.AttnProj)
	case c.Bias() != BiasESRPB && c.Bias() != BiasCPBLog && c.Bias() != BiasTable && c.Bias() != BiasNone:
		return fmt.Errorf("model: position bias %q: want esrpb, cpb-log, table or none", c.PosBias)
	}
	for g, d := range c.Depths {
		if d < 1 {
			return fmt.Errorf("model: group %d has depth %d", g, d)
		}
		h := c.NumHeads[g]
		if h < 1 || c.EmbedDim%h != 0 {
			return fmt.Errorf("model: group %d: %d heads do not divide embed dim %d", g, h, c.EmbedDim)
		}
	}
	return nil
}

// NumParams is the number of trainable parameters of the configuration
// (buffers excluded): 780,936 / 789,051 / 800,412 for Light(2/3/4).
func (c Config) NumParams() int {
	n := 0
	for _, k := range c.Costs(c.PadMultiple(), c.PadMultiple()) {
		n += k.Params
	}
	return n
}
