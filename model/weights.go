package model

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"

	"github.com/grformer/grformer/checkpoint"
)

var (
	reBlock = regexp.MustCompile(`^layers\.(\d+)\.blocks\.(\d+)\.`)
	reLayer = regexp.MustCompile(`^layers\.(\d+)\.`)
)

// ConfigFrom derives the configuration from a state dict's key names and
// shapes (spec, "Checkpoint format"): embed dim from conv_first, groups and
// depths from the layers.g.blocks.b keys, heads from logit_scale, the MLP
// ratio from fc1, the scale from upsample.0, the window from the first
// block's relative_position_bias_table when present (else [8, 32]) and the
// training size from a stored attn_mask when present (else 64).
func ConfigFrom(sd checkpoint.StateDict) (Config, error) {
	cfg := Light(4)
	cf, ok := sd["conv_first.weight"]
	if !ok {
		return cfg, fmt.Errorf("model: no conv_first.weight: not a GRFormer checkpoint (%d keys, e.g. %s)", len(sd), someKeys(sd))
	}
	if len(cf.Shape) != 4 || cf.Shape[2] != 3 || cf.Shape[3] != 3 {
		return cfg, fmt.Errorf("model: conv_first.weight has shape %v, want [C, 3, 3, 3]", cf.Shape)
	}
	cfg.EmbedDim, cfg.InChans = cf.Shape[0], cf.Shape[1]

	depth := map[int]int{}
	groups := 0
	for k := range sd {
		if m := reLayer.FindStringSubmatch(k); m != nil {
			g, _ := strconv.Atoi(m[1])
			groups = max(groups, g+1)
		}
		if m := reBlock.FindStringSubmatch(k); m != nil {
			g, _ := strconv.Atoi(m[1])
			b, _ := strconv.Atoi(m[2])
			depth[g] = max(depth[g], b+1)
		}
	}
	if groups == 0 {
		return cfg, fmt.Errorf("model: no layers.* keys: not a GRFormer checkpoint")
	}
	cfg.Depths = make([]int, groups)
	cfg.NumHeads = make([]int, groups)
	for g := range groups {
		cfg.Depths[g] = depth[g]
		if depth[g] == 0 {
			var ex string
			for k := range sd {
				if reLayer.MatchString(k) {
					ex = k
					break
				}
			}
			return cfg, fmt.Errorf("model: missing key layers.%d.blocks.0.*: not a GRFormer checkpoint (it has e.g. %s)", g, ex)
		}
		k := fmt.Sprintf("layers.%d.blocks.0.attn.logit_scale", g)
		t, ok := sd[k]
		if !ok {
			return cfg, fmt.Errorf("model: missing key %s (not a GRFormer checkpoint?)", k)
		}
		if len(t.Shape) != 3 || t.Shape[1] != 1 || t.Shape[2] != 1 {
			return cfg, fmt.Errorf("model: %s has shape %v, want [heads, 1, 1]", k, t.Shape)
		}
		cfg.NumHeads[g] = t.Shape[0]
	}
	k := "layers.0.blocks.0.mlp.fc1.weight"
	if t, ok := sd[k]; ok && len(t.Shape) == 2 && cfg.EmbedDim > 0 {
		cfg.MLPRatio = float64(t.Shape[0]) / float64(cfg.EmbedDim)
	} else {
		return cfg, fmt.Errorf("model: missing or malformed key %s", k)
	}
	k = "upsample.0.weight"
	if t, ok := sd[k]; ok && len(t.Shape) == 4 && cfg.InChans > 0 {
		s := int(math.Round(math.Sqrt(float64(t.Shape[0]) / float64(cfg.InChans))))
		if s*s*cfg.InChans != t.Shape[0] {
			return cfg, fmt.Errorf("model: %s has %d output channels, not in_chans*s*s for any scale s", k, t.Shape[0])
		}
		cfg.Scale = s
	} else {
		return cfg, fmt.Errorf("model: missing or malformed key %s (only the pixelshuffledirect upsampler is supported)", k)
	}
	// Ablation variants (Config.AttnProj, PosBias), by their keys.
	const b0 = "layers.0.blocks.0.attn."
	if _, ok := sd[b0+"qkv.weight"]; ok {
		cfg.AttnProj = ProjQKV
	}
	_, esrpb := sd[b0+"ESRPB_MLP.0.weight"]
	_, cpb := sd[b0+"cpb_mlp.0.weight"]
	tbl, hasTable := sd[b0+"relative_position_bias_table"]
	switch {
	case esrpb:
	case cpb:
		cfg.PosBias = BiasCPBLog
	case hasTable && len(tbl.Shape) == 2:
		cfg.PosBias = BiasTable
	default:
		cfg.PosBias = BiasNone
	}
	// The window, from the first block's coordinate table buffer when there
	// is one (else the default [8, 32]).
	for _, k := range []string{b0 + "relative_position_bias_table", b0 + "relative_coords_table"} {
		t, ok := sd[k]
		if !ok || (k == b0+"relative_position_bias_table" && cfg.PosBias == BiasTable) {
			continue
		}
		if len(t.Shape) != 4 || t.Shape[1]%2 != 1 || t.Shape[2]%2 != 1 {
			return cfg, fmt.Errorf("model: %s has shape %v, want [1, 2Wh-1, 2Ww-1, 2]", k, t.Shape)
		}
		cfg.Window = [2]int{(t.Shape[1] + 1) / 2, (t.Shape[2] + 1) / 2}
	}
	// A learned table [(2Wh-1)(2Ww-1), heads] with the index buffer [n, n]
	// fixes Wh + Ww = (4n + 1 - rows) / 2 and Wh * Ww = n; the smaller side
	// is taken as Wh (the default orientation).
	if idx, ok := sd[b0+"relative_position_index"]; ok && cfg.PosBias == BiasTable && len(idx.Shape) == 2 && len(tbl.Shape) == 2 {
		n, rows := idx.Shape[0], tbl.Shape[0]
		sum := (4*n + 1 - rows) / 2
		for wh := 2; wh*wh <= n; wh++ {
			if n%wh == 0 && wh+n/wh == sum {
				cfg.Window = [2]int{wh, n / wh}
			}
		}
	}
	cfg.ImgSize = 64
	for g := range groups {
		if cfg.Depths[g] < 2 {
			continue
		}
		k := fmt.Sprintf("layers.%d.blocks.1.attn_mask", g)
		if t, ok := sd[k]; ok && len(t.Shape) == 3 {
			wa := cfg.Window[0] * cfg.Window[1]
			s := int(math.Round(math.Sqrt(float64(t.Shape[0] * wa))))
			if s*s == t.Shape[0]*wa {
				cfg.ImgSize = s
			}
		}
		break
	}
	return cfg, cfg.Validate()
}

func someKeys(sd checkpoint.StateDict) string {
	ks := make([]string, 0, len(sd))
	for k := range sd {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) > 3 {
		ks = ks[:3]
	}
	return fmt.Sprint(ks)
}
