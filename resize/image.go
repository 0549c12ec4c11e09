package resize

import (
	"fmt"
	"image"
	"image/color"
)

// Planar8 is an 8-bit image stored one channel after another: sample
// (x, y) of channel c is Pix[c*W*H + y*W + x]. C is 1 (gray) or 3 (RGB).
type Planar8 struct {
	W, H, C int
	Pix     []uint8
}

// Planar is the float64 counterpart of Planar8.
type Planar struct {
	W, H, C int
	Pix     []float64
}

// Channel returns the samples of channel c.
func (p *Planar8) Channel(c int) []uint8 { return p.Pix[c*p.W*p.H : (c+1)*p.W*p.H] }

// Channel returns the samples of channel c.
func (p *Planar) Channel(c int) []float64 { return p.Pix[c*p.W*p.H : (c+1)*p.W*p.H] }

// NewPlanar8 allocates a zero image.
func NewPlanar8(w, h, c int) *Planar8 {
	return &Planar8{W: w, H: h, C: c, Pix: make([]uint8, w*h*c)}
}

// NewPlanar allocates a zero image.
func NewPlanar(w, h, c int) *Planar {
	return &Planar{W: w, H: h, C: c, Pix: make([]float64, w*h*c)}
}

// IsGray reports whether img is a one-channel image (*image.Gray or
// *image.Gray16, which is what PNG and JPEG decoders return for grayscale
// files).
func IsGray(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	return false
}

// to8 rounds a 16-bit sample to 8 bits (exact for samples that came from 8
// bits, v*257).
func to8(v uint32) uint8 { return uint8((v*255 + 32767) / 65535) }

// FromImage converts img to planar 8-bit form: one channel for grayscale
// images (see IsGray), otherwise three (R, G, B; alpha is dropped and colors
// are taken un-premultiplied). 16-bit samples are rounded to 8 bits.
func FromImage(img image.Image) *Planar8 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if IsGray(img) {
		p := NewPlanar8(w, h, 1)
		if g, ok := img.(*image.Gray); ok {
			for y := 0; y < h; y++ {
				i := g.PixOffset(b.Min.X, b.Min.Y+y)
				copy(p.Pix[y*w:(y+1)*w], g.Pix[i:i+w])
			}
			return p
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.Gray16Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray16)
				p.Pix[y*w+x] = to8(uint32(c.Y))
			}
		}
		return p
	}
	p := NewPlanar8(w, h, 3)
	n := w * h
	r, g, bl := p.Pix[:n], p.Pix[n:2*n], p.Pix[2*n:]
	switch m := img.(type) {
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := 0; x < w; x++ {
				r[y*w+x], g[y*w+x], bl[y*w+x] = m.Pix[i], m.Pix[i+1], m.Pix[i+2]
				i += 4
			}
		}
		return p
	case *image.RGBA:
		opaque := m.Opaque()
		for y := 0; y < h && opaque; y++ {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := 0; x < w; x++ {
				r[y*w+x], g[y*w+x], bl[y*w+x] = m.Pix[i], m.Pix[i+1], m.Pix[i+2]
				i += 4
			}
		}
		if opaque {
			return p
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			r[y*w+x], g[y*w+x], bl[y*w+x] = to8(uint32(c.R)), to8(uint32(c.G)), to8(uint32(c.B))
		}
	}
	return p
}

// Image converts p back to an image: *image.Gray for one channel,
// *image.NRGBA (opaque) for three.
func (p *Planar8) Image() image.Image {
	n := p.W * p.H
	if p.C == 1 {
		g := image.NewGray(image.Rect(0, 0, p.W, p.H))
		copy(g.Pix, p.Pix[:n])
		return g
	}
	m := image.NewNRGBA(image.Rect(0, 0, p.W, p.H))
	r, g, b := p.Pix[:n], p.Pix[n:2*n], p.Pix[2*n:3*n]
	for i := 0; i < n; i++ {
		m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = r[i], g[i], b[i], 255
	}
	return m
}

// Float converts p to float64 samples (same values, 0..255).
func (p *Planar8) Float() *Planar {
	f := NewPlanar(p.W, p.H, p.C)
	for i, v := range p.Pix {
		f.Pix[i] = float64(v)
	}
	return f
}

