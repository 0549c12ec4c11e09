package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/grformer/grformer/checkpoint"
)

// InitStateDict returns freshly initialised parameters for cfg, named by the
// reference's keys, following the reference's initialisation: Linear
// weights truncated normal (std 0.02, cut at +-2 std... as timm's
// trunc_normal_ cuts at +-2 absolute, which is the same here) with zero
// bias, LayerNorm weight 1 and bias 0, convolutions PyTorch's default
// (uniform +-1/sqrt(fan_in) for weight and bias), logit_scale ln 10.
// Buffers are not included (New derives them), but for the "table"
// variant's relative_position_index. The same seed gives the
// same weights.
func InitStateDict(cfg Config, seed uint64) (checkpoint.StateDict, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	sd := checkpoint.StateDict{}
	put := func(key string, data []float32, shape ...int) {
		sd[key] = checkpoint.NewF32(shape, data)
	}
	fill := func(n int, v float32) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	truncNormal := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			for {
				v := r.NormFloat64() * 0.02
				if math.Abs(v) <= 2*0.02 {
					s[i] = float32(v)
					break
				}
			}
		}
		return s
	}
	uniform := func(n int, bound float64) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32((r.Float64()*2 - 1) * bound)
		}
		return s
	}
	linear := func(key string, out, in int, bias bool) {
		put(key+".weight", truncNormal(out*in), out, in)
		if bias {
			put(key+".bias", fill(out, 0), out)
		}
	}
	conv := func(key string, out, inPerGroup int) {
		b := 1 / math.Sqrt(float64(inPerGroup*9))
		put(key+".weight", uniform(out*inPerGroup*9, b), out, inPerGroup, 3, 3)
		put(key+".bias", uniform(out, b), out)
	}
	norm := func(key string, c int) {
		put(key+".weight", fill(c, 1), c)
		put(key+".bias", fill(c, 0), c)
	}
	C, half, hid := cfg.EmbedDim, cfg.EmbedDim/2, cfg.Hidden()
	conv("conv_first", C, cfg.InChans)
	for g, depth := range cfg.Depths {
		h := cfg.NumHeads[g]
		for i := range depth {
			p := fmt.Sprintf("layers.%d.blocks.%d.", g, i)
			norm(p+"norm1", C)
			norm(p+"norm2", C)
			put(p+"attn.logit_scale", fill(h, float32(math.Log(10))), h, 1, 1)
			switch cfg.Bias() {
			case BiasESRPB:
				linear(p+"attn.ESRPB_MLP.0", esrpbHidden, 2, true)
				linear(p+"attn.ESRPB_MLP.2", h, esrpbHidden, false)
			case BiasCPBLog:
				linear(p+"attn.cpb_mlp.0", cpbHidden, 2, true)
				linear(p+"attn.cpb_mlp.2", h, cpbHidden, false)
			case BiasTable:
				wh, ww, _, _ := cfg.BlockWindow(i)
				put(p+"attn.relative_position_bias_table", truncNormal((2*wh-1)*(2*ww-1)*h), (2*wh-1)*(2*ww-1), h)
				// The index buffer, as SwinIR checkpoints carry it: it lets
				// ConfigFrom tell the window shape from the table's length.
				sd[p+"attn.relative_position_index"] = checkpoint.NewI64([]int{wh * ww, wh * ww}, RelativePositionIndex(wh, ww))
			}
			if cfg.Proj() == ProjQKV {
				linear(p+"attn.qkv", 3*C, C, true)
				linear(p+"attn.proj", C, C, true)
			} else {
				for _, n := range []string{"q1", "q2", "k1", "k2", "v1", "v2", "proj1", "proj2"} {
					linear(p+"attn."+n, half, half, true)
				}
			}
			linear(p+"mlp.fc1", hid, C, true)
			conv(p+"mlp.dwconv.depthwise_conv.0", hid, 1)
			conv(p+"mlp.dwconv.depthwise_conv.2", hid, 1)
			linear(p+"mlp.fc2", C, hid, true)
		}
		conv(fmt.Sprintf("layers.%d.conv", g), C, C)
	}
	norm("norm", C)
	conv("conv_after_body", C, C)
	conv("upsample.0", cfg.InChans*cfg.Scale*cfg.Scale, C)
	return sd, nil
}
