package training

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/grformer/grformer/model"
)

// RunConfig is everything a training run needs besides the network. The
// YAML names (see ConfigHelp and docs/TRAINING.md) are those of the config
// file.
//
// With Resume, Run takes only Iters, LogEvery, ValEvery, SaveEvery, Val,
// Threads, Prefetch, CacheDir and Dataset from the given RunConfig; the
// rest (everything that decides the weights) comes from the run's saved
// state.
type RunConfig struct {
	// Dir is the run folder (the command's -out or -resume).
	Dir string `yaml:"out" json:"-"`
	// Data lists the folders of HR training images.
	Data []string `yaml:"data" json:"data"`
	// Scale is the upscaling factor; 0 takes the network's. It also
	// selects the model preset in the command.
	Scale int `yaml:"scale" json:"scale"`
	// Iters is the iteration the run stops at (the total, not a count
	// from a resume point).
	Iters int `yaml:"iters" json:"iters"`
	// Batch is the number of patches per iteration.
	Batch int `yaml:"batch" json:"batch"`
	// Patch is the LR patch side (HR patch: Patch*Scale).
	Patch int `yaml:"patch" json:"patch"`
	// LR is the base learning rate.
	LR float64 `yaml:"lr" json:"lr"`
	// Seed decides every random draw of the run (data, drop path) and
	// the initial weights of a run from scratch.
	Seed uint64 `yaml:"seed" json:"seed"`
	// Adam holds the optimiser's betas, eps and weight decay.
	Adam AdamConfig `yaml:"adam" json:"adam"`
	// Schedule is the learning-rate schedule.
	Schedule Schedule `yaml:"schedule" json:"schedule"`
	// EMA is the decay of the moving average of the weights (e.g. 0.999);
	// 0 disables it. With EMA, validation scores the averaged weights.
	EMA float64 `yaml:"ema" json:"ema"`
	// DropPath is the maximum stochastic-depth rate passed to Step.
	DropPath float64 `yaml:"drop_path" json:"drop_path"`
	// Flat is the fraction of samples replaced by flat patches of a
	// random colour (see Sampler.Flat); 0: none, as the paper.
	Flat float64 `yaml:"flat" json:"flat,omitempty"`
	// Val is a benchmark set folder validated every ValEvery iterations
	// and at the end; empty: no validation.
	Val string `yaml:"val" json:"val"`
	// ValEvery, SaveEvery and LogEvery are intervals in iterations;
	// 0 means only at the end of the run.
	ValEvery  int `yaml:"val_every" json:"val_every"`
	SaveEvery int `yaml:"save_every" json:"save_every"`
	LogEvery  int `yaml:"log_every" json:"log_every"`
	// CacheDir keeps the LR images made from the HR images between runs
	// (see DataOptions.CacheDir); empty: in memory only.
	CacheDir string `yaml:"cache_dir" json:"cache_dir"`
	// Threads bounds the goroutines of data loading and validation (the
	// network's own are its business); 0: GOMAXPROCS.
	Threads int `yaml:"threads" json:"threads"`
	// Prefetch is the number of batches prepared ahead (default 4).
	Prefetch int `yaml:"prefetch" json:"prefetch"`
	// Init (command only) is a checkpoint to start from instead of
	// random weights.
	Init string `yaml:"init" json:"init"`
	// Model (command only) changes the architecture from the light preset.
	Model ModelSpec `yaml:"model" json:"model"`

	// Resume continues the run saved in Dir.
	Resume bool `yaml:"-" json:"-"`
	// Dataset, when not nil, is used instead of loading Data.
	Dataset *Dataset `yaml:"-" json:"-"`
}

// ModelSpec changes fields of the light preset (model.Light(scale)); zero
// values keep the preset's.
type ModelSpec struct {
	EmbedDim int            `yaml:"embed_dim" json:"embed_dim,omitempty"`
	Depths   []int          `yaml:"depths" json:"depths,omitempty"`
	NumHeads []int          `yaml:"num_heads" json:"num_heads,omitempty"`
	Window   []int          `yaml:"window" json:"window,omitempty"`
	MLPRatio float64        `yaml:"mlp_ratio" json:"mlp_ratio,omitempty"`
	ImgSize  int            `yaml:"img_size" json:"img_size,omitempty"`
	ImgRange float64        `yaml:"img_range" json:"img_range,omitempty"`
	AttnProj model.AttnProj `yaml:"attn_proj" json:"attn_proj,omitempty"`
	PosBias  model.PosBias  `yaml:"pos_bias" json:"pos_bias,omitempty"`
}

// DefaultConfig is the paper's recipe (spec, "Training recipe") with the
// loop's defaults: batch 16, patch 64, Adam 2e-4 (0.9, 0.99), MultiStepLR
// 0.5, drop path 0.1, no EMA, log every 100, validate and save every 5000.
// Data, Scale, Iters and Dir must still be set.
func DefaultConfig() RunConfig {
	return RunConfig{
		Batch:     16,
		Patch:     64,
		LR:        2e-4,
		Adam:      DefaultAdam(),
		Schedule:  DefaultSchedule(),
		DropPath:  0.1,
		ValEvery:  5000,
		SaveEvery: 5000,
		LogEvery:  100,
		Prefetch:  4,
	}
}

// LoadConfigFile reads a YAML config file (JSON is YAML too) over cfg:
// the fields the file sets replace cfg's, the others stay. Unknown fields
// are an error, so that a typo is not silently ignored.
func LoadConfigFile(path string, cfg *RunConfig) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("training: config file: %w", err)
	}
	if err := ParseConfig(b, cfg); err != nil {
		return fmt.Errorf("training: config file %s: %w", path, err)
	}
	return nil
}

