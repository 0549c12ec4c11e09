package imageio

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
)

// Image is a decoded picture held as float32 planes with values in [0,1].
//
// Colour is stored channel-major: Pix holds Channels() planes of H*W values
// each, the value of channel c at (x, y) being Pix[c*W*H + y*W + x]. A gray
// image has one plane, a colour image three (R, G, B). Colour is straight
// (not premultiplied by alpha).
//
// Alpha, when not nil, is one more plane of H*W values (0 transparent,
// 1 opaque). It is nil when the source had no alpha channel or when every
// pixel was fully opaque.
type Image struct {
	W, H int

	// Gray reports a single colour plane. Decoded images are gray when the
	// source was stored as gray (PNG colour types 0 and 4, gray JPEG, gray
	// TIFF, ...); the encoders then write a gray file.
	Gray bool

	// Pix holds the colour planes, Channels()*H*W values.
	Pix []float32

	// Alpha holds the straight alpha plane, H*W values, or nil.
	Alpha []float32

	// Depth is the bits per channel of the source: 16 for 16-bit sources,
	// 8 otherwise. The PNG encoder writes 16-bit samples when it is 16 and
	// 8-bit samples for any other value.
	Depth int

	// ICC is the embedded ICC colour profile of the source, nil if none.
	// The encoders write it back (PNG iCCP chunk, JPEG APP2 segments, WebP
	// ICCP chunk) unless its colour space contradicts the output; see
	// Encode.
	ICC []byte

	// Exif is the source's EXIF data, a TIFF structure (what follows
	// "Exif\0\0" in a JPEG APP1 segment; a PNG eXIf or WebP EXIF chunk),
	// nil if none. Decode sets its orientation tag to 1 when it applies the
	// orientation to the pixels. PNG, JPEG and WebP outputs carry it, with
	// its pixel size (PixelXDimension, PixelYDimension) and resolution
	// tags, where it has them, rewritten to the image's; see Encode.
	Exif []byte

	// XDPI and YDPI are the pixel density in pixels per inch (from a PNG
	// pHYs chunk, a JPEG JFIF segment, EXIF or TIFF resolution tags, a BMP
	// header); 0 when the source does not say. Encoders write it (PNG
	// pHYs, JPEG JFIF density, TIFF and EXIF resolution). CopyMetadata
	// scales it with the size, so that the physical size stays the same.
	XDPI, YDPI float64

	// Format is the source format: "png", "jpeg", "webp", "bmp" or "tiff".
	// It is empty for images made by NewImage or FromImage.
	Format string

	// Orientation is the EXIF orientation (1..8) that Decode applied to the
	// pixels; 1 when the source had none or it was ignored. The pixels are
	// stored upright (but with DecodeOptions.IgnoreOrientation), and Decode
	// set the orientation tag of Exif to 1, so outputs are not turned again.
	Orientation int

	// Warnings lists recoverable problems met while decoding, such as an
	// unreadable ICC profile that was dropped. Nil when there were none.
	Warnings []string
}

// CopyMetadata gives dst, a resampled version of src (upscaled, resized),
// src's metadata: the ICC profile and EXIF data (shared, not copied) and
// the density scaled by the size ratio (dst.W/src.W, dst.H/src.H), so that
// the image keeps its physical size.
func CopyMetadata(dst, src *Image) {
	dst.ICC, dst.Exif = src.ICC, src.Exif
	dst.XDPI, dst.YDPI = 0, 0
	if src.XDPI > 0 && src.YDPI > 0 && src.W > 0 && src.H > 0 {
		dst.XDPI = src.XDPI * float64(dst.W) / float64(src.W)
		dst.YDPI = src.YDPI * float64(dst.H) / float64(src.H)
	}
}

// NewImage returns a black, fully transparent (if alpha) or opaque image with
// freshly allocated planes. depth should be 8 or 16.
func NewImage(w, h int, gray, alpha bool, depth int) *Image {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("imageio: NewImage: invalid size %dx%d", w, h))
	}
	img := &Image{W: w, H: h, Gray: gray, Depth: depth, Orientation: 1}
	img.Pix = make([]float32, img.Channels()*w*h)
	if alpha {
		img.Alpha = make([]float32, w*h)
	}
	return img
}

