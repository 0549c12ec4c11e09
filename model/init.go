package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/grformer/grformer/checkpoint"
)

// InitStateDict returns freshly initialised parameters for cfg, named by the
// reference's keys, following the reference's initialisation: Linear
// weights truncated normal (std 0.02, cut at +-2 std... as timm's
// trunc_normal_ cuts at +-2 absolute, which is the same here) with zero
// bias, LayerNorm weight 1 and bias 0, convolutions PyTorch's default
// (uniform +-1/sqrt(fan_in) for weight and bias), logit_scale ln 10.
// Buffers are not included (New derives them), but for the "table"
// variant's relative_position_index. The tensors are drawn in Schema's
// order; the same seed gives the same weights.
func InitStateDict(cfg Config, seed uint64) (checkpoint.StateDict, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	sd := checkpoint.StateDict{}
	for _, t := range Schema(cfg) {
		if t.Kind == Buffer {
			// The index buffer of the "table" variant, as SwinIR checkpoints
			// carry it: it lets ConfigFrom tell the window shape from the
			// table's length.
			if cfg.Bias() == BiasTable && strings.HasSuffix(t.Key, ".relative_position_index") {
				sd[t.Key] = t.Value()
			}
			continue
		}
		v := make([]float32, t.Numel())
		switch t.Init {
		case InitTruncNormal:
			for i := range v {
				for {
					x := r.NormFloat64() * 0.02
					if math.Abs(x) <= 2*0.02 {
						v[i] = float32(x)
						break
					}
				}
			}
		case InitUniform:
			bound := 1 / math.Sqrt(float64(t.FanIn))
			for i := range v {
				v[i] = float32((r.Float64()*2 - 1) * bound)
			}
		case InitOnes:
			fill(v, 1)
		case InitLn10:
			fill(v, float32(math.Log(10)))
		case InitZeros:
		default:
			return nil, fmt.Errorf("model: %s: no initialiser", t.Key)
		}
		sd[t.Key] = checkpoint.NewF32(slices.Clone(t.Shape), v)
	}
	return sd, nil
}

func fill(v []float32, x float32) {
	for i := range v {
		v[i] = x
	}
}
