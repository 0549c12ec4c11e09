package grformer

import (
	"context"
	"errors"
	"fmt"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
)

// Model is a loaded GRFormer network. It is safe for concurrent use.
type Model struct {
	net    *model.Model
	source string // where the weights came from, for messages
}

// Load reads weights from a BasicSR / PyTorch .pth file or a .safetensors
// file, derives the configuration from the keys and shapes, and builds the
// model. Errors name the file and, for wrong weights, the key and both
// shapes.
func Load(path string) (*Model, error) {
	sd, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	m, err := FromStateDict(sd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.source = path
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

// Scale returns the upscaling factor of the model (2, 3 or 4 for the
// paper's models).
func (m *Model) Scale() int { return m.net.Cfg.Scale }

// Net returns the underlying network, for researchers who need the raw
// forward pass (model.Model.Forward).
func (m *Model) Net() *model.Model { return m.net }

// Options control an upscale.
type Options struct {
	// Threads limits the goroutines used; 0 means GOMAXPROCS.
	Threads int
}

// ErrEmptyImage is returned for images with no pixels.
var ErrEmptyImage = errors.New("grformer: image has no pixels")

// UpscalePlanar runs the model on one planar RGB image, pix = [3][h][w]
// float32 values nominally in [0, 1], and returns [3][h*s][w*s] clamped to
// [0, 1]. ctx is checked before the work starts.
func (m *Model) UpscalePlanar(ctx context.Context, pix []float32, h, w int, opt Options) ([]float32, error) {
	if h < 1 || w < 1 {
		return nil, ErrEmptyImage
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := m.net.Forward(pix, 1, h, w, model.Options{Threads: opt.Threads})
	if err != nil {
		return nil, err
	}
	for i, v := range out {
		out[i] = min(max(v, 0), 1)
	}
	return out, nil
}
