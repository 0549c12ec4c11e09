package training

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
)

// isBuffer reports whether key names one of the derivable buffers of the
// reference (not a parameter).
func isBuffer(key string, cfg model.Config) bool {
	switch {
	case strings.HasSuffix(key, ".attn_mask"),
		strings.HasSuffix(key, ".attn.relative_position_index"),
		strings.HasSuffix(key, ".attn.relative_coords_table"):
		return true
	case strings.HasSuffix(key, ".attn.relative_position_bias_table"):
		// A buffer for ES-RPB; SwinIR's learned table is a parameter.
		return cfg.Bias() != model.BiasTable
	}
	return false
}

// Buffers returns the derivable buffers a reference (BasicSR) checkpoint
// of cfg holds, named and shaped as the reference registers them: per
// block, relative_position_bias_table [1, 2Wh-1, 2Ww-1, 2] (F32, the
// ES-RPB input table; relative_coords_table for the cpb-log variant) and
// relative_position_index [n, n] (I64), and on shifted blocks attn_mask
// [nW, n, n] (F32) for an ImgSize x ImgSize input, when ImgSize is a
// multiple of the window.
func Buffers(cfg model.Config) (checkpoint.StateDict, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sd := checkpoint.StateDict{}
	for g, depth := range cfg.Depths {
		for i := range depth {
			p := fmt.Sprintf("layers.%d.blocks.%d.", g, i)
			wh, ww, sh, sw := cfg.BlockWindow(i)
			n := wh * ww
			switch cfg.Bias() {
			case model.BiasESRPB:
				sd[p+"attn.relative_position_bias_table"] = checkpoint.NewF32([]int{1, 2*wh - 1, 2*ww - 1, 2}, model.ESRPBTable(wh, ww))
			case model.BiasCPBLog:
				sd[p+"attn.relative_coords_table"] = checkpoint.NewF32([]int{1, 2*wh - 1, 2*ww - 1, 2}, model.CPBLogTable(wh, ww))
			}
			if cfg.Bias() != model.BiasNone {
				sd[p+"attn.relative_position_index"] = checkpoint.NewI64([]int{n, n}, model.RelativePositionIndex(wh, ww))
			}
			if sh != 0 || sw != 0 {
				s := cfg.ImgSize
				if s > 0 && s%wh == 0 && s%ww == 0 {
					nw := (s / wh) * (s / ww)
					sd[p+"attn_mask"] = checkpoint.NewF32([]int{nw, n, n}, model.ShiftMask(s, s, wh, ww, sh, sw))
				}
			}
		}
	}
	return sd, nil
}

// FullStateDict returns the parameters of params (any derivable buffers in
// it are dropped) plus Buffers(cfg): what a BasicSR checkpoint of the
// reference holds, which it loads with strict key matching. The
// parameters are checked by building the model.
func FullStateDict(cfg model.Config, params checkpoint.StateDict) (checkpoint.StateDict, error) {
	out := checkpoint.StateDict{}
	for k, t := range params {
		if !isBuffer(k, cfg) {
			out[k] = t
		}
	}
	if _, err := model.New(cfg, out); err != nil {
		return nil, err
	}
	bufs, err := Buffers(cfg)
	if err != nil {
		return nil, err
	}
	for k, t := range bufs {
		out[k] = t
	}
	return out, nil
}

// ParamsOnly returns sd without the derivable buffers.
func ParamsOnly(cfg model.Config, sd checkpoint.StateDict) checkpoint.StateDict {
	out := checkpoint.StateDict{}
	for k, t := range sd {
		if !isBuffer(k, cfg) {
			out[k] = t
		}
	}
	return out
}

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
		if _, ok := sd[k]; !ok && !isBuffer(k, cfg) {
			return nil, nil, fmt.Errorf("training: the init weights have a key the model does not: %s %v", k, init[k].Shape)
		}
	}
	keys := sd.Keys()
	sort.Strings(keys)
	for _, k := range keys {
		t := sd[k]
		if isBuffer(k, cfg) {
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
