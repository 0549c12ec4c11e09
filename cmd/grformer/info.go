package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/model"
)

func init() {
	register("info", "show a model's configuration and parameter count", runInfo)
}

var presets = map[string]func() model.Config{
	"light-x2": func() model.Config { return model.Light(2) },
	"light-x3": func() model.Config { return model.Light(3) },
	"light-x4": func() model.Config { return model.Light(4) },
}

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("info", `Usage: grformer info (-weights FILE | -preset NAME) [-json]

Prints the configuration detected from the weights (or of a preset) and the
number of parameters.

Example:
  grformer info -weights GRFormer_x4.pth
  grformer info -preset light-x4`, stderr)
	weights := fs.String("weights", "", "weights `file` (.pth or .safetensors)")
	preset := fs.String("preset", "", "a preset instead of weights: light-x2, light-x3 or light-x4")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var cfg model.Config
	source := ""
	switch {
	case *weights != "" && *preset != "":
		return fmt.Errorf("give -weights or -preset, not both")
	case *weights != "":
		m, err := grformer.Load(*weights)
		if err != nil {
			return err
		}
		cfg, source = m.Config(), *weights
	case *preset != "":
		p, ok := presets[*preset]
		if !ok {
			return fmt.Errorf("unknown preset %q (have light-x2, light-x3, light-x4)", *preset)
		}
		cfg, source = p(), "preset "+*preset
	default:
		fs.Usage()
		return fmt.Errorf("need -weights FILE or -preset NAME")
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(map[string]any{
			"source": source, "embed_dim": cfg.EmbedDim, "depths": cfg.Depths,
			"num_heads": cfg.NumHeads, "window_size": cfg.Window, "mlp_ratio": cfg.MLPRatio,
			"upscale": cfg.Scale, "img_size": cfg.ImgSize, "params": cfg.NumParams(),
		})
	}
	fmt.Fprintf(stdout, "source       %s\n", source)
	fmt.Fprintf(stdout, "scale        x%d\n", cfg.Scale)
	fmt.Fprintf(stdout, "embed dim    %d\n", cfg.EmbedDim)
	fmt.Fprintf(stdout, "depths       %s\n", joinInts(cfg.Depths))
	fmt.Fprintf(stdout, "heads        %s\n", joinInts(cfg.NumHeads))
	fmt.Fprintf(stdout, "window       %dx%d (blocks 2,3 mod 4: %dx%d)\n", cfg.Window[0], cfg.Window[1], cfg.Window[1], cfg.Window[0])
	fmt.Fprintf(stdout, "mlp ratio    %g (hidden %d)\n", cfg.MLPRatio, cfg.Hidden())
	fmt.Fprintf(stdout, "train size   %d (attn_mask buffers)\n", cfg.ImgSize)
	fmt.Fprintf(stdout, "parameters   %s\n", thousands(cfg.NumParams()))
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
