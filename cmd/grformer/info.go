package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/weights"
)

func init() {
	register("info", "show a model's configuration, parameters and MACs", runInfo)
}

var presets = map[string]func() model.Config{
	"light-x2": func() model.Config { return model.Light(2) },
	"light-x3": func() model.Config { return model.Light(3) },
	"light-x4": func() model.Config { return model.Light(4) },
}

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("info", `Usage: grformer info [-weights FILE | -preset NAME] [flags]

Without -weights or -preset, lists the weights that ship with grformer and
their scores. Otherwise prints the configuration detected from the weights (or of a preset), and the
parameters and multiply-accumulates (MACs) of every component for one input
size: on the padded size the model computes and on the unpadded size, with
the attention products q.k^T and attn.v listed apart (some papers leave them
out). The default size is the field's convention: an output of 1280x720.
-compare sets GRFormer's self-attention (GRSA) against the usual window
attention forms.

Examples:
  grformer info
  grformer info -weights shipped -scale 2
  grformer info -preset light-x4
  grformer info -weights GRFormer_x2.pth -size 640x360 -json
  grformer info -preset light-x4 -compare
  grformer info -preset light-x4 -proj qkv -bias table`, stdout, stderr)
	weights := fs.String("weights", "", "weights `file` (.pth or .safetensors), or \"shipped\" (with -scale)")
	scale := fs.Int("scale", 4, "with -weights shipped: which shipped weights")
	preset := fs.String("preset", "", "a preset instead of weights: light-x2, light-x3 or light-x4")
	size := fs.String("size", "", "LR input size `WxH` (default: the LR size of a 1280x720 output)")
	outSize := fs.String("out-size", "", "output size `WxH`; the LR size is ceil(out/scale)")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	compare := fs.Bool("compare", false, "compare GRSA with the qkv+table and qkv+cpb-log attention forms")
	proj := fs.String("proj", "", "with -preset: attention projection variant, grl or qkv")
	bias := fs.String("bias", "", "with -preset: position bias variant, esrpb, cpb-log, table or none")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	var cfg model.Config
	source := ""
	switch {
	case *weights != "" && *preset != "":
		return fmt.Errorf("give -weights or -preset, not both")
	case *weights != "":
		if *proj != "" || *bias != "" {
			return fmt.Errorf("-proj and -bias go with -preset; weights carry their own variant")
		}
		var m *grformer.Model
		var err error
		if *weights == shippedWeights {
			m, err = grformer.LoadDefault(*scale)
			source = fmt.Sprintf("shipped x%d", *scale)
		} else {
			m, err = grformer.Load(*weights)
			source = *weights
		}
		if err != nil {
			return err
		}
		cfg = m.Config()
	case *preset != "":
		p, ok := presets[*preset]
		if !ok {
			return fmt.Errorf("unknown preset %q (have light-x2, light-x3, light-x4)", *preset)
		}
		cfg, source = p(), "preset "+*preset
		cfg.AttnProj, cfg.PosBias = model.AttnProj(*proj), model.PosBias(*bias)
		if err := cfg.Validate(); err != nil {
			return err
		}
	default:
		return printShipped(stdout, *asJSON)
	}
	w, h, err := lrSize(cfg.Scale, *size, *outSize)
	if err != nil {
		return err
	}
	if *compare {
		return printCompare(stdout, cfg, w, h, *asJSON)
	}
	costs := cfg.Costs(h, w)
	hp, wp := cfg.PaddedSize(h, w)
	if *asJSON {
		type comp struct {
			Name         string  `json:"name"`
			Params       int     `json:"params"`
			GMACPadded   float64 `json:"gmac_padded"`
			GMACUnpadded float64 `json:"gmac_unpadded"`
			AttnProduct  bool    `json:"attention_product"`
		}
		var comps []comp
		for _, k := range costs {
			comps = append(comps, comp{k.Name, k.Params, gmac(k.MACsPadded), gmac(k.MACsUnpadded), k.AttnProduct})
		}
		t := totals(costs)
		return json.NewEncoder(stdout).Encode(map[string]any{
			"source": source, "embed_dim": cfg.EmbedDim, "depths": cfg.Depths,
			"num_heads": cfg.NumHeads, "window_size": cfg.Window, "mlp_ratio": cfg.MLPRatio,
			"upscale": cfg.Scale, "img_size": cfg.ImgSize, "attn_proj": cfg.Proj(), "pos_bias": cfg.Bias(),
			"params": cfg.NumParams(), "input": []int{w, h}, "padded": []int{wp, hp},
			"output": []int{w * cfg.Scale, h * cfg.Scale}, "components": comps,
			"gmac_padded": t.pad, "gmac_unpadded": t.unpad,
			"gmac_padded_no_attn": t.padNoAttn, "gmac_unpadded_no_attn": t.unpadNoAttn,
		})
	}
	fmt.Fprintf(stdout, "source       %s\n", source)
	fmt.Fprintf(stdout, "scale        x%d\n", cfg.Scale)
	fmt.Fprintf(stdout, "embed dim    %d\n", cfg.EmbedDim)
	fmt.Fprintf(stdout, "depths       %s\n", joinInts(cfg.Depths))
	fmt.Fprintf(stdout, "heads        %s\n", joinInts(cfg.NumHeads))
	fmt.Fprintf(stdout, "window       %dx%d (blocks 2,3 mod 4: %dx%d)\n", cfg.Window[0], cfg.Window[1], cfg.Window[1], cfg.Window[0])
	fmt.Fprintf(stdout, "mlp ratio    %g (hidden %d)\n", cfg.MLPRatio, cfg.Hidden())
	fmt.Fprintf(stdout, "attention    %s projection, %s position bias\n", cfg.Proj(), cfg.Bias())
	fmt.Fprintf(stdout, "train size   %d (attn_mask buffers)\n", cfg.ImgSize)
	fmt.Fprintf(stdout, "parameters   %s\n\n", thousands(cfg.NumParams()))
	fmt.Fprintf(stdout, "MACs for LR %dx%d (padded to %dx%d) -> %dx%d:\n\n", w, h, wp, hp, w*cfg.Scale, h*cfg.Scale)
	fmt.Fprintln(stdout, "| component | params | GMAC padded | GMAC unpadded |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|")
	for _, k := range costs {
		name := k.Name
		if k.AttnProduct {
			name += " (attention product)"
		}
		fmt.Fprintf(stdout, "| %s | %s | %.3f | %.3f |\n", name, thousands(k.Params), gmac(k.MACsPadded), gmac(k.MACsUnpadded))
	}
	t := totals(costs)
	fmt.Fprintf(stdout, "| **total, with attention products** | %s | %.2f | %.2f |\n", thousands(cfg.NumParams()), t.pad, t.unpad)
	fmt.Fprintf(stdout, "| **total, without attention products** | | %.2f | %.2f |\n", t.padNoAttn, t.unpadNoAttn)
	return nil
}

