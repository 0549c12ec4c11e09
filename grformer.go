package grformer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"strings"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/resize"
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
	// A NaN or Inf weight would make every output black; attention masks
	// are left out (fp16 stores their -1e9 as -Inf, and the model derives
	// and checks them itself).
	if err := sd.CheckFinite(func(k string) bool { return !strings.HasSuffix(k, "attn_mask") }); err != nil {
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

// Alpha modes (Options.Alpha).
const (
	// AlphaModel upscales the alpha channel with the model, as a gray
	// image: sharp edges, at the cost of a second pass.
	AlphaModel = "model"
	// AlphaBicubic upscales the alpha channel with MATLAB's bicubic
	// (package resize, in float64): cheap, softer edges.
	AlphaBicubic = "bicubic"
)

// Options control an upscale. The zero value is a good default: all cores,
// tiles chosen from a 2 GiB budget, no self-ensemble, alpha by the model.
type Options struct {
	// Threads limits the goroutines used; 0 means GOMAXPROCS.
	Threads int

	// Tile is the side, in input (LR) pixels, of the square tiles the image
	// is processed in, rounded up to a multiple of the model's pad multiple
	// (its larger window side; the model pads to that anyway). 0 chooses,
	// among the sizes that keep the estimated memory of the call within
	// MaxMemory, the one that computes the fewest pixels; an image that
	// fits is processed whole, which is exactly the untiled forward pass.
	// With Tile >= 128 and the default TileOverlap, a tiled result is
	// within 1/255 of the untiled one (see tile.go for measurements).
	Tile int

	// TileOverlap is the context, in LR pixels, that the tiles reach beyond
	// every output pixel they contribute to: neighbouring tiles overlap by
	// at least 2.5 times it, and are blended over the middle fifth of that.
	// 0 means DefaultTileOverlap (32), a negative value none (tiles abut,
	// seams show). A positive value below the model's pad multiple (its
	// larger window side, 32 for the light models) is raised to it: with
	// less context than one window a tile's attention sees too little of
	// its neighbourhood (an overlap of 16 on the light model gave 2.5/255).
	// A tile must exceed the overlap by the pad multiple.
	TileOverlap int

	// MaxMemory is the memory budget in bytes, 0 meaning DefaultMaxMemory
	// (2 GiB). When Tile is 0, the tile size is chosen so that the estimated
	// memory this call allocates (the result, copies of the input, the
	// model's buffers for one tile) stays within 80% of it; the rest is
	// headroom for the garbage collector, which stays within the budget when
	// the program sets a memory limit of MaxMemory (GOMEMLIMIT or
	// runtime/debug.SetMemoryLimit), as the grformer command does. If even
	// the smallest tile does not fit, the call fails with ErrMemoryBudget
	// before running the model. The caller's input is not counted.
	MaxMemory int64

	// TTA turns on the self-ensemble: the result is the mean of the eight
	// flips and rotations of the input, each upscaled and transformed back
	// (eight times the work).
	TTA bool

	// Alpha chooses how an alpha channel is upscaled: AlphaModel (the
	// default, also for "") or AlphaBicubic.
	Alpha string

	// Progress, when set, is called with (0, total) before the first tile
	// and (done, total) after each tile, on the calling goroutine. total
	// counts every forward pass: tiles times 8 with TTA, times 2 when alpha
	// goes through the model.
	Progress func(done, total int)
}

var (
	// ErrEmptyImage is returned for images with no pixels.
	ErrEmptyImage = errors.New("grformer: image has no pixels")

	// ErrMemoryBudget is returned (wrapped, with the sizes) when an image
	// cannot be upscaled within Options.MaxMemory even with the smallest
	// tiles; the result alone may be too large.
	ErrMemoryBudget = errors.New("grformer: memory budget too small")
)

// UpscalePlanar runs the model on one planar RGB image, pix = [3][h][w]
// float32 values nominally in [0, 1], and returns [3][h*s][w*s] clamped to
// [0, 1]. Tiles, the self-ensemble and progress follow opt (Alpha does not
// apply). A cancelled ctx stops the work and returns ctx.Err().
func (m *Model) UpscalePlanar(ctx context.Context, pix []float32, h, w int, opt Options) ([]float32, error) {
	if h < 1 || w < 1 {
		return nil, ErrEmptyImage
	}
	if len(pix) != 3*h*w {
		return nil, fmt.Errorf("grformer: %d values for a 3x%dx%d image", len(pix), h, w)
	}
	r, err := m.resolve(opt)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := m.Scale()
	on := int64(h*s) * int64(w*s)
	e, err := m.newEngine(ctx, r, h, w, 3*4*on, 1, opt.Progress)
	if err != nil {
		return nil, err
	}
	out := make([]float32, 3*on)
	if e.progress != nil {
		e.progress(0, e.total)
	}
	if err := e.pass(pix, 3, h, w, out, false); err != nil {
		return nil, err
	}
	clamp01(out)
	return out, nil
}

// UpscaleImage upscales a decoded image, keeping what the file had: depth
// (8 or 16 bits), gray or colour, alpha and ICC profile. Colour goes through
// the model (a gray image as R = G = B, and back to gray as the mean of the
// three outputs). Alpha goes through the model as a gray image, or through
// MATLAB's bicubic with Options.Alpha = AlphaBicubic; the colour under fully
// transparent pixels is first filled from the visible neighbours
// (imageio.BleedTransparent, on a copy) so that no dark fringe appears at
// transparent edges. img is not modified.
func (m *Model) UpscaleImage(ctx context.Context, img *imageio.Image, opt Options) (*imageio.Image, error) {
	if err := img.Validate(); err != nil {
		return nil, err
	}
	if img.W < 1 || img.H < 1 {
		return nil, ErrEmptyImage
	}
	r, err := m.resolve(opt)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := m.Scale()
	w, h := img.W, img.H
	n, on := int64(w*h), int64(w*s)*int64(h*s)
	ch := int64(img.Channels())
	fixed := 4 * ch * on // colour result
	passes := 1
	if img.Alpha != nil {
		fixed += 4*on + 4*ch*n // alpha result, bled colour copy
		if r.alpha == AlphaModel {
			passes = 2
		} else {
			fixed += 8 * (n + int64(w)*int64(h*s) + on) // float64 planes of the bicubic
		}
	}
	e, err := m.newEngine(ctx, r, h, w, fixed, passes, opt.Progress)
	if err != nil {
		return nil, err
	}
	out := &imageio.Image{W: w * s, H: h * s, Gray: img.Gray, Depth: img.Depth, ICC: img.ICC,
		Format: img.Format, Orientation: img.Orientation}
	src := img
	if img.Alpha != nil {
		// Colour under fully transparent pixels is invisible but would bleed
		// into the visible edge pixels: fill it from its neighbours first.
		c := *img
		c.Pix = append([]float32(nil), img.Pix...)
		imageio.BleedTransparent(&c)
		src = &c
		out.Alpha = make([]float32, on)
		if r.alpha == AlphaBicubic {
			if err := bicubicPlane(out.Alpha, img.Alpha, w, h, s); err != nil {
				return nil, err
			}
		}
	}
	out.Pix = make([]float32, ch*on)
	if e.progress != nil {
		e.progress(0, e.total)
	}
	if err := e.pass(src.Pix, int(ch), h, w, out.Pix, img.Gray); err != nil {
		return nil, err
	}
	if img.Alpha != nil && r.alpha == AlphaModel {
		if err := e.pass(img.Alpha, 1, h, w, out.Alpha, true); err != nil {
			return nil, err
		}
	}
	clamp01(out.Pix)
	clamp01(out.Alpha)
	return out, nil
}

// bicubicPlane upscales one plane by s with MATLAB's bicubic, in float64,
// clamped to [0, 1].
func bicubicPlane(dst, src []float32, w, h, s int) error {
	pl, err := resize.NewPlanSize(w, h, w*s, h*s)
	if err != nil {
		return err
	}
	in := make([]float64, len(src))
	for i, v := range src {
		in[i] = float64(v)
	}
	o := make([]float64, len(dst))
	if err := pl.Float64(o, in); err != nil {
		return err
	}
	for i, v := range o {
		dst[i] = float32(min(max(v, 0), 1))
	}
	return nil
}

func clamp01(x []float32) {
	for i, v := range x {
		x[i] = min(max(v, 0), 1)
	}
}

// Upscale upscales a standard library image. 16-bit sources
// (*image.RGBA64, *image.NRGBA64, *image.Gray16) give a 16-bit result
// (*image.NRGBA64 or *image.Gray16); others an 8-bit *image.NRGBA or
// *image.Gray. Values are clamped to [0, 1] and rounded to the nearest level.
// See UpscaleImage for gray images and alpha, Options for tiles, the
// self-ensemble, progress and the memory budget.
func (m *Model) Upscale(ctx context.Context, src image.Image, opt Options) (image.Image, error) {
	b := src.Bounds()
	if b.Empty() {
		return nil, ErrEmptyImage
	}
	out, err := m.UpscaleImage(ctx, imageio.FromImage(src), opt)
	if err != nil {
		return nil, err
	}
	return out.ToImage(), nil
}
