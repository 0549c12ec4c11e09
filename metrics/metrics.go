package metrics

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
)

// Plane is one channel of float64 samples on a 0..255 scale, row-major:
// sample (x, y) is Pix[y*W+x].
type Plane struct {
	W, H int
	Pix  []float64
}

// NewPlane allocates a zero plane.
func NewPlane(w, h int) *Plane { return &Plane{W: w, H: h, Pix: make([]float64, w*h)} }

// At returns sample (x, y).
func (p *Plane) At(x, y int) float64 { return p.Pix[y*p.W+x] }

// CropBorder returns p without n samples on every side (BasicSR's
// crop_border). n = 0 returns p itself.
func (p *Plane) CropBorder(n int) (*Plane, error) {
	if n < 0 {
		return nil, fmt.Errorf("metrics: negative crop border %d", n)
	}
	if n == 0 {
		return p, nil
	}
	w, h := p.W-2*n, p.H-2*n
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("metrics: crop border %d leaves nothing of a %dx%d image", n, p.W, p.H)
	}
	q := NewPlane(w, h)
	for y := 0; y < h; y++ {
		copy(q.Pix[y*w:(y+1)*w], p.Pix[(y+n)*p.W+n:(y+n)*p.W+n+w])
	}
	return q, nil
}

// Y returns the luma of BT.601 YCbCr on the 0..255 scale (16..235), as
// MATLAB's rgb2ycbcr and BasicSR's rgb2ycbcr(y_only=True) compute it, for
// R, G, B given on the 0..255 scale. It is not rounded.
func Y(r, g, b float64) float64 {
	return 65.481*r/255 + 128.553*g/255 + 24.966*b/255 + 16
}

// Luma returns 0.299 R + 0.587 G + 0.114 B: the BT.601 luma without the
// studio-range offset and gain, which gives back v for a gray pixel (v, v, v).
// It is what the scores use for an RGB image compared against a grayscale
// reference. Gray pixels give back v exactly, without rounding error.
func Luma(r, g, b float64) float64 {
	if r == g && g == b {
		return r
	}
	return (65.481*r + 128.553*g + 24.966*b) / 219
}

// IsGray reports whether img is a one-channel image (*image.Gray or
// *image.Gray16: what the PNG and JPEG decoders return for grayscale files).
func IsGray(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	return false
}

// to8 rounds a 16-bit sample to 8 bits (exact for samples that came from 8
// bits).
func to8(v uint32) float64 { return float64((v*255 + 32767) / 65535) }

// rgb8 calls f with the 8-bit R, G, B of every pixel of img (rounded from
// 16 bits where needed, un-premultiplied, alpha ignored).
func rgb8(img image.Image, f func(i int, r, g, b float64)) {
	bd := img.Bounds()
	w, h := bd.Dx(), bd.Dy()
	switch m := img.(type) {
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			o := m.PixOffset(bd.Min.X, bd.Min.Y+y)
			for x := 0; x < w; x++ {
				f(y*w+x, float64(m.Pix[o]), float64(m.Pix[o+1]), float64(m.Pix[o+2]))
				o += 4
			}
		}
		return
	case *image.RGBA:
		if m.Opaque() {
			for y := 0; y < h; y++ {
				o := m.PixOffset(bd.Min.X, bd.Min.Y+y)
				for x := 0; x < w; x++ {
					f(y*w+x, float64(m.Pix[o]), float64(m.Pix[o+1]), float64(m.Pix[o+2]))
					o += 4
				}
			}
			return
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			o := m.PixOffset(bd.Min.X, bd.Min.Y+y)
			for x := 0; x < w; x++ {
				v := float64(m.Pix[o+x])
				f(y*w+x, v, v, v)
			}
		}
		return
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA64Model.Convert(img.At(bd.Min.X+x, bd.Min.Y+y)).(color.NRGBA64)
			f(y*w+x, to8(uint32(c.R)), to8(uint32(c.G)), to8(uint32(c.B)))
		}
	}
}

// YPlane returns the BT.601 Y channel (see Y) of img, from its samples
// rounded to 8 bits. A grayscale image is treated as RGB with equal channels.
func YPlane(img image.Image) *Plane {
	bd := img.Bounds()
	p := NewPlane(bd.Dx(), bd.Dy())
	rgb8(img, func(i int, r, g, b float64) { p.Pix[i] = Y(r, g, b) })
	return p
}

// GrayPlane returns the gray values of img: the samples themselves for a
// grayscale image, Luma of the 8-bit R, G, B otherwise.
func GrayPlane(img image.Image) *Plane {
	bd := img.Bounds()
	p := NewPlane(bd.Dx(), bd.Dy())
	if IsGray(img) {
		rgb8(img, func(i int, r, _, _ float64) { p.Pix[i] = r })
		return p
	}
	rgb8(img, func(i int, r, g, b float64) { p.Pix[i] = Luma(r, g, b) })
	return p
}

// ModCrop returns the top-left part of img whose width and height are
// multiples of s, as the benchmarks crop HR images before downscaling.
// The result shares pixels with img when img has a SubImage method.
func ModCrop(img image.Image, s int) (image.Image, error) {
	if s < 1 {
		return nil, fmt.Errorf("metrics: invalid scale %d", s)
	}
	b := img.Bounds()
	w, h := b.Dx()/s*s, b.Dy()/s*s
	if w == 0 || h == 0 {
		return nil, fmt.Errorf("metrics: %dx%d image is smaller than the scale %d", b.Dx(), b.Dy(), s)
	}
	if w == b.Dx() && h == b.Dy() {
		return img, nil
	}
	r := image.Rect(b.Min.X, b.Min.Y, b.Min.X+w, b.Min.Y+h)
	if si, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	}); ok {
		return si.SubImage(r), nil
	}
	return cropped{img, r}, nil
}

type cropped struct {
	image.Image
	r image.Rectangle
}

func (c cropped) Bounds() image.Rectangle { return c.r }

// Peak is the peak signal value of 8-bit images.
const Peak = 255.0

func sameSize(a, b *Plane) error {
	if a.W != b.W || a.H != b.H {
		return fmt.Errorf("metrics: sizes differ: %dx%d and %dx%d", a.W, a.H, b.W, b.H)
	}
	if a.W <= 0 || a.H <= 0 || len(a.Pix) != a.W*a.H || len(b.Pix) != b.W*b.H {
		return errors.New("metrics: empty or malformed plane")
	}
	return nil
}

// MSE is the mean squared difference of a and b.
func MSE(a, b *Plane) (float64, error) {
	if err := sameSize(a, b); err != nil {
		return 0, err
	}
	s := 0.0
	for i, v := range a.Pix {
		d := v - b.Pix[i]
		s += d * d
	}
	return s / float64(len(a.Pix)), nil
}

// PSNR is 10 log10(255^2 / MSE(a, b)) in dB; +Inf for identical planes.
func PSNR(a, b *Plane) (float64, error) {
	mse, err := MSE(a, b)
	if err != nil {
		return 0, err
	}
	if mse == 0 {
		return math.Inf(1), nil
	}
	return 10 * math.Log10(Peak*Peak/mse), nil
}
