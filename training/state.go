package training

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/grformer/grformer/internal/atomicfile"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
)

// Files of a run folder.
const (
	StateFile     = "state.safetensors"
	StateJSON     = "state.json"
	LastFile      = "last.safetensors"
	LastEMAFile   = "last_ema.safetensors"
	LogFile       = "log.jsonl"
	PlotFile      = "plot.png"
	CheckpointDir = "checkpoints"
)

// stateVersion is the layout version of the saved state.
const stateVersion = 1

// metaKey is the safetensors metadata entry holding the state's JSON.
const metaKey = "grformer_train_state"

// State is what a run folder records besides the tensors.
type State struct {
	Version int `json:"version"`
	// Iter is the number of optimiser steps done.
	Iter int `json:"iter"`
	// Done is the last iteration whose validation, log line and
	// checkpoint (when due) were completed; it is Iter - 1 when the run
	// was interrupted while validating iteration Iter, which a resume
	// then redoes.
	Done int `json:"done"`
	// Config is the run's configuration, schedule resolved.
	Config RunConfig `json:"config"`
	// Model is the network's architecture.
	Model model.Config `json:"model"`
	// AdamSteps is the optimiser's step count.
	AdamSteps int `json:"adam_steps"`
	// LossSum and LossN accumulate the losses since the last log line.
	LossSum float64 `json:"loss_sum"`
	LossN   int     `json:"loss_n"`
	// LastLog is the iteration of the last log line.
	LastLog int `json:"last_log"`
	// Elapsed is the training time so far, in seconds, across resumes.
	Elapsed float64 `json:"elapsed_s"`
	// BestPSNR and BestIter are the best validation score so far.
	BestPSNR float64 `json:"best_psnr,omitempty"`
	BestIter int     `json:"best_iter,omitempty"`
	// Data is the training set's fingerprint (Dataset.Fingerprint).
	Data string `json:"data_fingerprint"`
	// Params lists the parameters in the network's order.
	Params []ParamInfo `json:"params"`
	// Saved is when the state was written (informational).
	Saved time.Time `json:"saved"`
}

// ParamInfo names one parameter and its shape.
type ParamInfo struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

func paramInfos(params []*Param) []ParamInfo {
	out := make([]ParamInfo, len(params))
	for i, p := range params {
		out[i] = ParamInfo{Name: p.Name, Shape: slices.Clone(p.Shape)}
	}
	return out
}

// Saved is a run folder's saved state with its tensors.
type Saved struct {
	State State
	// Weights holds the parameters (params only, PyTorch keys).
	Weights checkpoint.StateDict
	// M and V are Adam's moments, EMA the averaged weights (nil without
	// EMA), keyed like Weights.
	M, V, EMA checkpoint.StateDict
}

// Tensor name prefixes in state.safetensors.
const (
	prefixParam = "param/"
	prefixM     = "adam_m/"
	prefixV     = "adam_v/"
	prefixEMA   = "ema/"
)

// ErrNotRun is wrapped by ReadRun's error for a folder that holds no run.
var ErrNotRun = errors.New("not a training run folder")

