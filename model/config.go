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
}

// LayerNormEps is the epsilon of every LayerNorm in the model.
const LayerNormEps = 1e-5

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
	C, hid, half := c.EmbedDim, c.Hidden(), c.EmbedDim/2
	n := C*c.InChans*9 + C // conv_first
	for g, d := range c.Depths {
		h := c.NumHeads[g]
		blk := 4*C + // norm1, norm2
			h + // logit_scale
			128*2 + 128 + h*128 + // ES-RPB MLP
			8*(half*half+half) + // q1..v2, proj1, proj2
			hid*C + hid + // fc1
			2*(hid*9+hid) + // two depthwise convs
			C*hid + C // fc2
		n += d*blk + C*C*9 + C // blocks + group conv
	}
	n += 2 * C     // norm
	n += C*C*9 + C // conv_after_body
	out := c.InChans * c.Scale * c.Scale
	n += out*C*9 + out // upsample.0
	return n
}