// Channels is the number of colour planes in Pix: 1 when Gray, else 3.
func (img *Image) Channels() int {
	if img.Gray {
		return 1
	}
	return 3
}

// Plane returns colour plane c (0 <= c < Channels()) as a slice of Pix.
func (img *Image) Plane(c int) []float32 {
	n := img.W * img.H
	return img.Pix[c*n : (c+1)*n : (c+1)*n]
}

// Validate reports whether the plane sizes agree with W, H and Gray.
func (img *Image) Validate() error {
	if err := img.validate(); err != nil {
		return fmt.Errorf("imageio: %w", err)
	}
	return nil
}

func (img *Image) validate() error {
	if img == nil {
		return errors.New("nil image")
	}
	if img.W <= 0 || img.H <= 0 {
		return fmt.Errorf("invalid image size %dx%d", img.W, img.H)
	}
	if img.W > math.MaxInt32 || img.H > math.MaxInt32 {
		return fmt.Errorf("image size %dx%d too large", img.W, img.H)
	}
	n := int64(img.W) * int64(img.H)
	if int64(len(img.Pix)) != int64(img.Channels())*n {
		return fmt.Errorf("Pix has %d values, want %d for %dx%dx%d",
			len(img.Pix), int64(img.Channels())*n, img.Channels(), img.H, img.W)
	}
	if img.Alpha != nil && int64(len(img.Alpha)) != n {
		return fmt.Errorf("Alpha has %d values, want %d", len(img.Alpha), n)
	}
	return nil
}

// Quantization.
//
// Decoding maps a sample v of a b-bit source to float32(v / (2^b-1)), the
// nearest float32. Encoding clamps x to [0,1] (NaN becomes 0) and rounds
// half away from zero: floor(x*(2^b-1) + 0.5), computed in float64 so that
// the product is exact. Every 8-bit and 16-bit level survives the round trip.

// to8 quantizes x to 8 bits; see the package comment on rounding.
func to8(x float32) uint8 {
	if !(x > 0) { // also NaN
		return 0
	}
	if x >= 1 {
		return 255
	}
	return uint8(float64(x)*255 + 0.5)
}

// to16 quantizes x to 16 bits; see the package comment on rounding.
func to16(x float32) uint16 {
	if !(x > 0) {
		return 0
	}
	if x >= 1 {
		return 65535
	}
	return uint16(float64(x)*65535 + 0.5)
}

// lut8 maps 8-bit samples to float32.
var lut8 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

func from16(v uint16) float32 { return float32(v) / 65535 }

// ToImage converts img to a standard library image, keeping the precision
// and straight alpha:
//
//	gray, no alpha:   *image.Gray (Depth 8) or *image.Gray16 (Depth 16)
//	otherwise:        *image.NRGBA (Depth 8) or *image.NRGBA64 (Depth 16)
//
// A gray image with alpha becomes NRGBA with equal R, G and B. Values are
// quantized as described in the package documentation. ToImage panics if
// img is not valid (see Validate).
func (img *Image) ToImage() image.Image {
	if err := img.Validate(); err != nil {
		panic(err)
	}
	w, h, n := img.W, img.H, img.W*img.H
	r := image.Rect(0, 0, w, h)
	deep := img.Depth == 16
	if img.Gray && img.Alpha == nil {
		if deep {
			m := image.NewGray16(r)
			for i, v := range img.Pix {
				q := to16(v)
				m.Pix[2*i], m.Pix[2*i+1] = uint8(q>>8), uint8(q)
			}
			return m
		}
		m := image.NewGray(r)
		for i, v := range img.Pix {
			m.Pix[i] = to8(v)
		}
		return m
	}
	rp, gp, bp := img.Pix[:n], img.Pix[:n], img.Pix[:n]
	if !img.Gray {
		gp, bp = img.Pix[n:2*n], img.Pix[2*n:3*n]
	}
	if deep {
		m := image.NewNRGBA64(r)
		for i := 0; i < n; i++ {
			a := uint16(65535)
			if img.Alpha != nil {
				a = to16(img.Alpha[i])
			}
			p := m.Pix[8*i : 8*i+8 : 8*i+8]
			put16(p[0:], to16(rp[i]))
			put16(p[2:], to16(gp[i]))
			put16(p[4:], to16(bp[i]))
			put16(p[6:], a)
		}
		return m
	}
	m := image.NewNRGBA(r)
	for i := 0; i < n; i++ {
		a := uint8(255)
		if img.Alpha != nil {
			a = to8(img.Alpha[i])
		}
		p := m.Pix[4*i : 4*i+4 : 4*i+4]
		p[0], p[1], p[2], p[3] = to8(rp[i]), to8(gp[i]), to8(bp[i]), a
	}
	return m
}