// ReadRun reads the saved state of the run folder dir.
func ReadRun(dir string) (*Saved, error) {
	if st, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("training: run folder %s does not exist", dir)
		}
		return nil, fmt.Errorf("training: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("training: %s: %w (not a folder)", dir, ErrNotRun)
	}
	path := filepath.Join(dir, StateFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("training: %s: %w (no %s)", dir, ErrNotRun, StateFile)
	}
	sd, info, err := checkpoint.LoadWithInfo(path)
	if err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	js, ok := info.Metadata[metaKey]
	if !ok {
		return nil, fmt.Errorf("training: %s: no training state in the file's metadata", path)
	}
	s := &Saved{Weights: checkpoint.StateDict{}, M: checkpoint.StateDict{}, V: checkpoint.StateDict{}}
	if err := json.Unmarshal([]byte(js), &s.State); err != nil {
		return nil, fmt.Errorf("training: %s: training state: %w", path, err)
	}
	st := &s.State
	if st.Version != stateVersion {
		return nil, fmt.Errorf("training: %s: state version %d, this program reads %d", path, st.Version, stateVersion)
	}
	if st.Config.EMA > 0 {
		s.EMA = checkpoint.StateDict{}
	}
	for _, p := range st.Params {
		for _, x := range []struct {
			prefix string
			dst    checkpoint.StateDict
		}{{prefixParam, s.Weights}, {prefixM, s.M}, {prefixV, s.V}, {prefixEMA, s.EMA}} {
			if x.dst == nil {
				continue
			}
			t, ok := sd[x.prefix+p.Name]
			if !ok {
				return nil, fmt.Errorf("training: %s: missing tensor %s%s", path, x.prefix, p.Name)
			}
			if !slices.Equal(t.Shape, p.Shape) || t.DType != checkpoint.F32 {
				return nil, fmt.Errorf("training: %s: tensor %s%s is %s %v, want F32 %v", path, x.prefix, p.Name, t.DType, t.Shape, p.Shape)
			}
			x.dst[p.Name] = t
		}
	}
	if st.Iter < 0 || st.Done > st.Iter || st.Done < st.Iter-1 || st.AdamSteps < 0 {
		return nil, fmt.Errorf("training: %s: inconsistent state (iter %d, done %d)", path, st.Iter, st.Done)
	}
	return s, nil
}

// writeState writes state.safetensors (atomically: it is the commit point
// of a checkpoint) and then state.json.
func writeState(dir string, st *State, params []*Param, adam *Adam, ema *EMA) error {
	js, err := json.Marshal(st)
	if err != nil {
		return err
	}
	sd := checkpoint.StateDict{}
	for i, p := range params {
		sd[prefixParam+p.Name] = checkpoint.NewF32(p.Shape, p.Data)
		sd[prefixM+p.Name] = checkpoint.NewF32(p.Shape, adam.M[i])
		sd[prefixV+p.Name] = checkpoint.NewF32(p.Shape, adam.V[i])
		if ema != nil {
			sd[prefixEMA+p.Name] = checkpoint.NewF32(p.Shape, ema.Shadow[i])
		}
	}
	if err := atomicfile.Write(filepath.Join(dir, StateFile), func(w io.Writer) error {
		return checkpoint.WriteSafetensors(w, sd, map[string]string{metaKey: string(js)})
	}); err != nil {
		return fmt.Errorf("training: saving the state: %w", err)
	}
	pretty, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, StateJSON), func(w io.Writer) error {
		_, err := w.Write(append(pretty, '\n'))
		return err
	}); err != nil {
		return fmt.Errorf("training: %w", err)
	}
	return nil
}

// WriteWeights writes weights (one slice per parameter, named and shaped by
// params; nil: the parameters' Data) to path atomically, as safetensors with
// the model configuration as JSON in the metadata (key "grformer_config")
// or as a BasicSR .pth, by the extension.
func WriteWeights(path string, cfg model.Config, params []*Param, data [][]float32) error {
	sd := make(checkpoint.StateDict, len(params))
	for i, p := range params {
		d := p.Data
		if data != nil {
			d = data[i]
		}
		sd[p.Name] = checkpoint.NewF32(p.Shape, d)
	}
	if filepath.Ext(path) != ".safetensors" {
		return checkpoint.WriteFile(path, sd)
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, func(w io.Writer) error {
		return checkpoint.WriteSafetensors(w, sd, map[string]string{"format": "pt", ConfigMetaKey: string(cj)})
	}); err != nil {
		return fmt.Errorf("training: %s: %w", path, err)
	}
	return nil
}

// ConfigMetaKey is the safetensors metadata entry in which the weights
// files of a run carry the model configuration (JSON of model.Config).
const ConfigMetaKey = "grformer_config"
