package grformer

import (
	"context"
	"errors"
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
	e, err := m.newEngine(ctx, r, h, w, 0, 3, 1, false, opt.Progress)
	if err != nil {
		return nil, err
	}
	l := e.newLayer(pix, 3, false)
	if e.progress != nil {
		e.progress(0, e.total)
	}
	if err := e.run([]*layer{l}, nil); err != nil {
		return nil, err
	}
	return l.acc, nil
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
	return m.upscaleImage(ctx, img, opt, nil)
}

// UpscaleRows upscales img as UpscaleImage does and hands the result to
// sink in bands of rows, top to bottom: sink(y, band) gets rows y to
// y+band.H of the result, band being an image as UpscaleImage returns
// (same width, depth, gray-ness, alpha, ICC profile) with band.H rows,
// at most 16. The values are those of UpscaleImage, bit for bit.
// band and its planes are reused once sink returns: copy what you keep.
// An error from sink stops the work and is returned.
//
// Without the self-ensemble only a band of the result about one tile high
// is held (as float32 planes), so the memory budget (Options.MaxMemory)
// goes to the tiles rather than to the result, and a large image needs
// fewer, larger tiles than with UpscaleImage: a 3000x2000 image upscaled
// x2 needs 288 MB for its result alone. With Options.TTA the result is
// whole before the first band (the transforms flip and rotate the whole
// image), as with UpscaleImage. imageio.Encoder writes the bands to a
// file as they come (see the grformer command).
func (m *Model) UpscaleRows(ctx context.Context, img *imageio.Image, opt Options, sink func(y int, band *imageio.Image) error) error {
	if sink == nil {
		return errors.New("grformer: UpscaleRows needs a sink")
	}
	_, err := m.upscaleImage(ctx, img, opt, sink)
	return err
}

// bandRows is the most rows UpscaleRows hands to its sink at once.
const bandRows = 16

// upscaleImage is UpscaleImage (sink nil) and UpscaleRows (sink set).
func (m *Model) upscaleImage(ctx context.Context, img *imageio.Image, opt Options, sink func(y int, band *imageio.Image) error) (*imageio.Image, error) {
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
	var fixed int64 // besides the tiles and the layers
	planes, passes := int(ch), 1
	if img.Alpha != nil {
		fixed += 4 * ch * n // bled colour copy
		if r.alpha == AlphaModel {
			planes, passes = planes+1, 2 // the alpha layer
		} else {
			fixed += 4*on + 8*(n+int64(w)*int64(h*s)+on) // alpha result, float64 planes of the bicubic
		}
	}
	if sink != nil {
		fixed += bandBytes(img, w*s)
	}
	e, err := m.newEngine(ctx, r, h, w, fixed, planes, passes, sink != nil, opt.Progress)
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
		if r.alpha == AlphaBicubic {
			out.Alpha = make([]float32, on)
			if err := bicubicPlane(out.Alpha, img.Alpha, w, h, s); err != nil {
				return nil, err
			}
		}
	}
	layers := []*layer{e.newLayer(src.Pix, int(ch), img.Gray)}
	if img.Alpha != nil && r.alpha == AlphaModel {
		layers = append(layers, e.newLayer(img.Alpha, 1, true))
	}
	if e.progress != nil {
		e.progress(0, e.total)
	}
	if sink != nil {
		return nil, e.run(layers, bands(e, layers, out, sink))
	}
	if err := e.run(layers, nil); err != nil {
		return nil, err
	}
	out.Pix = layers[0].acc
	if len(layers) > 1 {
		out.Alpha = layers[1].acc
	}
	clamp01(out.Pix)
	clamp01(out.Alpha)
	return out, nil
}

// bandBytes is the memory of the band images bands hands to the sink, for
// an output w pixels wide.
func bandBytes(img *imageio.Image, w int) int64 {
	planes := int64(img.Channels())
	if img.Alpha != nil {
		planes++
	}
	return 4 * planes * bandRows * int64(w)
}

// bands returns the engine's emit for UpscaleRows: the final rows of the
// layers, clamped to [0, 1], handed to sink in bands of at most bandRows
// rows, as images like out (whose Alpha, if set, holds the whole alpha
// plane already).
func bands(e *engine, layers []*layer, out *imageio.Image, sink func(y int, band *imageio.Image) error) func(y0, y1 int) error {
	W, ch := out.W, out.Channels()
	pix := make([]float32, ch*bandRows*W)
	var alpha []float32
	if out.Alpha != nil || len(layers) > 1 {
		alpha = make([]float32, bandRows*W)
	}
	clampTo := func(dst, src []float32) {
		for i, v := range src {
			dst[i] = min(max(v, 0), 1) // as clamp01
		}
	}
	return func(y0, y1 int) error {
		for y := y0; y < y1; y += bandRows {
			n := min(bandRows, y1-y)
			band := *out
			band.H, band.Pix, band.Alpha = n, pix[:ch*n*W], nil
			at := (y - e.lo) * W // the rows in the layers' planes
			for c := range ch {
				clampTo(band.Pix[c*n*W:(c+1)*n*W], layers[0].acc[c*e.held*W+at:][:n*W])
			}
			switch {
			case len(layers) > 1:
				band.Alpha = alpha[:n*W]
				clampTo(band.Alpha, layers[1].acc[at:][:n*W])
			case out.Alpha != nil:
				band.Alpha = alpha[:n*W]
				clampTo(band.Alpha, out.Alpha[y*W:(y+n)*W])
			}
			if err := sink(y, &band); err != nil {
				return err
			}
		}
		return nil
	}
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
