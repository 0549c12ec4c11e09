package grformer

import (
	"fmt"

	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/resize"
)

// Resize returns img resampled to w x h pixels with MATLAB's bicubic
// (imresize(A, [h w], 'bicubic'): Keys' cubic, a = -0.5, antialiased when
// shrinking; package resize), computed in float64 without intermediate
// rounding, then clamped to [0, 1]. It is the resize of the command's
// -outscale, for final sizes other than the model's scale: run the model,
// then Resize.
//
// Colour with alpha is resized premultiplied (colour times alpha, then
// divided by the resized alpha), so transparent pixels lend no colour to
// their visible neighbours; where the resized alpha is below 1/1024 the
// colour is resized straight instead (it is then invisible anyway). Depth,
// gray-ness and the ICC profile are kept. img is not modified.
func Resize(img *imageio.Image, w, h int) (*imageio.Image, error) {
	if err := img.Validate(); err != nil {
		return nil, err
	}
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("grformer: resize to %dx%d: sizes must be positive", w, h)
	}
	pl, err := resize.NewPlanSize(img.W, img.H, w, h)
	if err != nil {
		return nil, err
	}
	out := *img
	out.W, out.H, out.Warnings = w, h, nil
	n, on := img.W*img.H, w*h
	in, res := make([]float64, n), make([]float64, on)
	do := func(dst []float32, src []float32, weight []float32) error {
		for i, v := range src {
			if weight != nil {
				v *= weight[i]
			}
			in[i] = float64(v)
		}
		if err := pl.Float64(res, in); err != nil {
			return err
		}
		for i, v := range res {
			dst[i] = float32(v)
		}
		return nil
	}
	ch := img.Channels()
	out.Pix = make([]float32, ch*on)
	if img.Alpha == nil {
		for c := range ch {
			if err := do(out.Pix[c*on:(c+1)*on], img.Plane(c), nil); err != nil {
				return nil, err
			}
		}
		clamp01(out.Pix)
		return &out, nil
	}
	out.Alpha = make([]float32, on)
	if err := do(out.Alpha, img.Alpha, nil); err != nil {
		return nil, err
	}
	straight := make([]float32, on)
	for c := range ch {
		dst := out.Pix[c*on : (c+1)*on]
		if err := do(dst, img.Plane(c), img.Alpha); err != nil {
			return nil, err
		}
		if err := do(straight, img.Plane(c), nil); err != nil {
			return nil, err
		}
		for i, a := range out.Alpha {
			if a >= 1.0/1024 {
				dst[i] /= a
			} else {
				dst[i] = straight[i]
			}
		}
	}
	clamp01(out.Pix)
	clamp01(out.Alpha)
	return &out, nil
}

// ExtraMemory estimates what a caller that upscales img with UpscaleImage,
// resizes the result to ow x oh with Resize (when that differs from the
// model's scale s) and encodes it in format ("png", "jpeg", ...) holds
// besides UpscaleImage's own allocations, which Options.MaxMemory bounds:
// the decoded input, Resize's float64 planes and result, and what the
// encoder holds (the 8-bit image of JPEG, WebP's and TIFF's copies). Subtract it from a budget to get the
// MaxMemory to pass (the grformer command and server do).
func ExtraMemory(img *imageio.Image, s, ow, oh int, format string) int64 {
	planes := int64(img.Channels())
	if img.Alpha != nil {
		planes++
	}
	n := int64(img.W) * int64(img.H)
	hw, hh := int64(img.W*s), int64(img.H*s)
	on := int64(ow) * int64(oh)
	b := 4 * planes * n
	if on != hw*hh {
		b += 8*(hw*hh+max(hw*int64(oh), hh*int64(ow))+2*on) + 4*planes*on
	}
	switch format {
	case "jpeg":
		b += 4 * on
	case "webp": // the VP8L encoder's copies: 56.6 bytes a pixel allocated, measured
		b += 57 * on
	case "tiff": // the 8/16-bit image and the compressed file (17 bytes a pixel, 8-bit RGBA)
		b += 2 * 4 * planes * on
	}
	return b
}