func put16(p []byte, v uint16) { p[0], p[1] = uint8(v>>8), uint8(v) }

func get16(p []byte) uint16 { return uint16(p[0])<<8 | uint16(p[1]) }

// FromImage converts a standard library image to an Image, keeping the
// precision of the source: Depth is 16 for Gray16, RGBA64, NRGBA64 and
// Alpha16 images and for image types it does not know, 8 otherwise. Gray
// is set for Gray, Gray16, Alpha and Alpha16 images. The result is
// anchored at (0, 0) whatever m.Bounds().Min is.
//
// Premultiplied sources (RGBA, RGBA64 and unknown types) are un-premultiplied
// in float32 as c/a, which keeps every bit of the source; the colour of a
// fully transparent pixel (a = 0) carries no information there and becomes
// 0 (black). Straight-alpha sources (NRGBA, NRGBA64, NYCbCrA, Paletted with
// NRGBA entries) keep the colour of transparent pixels as stored. Alpha is
// nil when m.Opaque() or every pixel turns out opaque.
func FromImage(m image.Image) *Image {
	depth, gray := 8, false
	switch m.(type) {
	case *image.Gray, *image.RGBA, *image.NRGBA, *image.Alpha, *image.Paletted,
		*image.YCbCr, *image.NYCbCrA, *image.CMYK:
	default: // 16-bit types and types not known here
		depth = 16
	}
	switch m.(type) {
	case *image.Gray, *image.Gray16, *image.Alpha, *image.Alpha16:
		gray = true
	}
	return fromImage(m, gray, depth)
}

// fromImage converts m; gray selects one colour plane (the red channel of m).
func fromImage(m image.Image, gray bool, depth int) *Image {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	img := &Image{W: w, H: h, Gray: gray, Depth: depth, Orientation: 1}
	if w <= 0 || h <= 0 {
		return img
	}
	n := w * h
	img.Pix = make([]float32, img.Channels()*n)
	opaque := false
	if o, ok := m.(interface{ Opaque() bool }); ok {
		opaque = o.Opaque()
	}
	if !opaque {
		img.Alpha = make([]float32, n)
	}
	convert(img, m)
	if img.Alpha != nil {
		all := true
		for _, a := range img.Alpha {
			if a != 1 {
				all = false
				break
			}
		}
		if all {
			img.Alpha = nil
		}
	}
	return img
}

// planes stores pixels of straight colour into the planes of an Image.
type planes struct {
	r, g, b, a []float32
	gray       bool
}

func planesOf(img *Image) planes {
	n := img.W * img.H
	p := planes{r: img.Pix[:n], a: img.Alpha, gray: img.Gray}
	if !img.Gray {
		p.g, p.b = img.Pix[n:2*n], img.Pix[2*n:3*n]
	}
	return p
}

func (p *planes) set(i int, r, g, b, a float32) {
	p.r[i] = r
	if !p.gray {
		p.g[i], p.b[i] = g, b
	}
	if p.a != nil {
		p.a[i] = a
	}
}

