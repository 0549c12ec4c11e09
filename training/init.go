package training

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
)

// InitWeights returns the starting weights of a run with architecture cfg:
// model.InitStateDict(cfg, seed), with every parameter that init (when not
// nil) has taken from it instead. init must match cfg: a parameter missing
// from init, or of another shape, is an error, except the upsampler
// (upsample.*) when its shape differs (another scale), which keeps its
// fresh initialisation (the x2 -> x4 start). Buffers in init are ignored; other
// unknown keys are an error. fresh lists the parameters not taken from
// init.
func InitWeights(cfg model.Config, seed uint64, init checkpoint.StateDict) (sd checkpoint.StateDict, fresh []string, err error) {
	sd, err = model.InitStateDict(cfg, seed)
	if err != nil {
		return nil, nil, err
	}
	if init == nil {
		return sd, nil, nil
	}
	if ic, err := model.ConfigFrom(init); err == nil {
		if _, hasTable := init["layers.0.blocks.0.attn.relative_position_bias_table"]; hasTable && ic.Window != cfg.Window && cfg.Bias() == model.BiasESRPB {
			return nil, nil, fmt.Errorf("training: the init weights use window %v, the model %v (set model.window)", ic.Window, cfg.Window)
		}
	}
	for k := range init {
		if _, ok := sd[k]; !ok && !model.IsBuffer(cfg, k) {
			return nil, nil, fmt.Errorf("training: the init weights have a key the model does not: %s %v", k, init[k].Shape)
		}
	}
	keys := sd.Keys()
	sort.Strings(keys)
	for _, k := range keys {
		t := sd[k]
		if model.IsBuffer(cfg, k) {
			continue
		}
		it, ok := init[k]
		upsample := strings.HasPrefix(k, "upsample.")
		switch {
		case ok && slices.Equal(it.Shape, t.Shape) && it.F32 != nil:
			sd[k] = checkpoint.NewF32(slices.Clone(t.Shape), slices.Clone(it.F32))
		case upsample && ok && !slices.Equal(it.Shape, t.Shape):
			fresh = append(fresh, k)
		case !ok:
			return nil, nil, fmt.Errorf("training: the init weights lack %s %v", k, t.Shape)
		case it.F32 == nil:
			return nil, nil, fmt.Errorf("training: init weight %s has dtype %s", k, it.DType)
		default:
			return nil, nil, fmt.Errorf("training: init weight %s has shape %v, the model wants %v", k, it.Shape, t.Shape)
		}
	}
	return sd, fresh, nil
}
