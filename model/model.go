package model

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/grformer/grformer/checkpoint"
)

// Model is a GRFormer network with its weights, ready to run. It is safe for
// concurrent use by several goroutines.
type Model struct {
	Cfg Config

	layers // convFirst, groups, normW, normB, convAfter, upsample

	mu   sync.Mutex
	geos GeometryCache // window index maps and mask labels per size
	pool sync.Pool     // *Workspace
}

// Trace, when set on a Forward call, receives intermediate tensors by the
// golden-file stage names of the reference (see ../shared/golden/README.md),
// for batch item 0. layout is "HWC" (h, w, c = dims) for token tensors,
// "raw" for tensors already in the reference's layout.
type Trace func(name, layout string, data []float32, dims ...int)

// New builds a model with the given configuration from a state dict keyed by
// the reference's PyTorch names, checked against Schema(cfg) by
// CheckStateDict: every parameter must be present with its exact shape;
// the derivable buffers are optional and, when present, checked against
// what the model computes. Any other key is an error.
func New(cfg Config, sd checkpoint.StateDict) (*Model, error) {
	if err := CheckStateDict(cfg, sd); err != nil {
		return nil, err
	}
	l, err := NewLayers(cfg)
	if err != nil {
		return nil, err
	}
	l.Load(func(key string) []float32 { return sd[key].F32 })
	return &Model{Cfg: cfg, layers: l.layers, geos: GeometryCache{}}, nil
}

// Options control one Forward call.
type Options struct {
	// Threads limits the goroutines used; 0 means GOMAXPROCS.
	Threads int
	// Trace, when set, receives intermediate tensors (see Trace).
	Trace Trace
	// Ctx, when set, is checked between blocks: a cancelled forward pass
	// stops early and Forward returns Ctx.Err().
	Ctx context.Context
}

func (o Options) threads() int {
	if o.Threads > 0 {
		return o.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// PaddedSize returns the size an h x w input is padded to (spec, step 1).
func (c Config) PaddedSize(h, w int) (hp, wp int) {
	p := c.PadMultiple()
	return (h + p - 1) / p * p, (w + p - 1) / p * p
}

// Forward runs the network on a batch x: n images of 3 x h x w (NCHW, values
// nominally in [0, 1]) and returns n x 3 x h*s x w*s, not clamped (spec,
// "Forward pass").
func (m *Model) Forward(x []float32, n, h, w int, opt Options) ([]float32, error) {
	c, s := m.Cfg.InChans, m.Cfg.Scale
	if n < 1 || h < 1 || w < 1 {
		return nil, fmt.Errorf("model: bad input size %dx%dx%dx%d", n, c, h, w)
	}
	if len(x) != n*c*h*w {
		return nil, fmt.Errorf("model: input has %d values, want %d (n=%d c=%d h=%d w=%d)", len(x), n*c*h*w, n, c, h, w)
	}
	out := make([]float32, n*c*h*s*w*s)
	for i := range n {
		if i > 0 {
			opt.Trace = nil
		}
		if err := m.forwardOne(out[i*c*h*s*w*s:(i+1)*c*h*s*w*s], x[i*c*h*w:(i+1)*c*h*w], h, w, opt); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// forwardOne runs one image: x is [3, h, w], dst is [3, h*s, w*s].
func (m *Model) forwardOne(dst, x []float32, h, w int, opt Options) error {
	th := opt.threads()
	hp, wp := m.Cfg.PaddedSize(h, w)
	ws := m.getWorkspace(hp, wp, th)
	defer m.pool.Put(ws)
	return m.forward(m.Cfg, dst, x, 1, h, w, ws, th, m.geometry, nil, opt.Trace, opt.Ctx)
}

// getWorkspace takes a workspace for this size from the pool, or makes one.
func (m *Model) getWorkspace(hp, wp, threads int) *Workspace {
	if v := m.pool.Get(); v != nil {
		ws := v.(*Workspace)
		if ws.hp == hp && ws.wp == wp && ws.threads >= threads {
			return ws
		}
	}
	return newWorkspace(m.Cfg, 1, hp, wp, threads, false)
}

// geometry returns block b's window geometry at padded size hp x wp from
// the model's cache.
func (m *Model) geometry(hp, wp int, b *Block) *Geometry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.geos.Get(hp, wp, b.wh, b.ww, b.sh, b.sw)
}