// Uint8 rounds p to 8 bits as MATLAB does (see Round8).
func (p *Planar) Uint8() *Planar8 {
	q := NewPlanar8(p.W, p.H, p.C)
	for i, v := range p.Pix {
		q.Pix[i] = Round8(v)
	}
	return q
}

// Crop returns the w x h part of p whose top-left corner is (x0, y0).
func (p *Planar8) Crop(x0, y0, w, h int) (*Planar8, error) {
	if x0 < 0 || y0 < 0 || w < 0 || h < 0 || x0+w > p.W || y0+h > p.H {
		return nil, fmt.Errorf("resize: crop %dx%d+%d+%d outside %dx%d image", w, h, x0, y0, p.W, p.H)
	}
	q := NewPlanar8(w, h, p.C)
	for c := 0; c < p.C; c++ {
		src, dst := p.Channel(c), q.Channel(c)
		for y := 0; y < h; y++ {
			copy(dst[y*w:(y+1)*w], src[(y0+y)*p.W+x0:(y0+y)*p.W+x0+w])
		}
	}
	return q, nil
}

// Resize8 is MATLAB's imresize(A, scale, 'bicubic') for a uint8 image A:
// output size ceil(scale*size), antialiasing when shrinking, each pass
// rounded to uint8.
func Resize8(p *Planar8, scale float64) (*Planar8, error) {
	plan, err := NewPlan(p.W, p.H, scale)
	if err != nil {
		return nil, err
	}
	return plan.Apply8(p)
}

// ResizeFloat is imresize(A, scale, 'bicubic') for a double image A: no
// rounding or clipping.
func ResizeFloat(p *Planar, scale float64) (*Planar, error) {
	plan, err := NewPlan(p.W, p.H, scale)
	if err != nil {
		return nil, err
	}
	return plan.ApplyFloat(p)
}

// Apply8 resizes every channel of p with the plan.
func (pl *Plan) Apply8(p *Planar8) (*Planar8, error) {
	if p.W != pl.InW || p.H != pl.InH {
		return nil, fmt.Errorf("resize: image is %dx%d, plan is for %dx%d", p.W, p.H, pl.InW, pl.InH)
	}
	q := NewPlanar8(pl.OutW, pl.OutH, p.C)
	for c := 0; c < p.C; c++ {
		if err := pl.Uint8(q.Channel(c), p.Channel(c)); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// ApplyFloat resizes every channel of p with the plan.
func (pl *Plan) ApplyFloat(p *Planar) (*Planar, error) {
	if p.W != pl.InW || p.H != pl.InH {
		return nil, fmt.Errorf("resize: image is %dx%d, plan is for %dx%d", p.W, p.H, pl.InW, pl.InH)
	}
	q := NewPlanar(pl.OutW, pl.OutH, p.C)
	for c := 0; c < p.C; c++ {
		if err := pl.Float64(q.Channel(c), p.Channel(c)); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// Resize applies Resize8 to an image.Image. Gray images stay gray
// (*image.Gray); others come back as opaque *image.NRGBA.
func Resize(img image.Image, scale float64) (image.Image, error) {
	q, err := Resize8(FromImage(img), scale)
	if err != nil {
		return nil, err
	}
	return q.Image(), nil
}

// Downscale is imresize(img, 1/s, 'bicubic') on 8-bit data, the way the
// LR_bicubic images of the super-resolution benchmarks were made. Crop the
// image to a multiple of s first to get the benchmarks' LR images.
func Downscale(img image.Image, s int) (image.Image, error) {
	if s < 1 {
		return nil, fmt.Errorf("resize: invalid scale factor %d", s)
	}
	return Resize(img, 1/float64(s))
}

// Upscale is imresize(img, s, 'bicubic') on 8-bit data: the "Bicubic"
// baseline of the super-resolution literature.
func Upscale(img image.Image, s int) (image.Image, error) {
	if s < 1 {
		return nil, fmt.Errorf("resize: invalid scale factor %d", s)
	}
	return Resize(img, float64(s))
}
