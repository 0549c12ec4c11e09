package grformer

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/model"
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

// Options control an upscale.
type Options struct {
	// Threads limits the goroutines used; 0 means GOMAXPROCS.
	Threads int
}

// ErrEmptyImage is returned for images with no pixels.
var ErrEmptyImage = errors.New("grformer: image has no pixels")

// UpscalePlanar runs the model on one planar RGB image, pix = [3][h][w]
// float32 values nominally in [0, 1], and returns [3][h*s][w*s] clamped to
// [0, 1]. A cancelled ctx stops the work and returns ctx.Err().
func (m *Model) UpscalePlanar(ctx context.Context, pix []float32, h, w int, opt Options) ([]float32, error) {
	if h < 1 || w < 1 {
		return nil, ErrEmptyImage
	}
	if len(pix) != 3*h*w {
		return nil, fmt.Errorf("grformer: %d values for a 3x%dx%d image", len(pix), h, w)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := m.net.Forward(pix, 1, h, w, model.Options{Threads: opt.Threads, Ctx: ctx})
	if err != nil {
		return nil, err
	}
	for i, v := range out {
		out[i] = min(max(v, 0), 1)
	}
	return out, nil
}

// UpscaleImage upscales a decoded image, keeping what the file had: depth
// (8 or 16 bits), gray or colour, alpha and ICC profile. Colour goes through
// the model (a gray image as R = G = B, and back to gray as the mean of the
// three outputs); alpha goes through the model as a gray image.
func (m *Model) UpscaleImage(ctx context.Context, img *imageio.Image, opt Options) (*imageio.Image, error) {
	if err := img.Validate(); err != nil {
		return nil, err
	}
	s := m.Scale()
	w, h := img.W, img.H
	n, on := w*h, w*h*s*s
	out := &imageio.Image{W: w * s, H: h * s, Gray: img.Gray, Depth: img.Depth, ICC: img.ICC, Format: img.Format}
	if img.Alpha != nil {
		// Colour under fully transparent pixels is invisible but would bleed
		// into the visible edge pixels: fill it from its neighbours first.
		c := *img
		c.Pix = append([]float32(nil), img.Pix...)
		imageio.BleedTransparent(&c)
		img = &c
	}
	rgb := func(planes []float32, gray bool) []float32 {
		if !gray {
			return planes
		}
		x := make([]float32, 3*n)
		copy(x, planes)
		copy(x[n:], planes)
		copy(x[2*n:], planes)
		return x
	}
	toGray := func(y []float32) []float32 {
		g := make([]float32, on)
		for i := range g {
			g[i] = (y[i] + y[on+i] + y[2*on+i]) / 3
		}
		return g
	}
	y, err := m.UpscalePlanar(ctx, rgb(img.Pix, img.Gray), h, w, opt)
	if err != nil {
		return nil, err
	}
	if img.Gray {
		y = toGray(y)
	}
	out.Pix = y
	if img.Alpha != nil {
		a, err := m.UpscalePlanar(ctx, rgb(img.Alpha, true), h, w, opt)
		if err != nil {
			return nil, err
		}
		out.Alpha = toGray(a)
	}
	return out, nil
}

// Upscale upscales a standard library image. 16-bit sources
// (*image.RGBA64, *image.NRGBA64, *image.Gray16) give a 16-bit result
// (*image.NRGBA64 or *image.Gray16); others an 8-bit *image.NRGBA or
// *image.Gray. Values are clamped to [0, 1] and rounded to the nearest level.
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