// ParseConfig is LoadConfigFile on the file's content.
func ParseConfig(b []byte, cfg *RunConfig) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file
		}
		return err
	}
	return nil
}

// Validate reports the first problem with the run's settings, or nil.
func (c *RunConfig) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("training: no run folder")
	case c.Iters < 1:
		return fmt.Errorf("training: iterations %d: want at least 1", c.Iters)
	case c.Batch < 1:
		return fmt.Errorf("training: batch %d: want at least 1", c.Batch)
	case c.Patch < 1:
		return fmt.Errorf("training: patch %d: want at least 1", c.Patch)
	case c.Scale < 0 || c.Scale > 8:
		return fmt.Errorf("training: scale %d out of range 1..8", c.Scale)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("training: learning rate %g must be positive", c.LR)
	case !(c.EMA >= 0 && c.EMA < 1):
		return fmt.Errorf("training: EMA decay %g not in [0, 1)", c.EMA)
	case !(c.Flat >= 0 && c.Flat <= 1):
		return fmt.Errorf("training: flat fraction %g not in [0, 1]", c.Flat)
	case !(c.DropPath >= 0 && c.DropPath < 1):
		return fmt.Errorf("training: drop path %g not in [0, 1)", c.DropPath)
	case c.ValEvery < 0 || c.SaveEvery < 0 || c.LogEvery < 0:
		return errors.New("training: negative val/save/log interval")
	case c.Threads < 0 || c.Prefetch < 0:
		return errors.New("training: negative threads or prefetch")
	case len(c.Data) == 0 && c.Dataset == nil:
		return errors.New("training: no training data folder")
	}
	return c.Adam.Validate()
}

// ModelConfig returns the architecture the config asks for: the light
// preset at Scale with Model's changes, validated.
func (c *RunConfig) ModelConfig() (model.Config, error) {
	if c.Scale < 1 {
		return model.Config{}, fmt.Errorf("training: no scale given (want 2, 3 or 4)")
	}
	m := model.Light(c.Scale)
	s := c.Model
	if s.EmbedDim != 0 {
		m.EmbedDim = s.EmbedDim
	}
	if len(s.Depths) > 0 {
		m.Depths = append([]int(nil), s.Depths...)
		if len(s.NumHeads) == 0 {
			h := m.NumHeads[0]
			m.NumHeads = make([]int, len(s.Depths))
			for i := range m.NumHeads {
				m.NumHeads[i] = h
			}
		}
	}
	if len(s.NumHeads) > 0 {
		m.NumHeads = append([]int(nil), s.NumHeads...)
	}
	switch len(s.Window) {
	case 0:
	case 2:
		m.Window = [2]int{s.Window[0], s.Window[1]}
	default:
		return m, fmt.Errorf("training: model window %v: want [Wh, Ww]", s.Window)
	}
	if s.MLPRatio != 0 {
		m.MLPRatio = s.MLPRatio
	}
	if s.ImgSize != 0 {
		m.ImgSize = s.ImgSize
	}
	if s.ImgRange != 0 {
		m.ImgRange = float32(s.ImgRange)
	}
	m.AttnProj, m.PosBias = s.AttnProj, s.PosBias
	if err := m.Validate(); err != nil {
		return m, fmt.Errorf("training: %w", err)
	}
	return m, nil
}

// ConfigHelp documents the config file's fields (for -h texts).
const ConfigHelp = `Config file (YAML; JSON works too). Every field is optional; flags given
on the command line override the file. Unknown fields are an error.

  data: [DIR, ...]       HR training image folders (png, jpg, bmp, webp, tif)
  scale: 2               upscaling factor (2, 3 or 4)
  iters: 500000          iteration to stop at
  out: RUNDIR            run folder
  batch: 16              patches per iteration
  patch: 64              LR patch side (HR patch = patch*scale)
  lr: 2.0e-4             base learning rate
  seed: 0                seed of the initial weights, the data and drop path
  adam: {beta1: 0.9, beta2: 0.99, eps: 1.0e-8, weight_decay: 0}
  schedule:
    kind: multistep      multistep | cosine | constant
    milestones: []       multistep; empty: 50%, 80%, 90%, 95% of iters
    gamma: 0.5           multistep factor
    period: 0            cosine length; 0: iters
    min_lr: 0            cosine final rate
    warmup: 0            linear warm-up iterations
  ema: 0                 EMA decay of the weights (e.g. 0.999); 0: off
  drop_path: 0.1         maximum stochastic-depth rate
  flat: 0                fraction of samples that are flat patches of a
                         random colour (teaches flat borders; 0: none)
  val: DIR               benchmark set validated during training (e.g. Set5)
  val_every: 5000        validation interval (and at the end)
  save_every: 5000       checkpoint interval (and at the end)
  log_every: 100         log.jsonl interval (and at the end)
  cache_dir: DIR         keep the bicubic LR images between runs
  threads: 0             goroutines (0: all cores)
  prefetch: 4            batches prepared ahead
  init: FILE             start from these weights (fine-tune; x2 -> x4: all
                         but upsample.*)
  model:                 changes to the light preset (C=60, 6x4 blocks, ...)
    embed_dim: 60
    depths: [6, 6, 6, 6]
    num_heads: [3, 3, 3, 3]
    window: [8, 32]
    mlp_ratio: 2
    img_size: 64         training size (only shapes exported attn_mask)
    img_range: 1
    attn_proj: grl       grl | qkv
    pos_bias: esrpb      esrpb | cpb-log | table | none`
