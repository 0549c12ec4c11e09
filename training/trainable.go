package training

import (
	"github.com/grformer/grformer/internal/param"
	"github.com/grformer/grformer/model"
)

// Param is one trainable tensor with its gradient (see package
// internal/param, shared with package backprop).
type Param = param.Param

// Trainable is a network the loop can train. backprop.Net implements it.
type Trainable interface {
	// Config is the network's architecture.
	Config() model.Config
	// Params returns every trainable parameter in a fixed order, each
	// with its PyTorch key, shape, data and gradient buffer (same length).
	// The slices stay valid for the network's life.
	Params() []*Param
	// Step zeroes the gradients, runs forward and backward on a batch
	// (x: n x 3 x h x w LR, target: n x 3 x h*s x w*s HR, NCHW float32 in
	// [0,1]) with mean L1 loss, and returns the loss. dropSeed seeds
	// stochastic depth for this step; dropRate is the model's maximum
	// drop-path rate (0 disables it).
	Step(x, target []float32, n, h, w int, dropRate float64, dropSeed uint64) (loss float64, err error)
}