// unpre returns the straight value c/a of a premultiplied sample, 0 when
// a is 0, clamped to 1.
func unpre(c, a uint32) float32 {
	if a == 0 {
		return 0
	}
	if c >= a {
		return 1
	}
	return float32(c) / float32(a)
}

func convert(img *Image, m image.Image) {
	b := m.Bounds()
	w, h := img.W, img.H
	p := planesOf(img)
	switch m := m.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				f := lut8[v]
				p.set(y*w+x, f, f, f, 1)
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+2*w]
			for x := 0; x < w; x++ {
				f := from16(get16(row[2*x:]))
				p.set(y*w+x, f, f, f, 1)
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				s := row[4*x : 4*x+4 : 4*x+4]
				p.set(y*w+x, lut8[s[0]], lut8[s[1]], lut8[s[2]], lut8[s[3]])
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+8*w]
			for x := 0; x < w; x++ {
				s := row[8*x : 8*x+8 : 8*x+8]
				p.set(y*w+x, from16(get16(s[0:])), from16(get16(s[2:])),
					from16(get16(s[4:])), from16(get16(s[6:])))
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				s := row[4*x : 4*x+4 : 4*x+4]
				a := uint32(s[3])
				if a == 255 {
					p.set(y*w+x, lut8[s[0]], lut8[s[1]], lut8[s[2]], 1)
					continue
				}
				p.set(y*w+x, unpre(uint32(s[0]), a), unpre(uint32(s[1]), a),
					unpre(uint32(s[2]), a), lut8[a])
			}
		}
	case *image.RGBA64:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+8*w]
			for x := 0; x < w; x++ {
				s := row[8*x : 8*x+8 : 8*x+8]
				a := uint32(get16(s[6:]))
				p.set(y*w+x, unpre(uint32(get16(s[0:])), a), unpre(uint32(get16(s[2:])), a),
					unpre(uint32(get16(s[4:])), a), from16(uint16(a)))
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				p.set(y*w+x, lut8[r], lut8[g], lut8[bb], 1)
			}
		}
	case *image.NYCbCrA:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
				ai := m.AOffset(b.Min.X+x, b.Min.Y+y)
				r, g, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				p.set(y*w+x, lut8[r], lut8[g], lut8[bb], lut8[m.A[ai]])
			}
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				s := row[4*x : 4*x+4 : 4*x+4]
				r, g, bb := color.CMYKToRGB(s[0], s[1], s[2], s[3])
				p.set(y*w+x, lut8[r], lut8[g], lut8[bb], 1)
			}
		}
	case *image.Paletted:
		var pal [256][4]float32 // entries past the palette stay opaque black
		for i := range pal {
			pal[i] = [4]float32{0, 0, 0, 1}
			if i < len(m.Palette) && m.Palette[i] != nil {
				pal[i] = straight(m.Palette[i])
			}
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				c := &pal[v]
				p.set(y*w+x, c[0], c[1], c[2], c[3])
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := straight(m.At(b.Min.X+x, b.Min.Y+y))
				p.set(y*w+x, c[0], c[1], c[2], c[3])
			}
		}
	}
}

// straight returns c as straight RGBA floats without losing precision.
func straight(c color.Color) [4]float32 {
	switch c := c.(type) {
	case nil:
		return [4]float32{0, 0, 0, 0}
	case color.NRGBA:
		return [4]float32{lut8[c.R], lut8[c.G], lut8[c.B], lut8[c.A]}
	case color.NRGBA64:
		return [4]float32{from16(c.R), from16(c.G), from16(c.B), from16(c.A)}
	case color.Gray:
		v := lut8[c.Y]
		return [4]float32{v, v, v, 1}
	case color.Gray16:
		v := from16(c.Y)
		return [4]float32{v, v, v, 1}
	}
	r, g, b, a := c.RGBA()
	return [4]float32{unpre(r, a), unpre(g, a), unpre(b, a), from16(uint16(a))}
}