type macTotals struct{ pad, unpad, padNoAttn, unpadNoAttn float64 }

func totals(costs []model.Component) macTotals {
	var t macTotals
	for _, k := range costs {
		t.pad += gmac(k.MACsPadded)
		t.unpad += gmac(k.MACsUnpadded)
		if !k.AttnProduct {
			t.padNoAttn += gmac(k.MACsPadded)
			t.unpadNoAttn += gmac(k.MACsUnpadded)
		}
	}
	return t
}

func gmac(m int64) float64 { return float64(m) / 1e9 }

// lrSize picks the LR input size from -size, -out-size or the default
// 1280x720 output.
func lrSize(scale int, size, outSize string) (w, h int, err error) {
	switch {
	case size != "" && outSize != "":
		return 0, 0, fmt.Errorf("give -size or -out-size, not both")
	case size != "":
		return parseSize(size)
	}
	if outSize == "" {
		outSize = "1280x720"
	}
	ow, oh, err := parseSize(outSize)
	if err != nil {
		return 0, 0, err
	}
	return (ow + scale - 1) / scale, (oh + scale - 1) / scale, nil
}

// attnForm is one form of the self-attention module for -compare.
type attnForm struct {
	Name                      string  `json:"form"`
	ParamsPerBlock            float64 `json:"params_per_block"`
	ParamsModel               int     `json:"params_model"`
	GMACModel                 float64 `json:"gmac_model"`
	GMACModelNoAttn           float64 `json:"gmac_model_no_attn"`
	MMACPerBlock              float64 `json:"mmac_per_block"`
	MMACPerBlockNoAttn        float64 `json:"mmac_per_block_no_attn"`
	ParamReductionPct         float64 `json:"grsa_param_reduction_pct"`
	MACReductionPct           float64 `json:"grsa_mac_reduction_pct"`
	MACReductionNoAttnPct     float64 `json:"grsa_mac_reduction_no_attn_pct"`
	ModelParams               int     `json:"whole_model_params"`
	ModelGMAC, ModelGMACNoAtt float64 `json:"-"`
}

