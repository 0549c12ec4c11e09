package grformer

import (
	"bytes"
	"fmt"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/weights"
)

// Model is a loaded GRFormer network. It is safe for concurrent use.
type Model struct {
	net *model.Model
}

// Load reads weights from a BasicSR / PyTorch .pth file (params_ema, else
// params, else a bare state dict) or a .safetensors file, derives the
// configuration from the keys and shapes, and builds the model. Errors name
// the file and, for wrong weights, the key and both shapes.
func Load(path string) (*Model, error) {
	sd, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	m, err := FromStateDict(sd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// LoadDefault loads the weights that ship with grformer for scale (package
// weights: only x2 so far), embedded in the binary.
func LoadDefault(scale int) (*Model, error) {
	b, info, err := weights.For(scale)
	if err != nil {
		return nil, err
	}
	sd, _, err := checkpoint.Decode(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("grformer: shipped %s: %w", info.Name, err)
	}
	m, err := FromStateDict(sd)
	if err != nil {
		return nil, fmt.Errorf("grformer: shipped %s: %w", info.Name, err)
	}
	return m, nil
}

// FromStateDict builds a model from a state dict keyed by the reference's
// PyTorch names, deriving the configuration from it.
func FromStateDict(sd checkpoint.StateDict) (*Model, error) {
	cfg, err := model.ConfigFrom(sd)
	if err != nil {
		return nil, err
	}
	net, err := model.New(cfg, sd)
	if err != nil {
		return nil, err
	}
	return &Model{net: net}, nil
}

// Config returns the model's configuration.
func (m *Model) Config() model.Config { return m.net.Cfg }

// Scale returns the upscaling factor of the model.
func (m *Model) Scale() int { return m.net.Cfg.Scale }

// Net returns the underlying network, for the raw NCHW forward pass.
func (m *Model) Net() *model.Model { return m.net }
