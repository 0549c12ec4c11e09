package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/onnx"
	"github.com/grformer/grformer/training"
	wts "github.com/grformer/grformer/weights"
)

func init() {
	register("export", "convert weights to a BasicSR .pth, a .safetensors file or an ONNX model", runExport)
}

const exportHelp = `Usage: grformer export -weights FILE|RUNDIR -o OUT.pth|OUT.safetensors|OUT.onnx [flags]

Converts GRFormer weights. OUT.pth is what BasicSR saves, {'params':
state_dict} in PyTorch's zip format, which torch.load reads and the
reference architecture loads with strict key matching: every parameter plus
the buffers the reference registers, derived from the configuration:
relative_position_bias_table [1, 2Wh-1, 2Ww-1, 2], relative_position_index
(int64) [n, n] and, on shifted blocks, attn_mask [nW, n, n] for an
img_size x img_size input (64 for the light model). OUT.safetensors holds the
same tensors (or the parameters only with -params-only). OUT.onnx is the
network as an ONNX graph (opset 17; input "input" [N, 3, H, W], output
"output" [N, 3, H*s, W*s], N, H and W dynamic) for ONNX Runtime and the
engines that read ONNX.

The configuration (window, img_size) comes from -config, else from the
weights file's metadata (files written by "grformer train" carry it), else
from the keys and shapes (a full checkpoint's buffers, or the light preset's
window). -weights RUNDIR takes RUNDIR/last.safetensors (last_ema with -ema).

Examples:
  grformer export -weights runs/x2 -o GRFormer_x2.pth
  grformer export -weights runs/x2/checkpoints/iter_5000.safetensors -o x2.safetensors
  grformer export -weights GRFormer_x4.pth -o grformer_x4.onnx
  grformer export -weights shipped -scale 2 -o grformer_x2.pth

Flags:`

func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", exportHelp, stdout, stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), exportHelp)
		fs.PrintDefaults()
	}
	weights := fs.String("weights", "", "weights `file` (.pth or .safetensors), a training run folder, or \"shipped\" (with -scale)")
	scale := fs.Int("scale", 4, "with -weights shipped: which shipped weights")
	outPath := fs.String("o", "", "output `file`: .pth (BasicSR), .safetensors or .onnx")
	configFile := fs.String("config", "", "training config `file` giving the architecture (model:, scale:)")
	imgSize := fs.Int("img-size", 0, "training `size` the attn_mask buffers are made for (default: the config's)")
	paramsOnly := fs.Bool("params-only", false, "write the parameters only, no buffers")
	useEMA := fs.Bool("ema", false, "with -weights RUNDIR: the EMA weights (last_ema.safetensors)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if *weights == "" || *outPath == "" {
		fs.Usage()
		return errors.New("need -weights FILE and -o OUT")
	}
	ext := strings.ToLower(filepath.Ext(*outPath))
	if ext != ".pth" && ext != ".safetensors" && ext != ".onnx" {
		return fmt.Errorf("-o %s: want a .pth or .safetensors (weights) or .onnx (graph) file name", *outPath)
	}
	if *imgSize < 0 {
		return fmt.Errorf("invalid -img-size %d", *imgSize)
	}
	in := *weights
	var sd checkpoint.StateDict
	var info *checkpoint.LoadInfo
	var err error
	if in == shippedWeights {
		var w wts.Info
		if sd, info, w, err = shippedStateDict(*scale); err != nil {
			return err
		}
		in = "shipped " + w.Name
	} else if st, err := os.Stat(in); err == nil && st.IsDir() {
		name := training.LastFile
		if *useEMA {
			name = training.LastEMAFile
		}
		in = filepath.Join(in, name)
	} else if *useEMA {
		return errors.New("-ema needs -weights RUNDIR")
	}
	if sd == nil {
		if sd, info, err = checkpoint.LoadWithInfo(in); err != nil {
			return err
		}
	}
	cfg, guessed, err := exportConfig(sd, info, *configFile)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if guessed {
		fmt.Fprintf(stderr, "export: warning: %s says nothing of the window: assuming %v (the light model's); give -config if it was trained with another\n", in, cfg.Window)
	}
	if *imgSize > 0 {
		cfg.ImgSize = *imgSize
	}
	out := model.ParamsOnly(cfg, sd)
	if _, err := model.New(cfg, out); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if ext == ".onnx" {
		if err := onnx.WriteFile(*outPath, cfg, out); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "export: %s -> %s (ONNX opset %d, x%d, window %v)\n", in, *outPath, onnx.Opset, cfg.Scale, cfg.Window)
		return nil
	}
	if !*paramsOnly {
		if out, err = model.FullStateDict(cfg, out); err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
	}
	if err := checkpoint.WriteFile(*outPath, out); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "export: %s -> %s (%d tensors, x%d, window %v, img_size %d)\n", in, *outPath, len(out), cfg.Scale, cfg.Window, cfg.ImgSize)
	return nil
}

// exportConfig finds the architecture of sd: from a config file, the
// file's metadata, or the keys and shapes. guessed reports a window taken
// from the light preset for want of any information in the file.
func exportConfig(sd checkpoint.StateDict, info *checkpoint.LoadInfo, configFile string) (cfg model.Config, guessed bool, err error) {
	derived, derr := model.ConfigFrom(sd)
	if configFile != "" {
		rc := training.DefaultConfig()
		if err := training.LoadConfigFile(configFile, &rc); err != nil {
			return model.Config{}, false, err
		}
		if rc.Scale == 0 {
			if derr != nil {
				return model.Config{}, false, derr
			}
			rc.Scale = derived.Scale
		}
		cfg, err := rc.ModelConfig()
		return cfg, false, err
	}
	if info != nil {
		if js, ok := info.Metadata[training.ConfigMetaKey]; ok {
			var c model.Config
			if err := json.Unmarshal([]byte(js), &c); err != nil {
				return c, false, fmt.Errorf("metadata %s: %w", training.ConfigMetaKey, err)
			}
			return c, false, c.Validate()
		}
	}
	if derr != nil {
		return derived, false, derr
	}
	const b0 = "layers.0.blocks.0.attn."
	_, table := sd[b0+"relative_position_bias_table"]
	_, coords := sd[b0+"relative_coords_table"]
	_, index := sd[b0+"relative_position_index"]
	return derived, !table && !coords && !index && derived.Bias() != model.BiasNone, nil
}