func printCompare(stdout io.Writer, base model.Config, w, h int, asJSON bool) error {
	blocks := 0
	for _, d := range base.Depths {
		blocks += d
	}
	forms := []struct {
		name string
		proj model.AttnProj
		bias model.PosBias
	}{
		{"GRSA (grl + esrpb)", model.ProjGRL, model.BiasESRPB},
		{"qkv + table (SwinIR MSA)", model.ProjQKV, model.BiasTable},
		{"qkv + cpb-log (Swin V2)", model.ProjQKV, model.BiasCPBLog},
	}
	var out []attnForm
	for _, f := range forms {
		cfg := base
		cfg.AttnProj, cfg.PosBias = f.proj, f.bias
		var a attnForm
		a.Name = f.name
		for _, k := range cfg.Costs(h, w) {
			if !model.SelfAttention(k.Name) {
				continue
			}
			a.ParamsModel += k.Params
			a.GMACModel += gmac(k.MACsPadded)
			if !k.AttnProduct {
				a.GMACModelNoAttn += gmac(k.MACsPadded)
			}
		}
		a.ParamsPerBlock = float64(a.ParamsModel) / float64(blocks)
		a.MMACPerBlock = a.GMACModel * 1e3 / float64(blocks)
		a.MMACPerBlockNoAttn = a.GMACModelNoAttn * 1e3 / float64(blocks)
		a.ModelParams = cfg.NumParams()
		out = append(out, a)
	}
	g := out[0]
	red := func(ours, theirs float64) float64 { return 100 * (1 - ours/theirs) }
	for i := range out {
		out[i].ParamReductionPct = red(float64(g.ParamsModel), float64(out[i].ParamsModel))
		out[i].MACReductionPct = red(g.GMACModel, out[i].GMACModel)
		out[i].MACReductionNoAttnPct = red(g.GMACModelNoAttn, out[i].GMACModelNoAttn)
	}
	hp, wp := base.PaddedSize(h, w)
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"input": []int{w, h}, "padded": []int{wp, hp}, "blocks": blocks, "forms": out,
		})
	}
	fmt.Fprintf(stdout, "Self-attention module (q/k/v and output projections, q.k^T, attn.v, position bias,\n"+
		"logit scales) of x%d, LR %dx%d padded to %dx%d, %d blocks. Reduction = GRSA's saving against that form.\n\n",
		base.Scale, w, h, wp, hp, blocks)
	fmt.Fprintln(stdout, "| form | params / block | MMAC / block | MMAC / block w/o attn products | model params | GRSA params saved | GRSA MACs saved | GRSA MACs saved w/o attn products |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, a := range out {
		fmt.Fprintf(stdout, "| %s | %s | %.1f | %.1f | %s | %.1f%% | %.1f%% | %.1f%% |\n", a.Name,
			thousands(int(a.ParamsPerBlock+0.5)), a.MMACPerBlock, a.MMACPerBlockNoAttn, thousands(a.ModelParams),
			a.ParamReductionPct, a.MACReductionPct, a.MACReductionNoAttnPct)
	}
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// thousands formats n with comma separators: 780936 -> "780,936".
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && r != '-' && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// printShipped lists the shipped weights with their scores.
func printShipped(stdout io.Writer, asJSON bool) error {
	type row struct {
		Name   string  `json:"name"`
		Scale  int     `json:"scale"`
		Params int     `json:"params"`
		Set5   float64 `json:"set5_psnr"`
		Set14  float64 `json:"set14_psnr"`
		B100   float64 `json:"b100_psnr"`
	}
	var rows []row
	for _, s := range weights.Scales() {
		m, err := grformer.LoadDefault(s)
		if err != nil {
			return err
		}
		_, w, _ := weights.For(s)
		rows = append(rows, row{w.Name, s, m.Config().NumParams(), w.Set5, w.Set14, w.B100})
	}
	if asJSON {
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		return e.Encode(rows)
	}
	fmt.Fprintln(stdout, "Shipped weights (grformer upscale uses them when no -weights is given; PSNR on Y, dB):")
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "| weights | scale | params | Set5 | Set14 | B100 |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintf(stdout, "| %s | x%d | %d | %.2f | %.2f | %.2f |\n", r.Name, r.Scale, r.Params, r.Set5, r.Set14, r.B100)
	}
	return nil
}
