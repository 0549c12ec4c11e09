package grformer

import (
	"context"
	"fmt"
	"image"

	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/resize"
)

// UpscalePlanar runs the model on one planar RGB image, pix = [3][h][w]
// float32 values nominally in [0, 1], and returns [3][h*s][w*s] clamped to
// [0, 1]. Tiles, the self-ensemble and progress follow opt (Alpha does not
// apply). The output is clamped once, at the end: tiles are blended and the
// self-ensemble averaged on the model's raw output, as BasicSR does. A
// cancelled ctx stops the work and returns ctx.Err().
func (m *Model) UpscalePlanar(ctx context.Context, pix []float32, h, w int, opt Options) ([]float32, error) {
	out, err := m.upscalePlanar(ctx, pix, h, w, opt)
	if err != nil {
		return nil, err
	}
	clamp01(out)
	return out, nil
}

// upscalePlanar is UpscalePlanar before the clamp: the tiles blended and
// the transforms of the self-ensemble averaged, as the model computed them.
func (m *Model) upscalePlanar(ctx context.Context, pix []float32, h, w int, opt Options) ([]float32, error) {
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
