package imageio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"github.com/grformer/grformer/internal/regfile"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the pixel limit used when DecodeOptions.MaxPixels is
// not set: 100 megapixels, about 1.6 GB as float32 RGBA planes.
const DefaultMaxPixels = 100_000_000

var (
	// ErrUnknownFormat is returned (wrapped) for data that is none of the
	// supported formats.
	ErrUnknownFormat = errors.New("unknown image format (want PNG, JPEG, WebP, BMP or TIFF)")

	// ErrTooLarge is returned (wrapped) for images with more pixels than
	// DecodeOptions.MaxPixels. It is detected from the header, before any
	// pixel memory is allocated.
	ErrTooLarge = errors.New("image too large")
)

// DecodeOptions controls Decode and ReadFile.
type DecodeOptions struct {
	// MaxPixels refuses images whose width*height exceeds it, checked from
	// the file header before the pixels are decoded. Zero or negative means
	// DefaultMaxPixels; use math.MaxInt64 for no limit.
	MaxPixels int64

	// MaxBytes bounds what Decode reads from a reader that is not a file
	// (not both an io.ReaderAt and an io.Seeker: stdin, a pipe, a network
	// stream), which it reads into memory. Zero or negative means
	// 8*MaxPixels + 16 MiB, the size of an uncompressed 16-bit RGBA image
	// of MaxPixels pixels with room for metadata. Such a stream is also
	// refused early: after its first bytes when they are no known format,
	// and after the first 64 KiB when its header gives a size over
	// MaxPixels.
	MaxBytes int64

	// IgnoreOrientation keeps the pixels as stored instead of applying the
	// EXIF (JPEG) or TIFF orientation tag.
	IgnoreOrientation bool
}

func (o DecodeOptions) maxPixels() int64 {
	if o.MaxPixels <= 0 {
		return DefaultMaxPixels
	}
	return o.MaxPixels
}

func (o DecodeOptions) maxBytes() int64 {
	if o.MaxBytes <= 0 {
		return 8*min(o.maxPixels(), 1<<56) + 16<<20
	}
	return o.MaxBytes
}

// Config is what DecodeConfig learns from a file header.
type Config struct {
	Format string // "png", "jpeg", "webp", "bmp" or "tiff"

	// Width and Height are the size of the image Decode returns with
	// default options: for orientations 5 to 8 they are the stored height
	// and width.
	Width, Height int

	// Orientation is the EXIF/TIFF orientation tag, 1..8, 1 if none.
	Orientation int
}

// format is one registered decoder. The table below is the only place where
// decoders are registered: this package does not use the image package's
// global registry and so does not depend on which packages a program links.
type format struct {
	name   string
	match  func(head []byte) bool
	config func(r io.Reader) (image.Config, error)
	decode func(r io.Reader) (image.Image, error)
	meta   func(sr *io.SectionReader, m *meta)
}

func hasPrefix(head []byte, s string) bool { return bytes.HasPrefix(head, []byte(s)) }

var formats = []format{
	{
		name:   "png",
		match:  func(h []byte) bool { return hasPrefix(h, "\x89PNG\r\n\x1a\n") },
		config: png.DecodeConfig,
		decode: png.Decode,
		meta:   pngMeta,
	},
	{
		name:   "jpeg",
		match:  func(h []byte) bool { return hasPrefix(h, "\xff\xd8") },
		config: jpeg.DecodeConfig,
		decode: jpeg.Decode,
		meta:   jpegMeta,
	},
	{
		name: "webp",
		match: func(h []byte) bool {
			return len(h) >= 16 && hasPrefix(h, "RIFF") && string(h[8:15]) == "WEBPVP8"
		},
		config: webp.DecodeConfig,
		decode: webp.Decode,
		meta:   webpMeta,
	},
	{
		name:   "bmp",
		match:  func(h []byte) bool { return hasPrefix(h, "BM") },
		config: bmp.DecodeConfig,
		decode: bmp.Decode,
		meta:   bmpMeta,
	},
	{
		name:   "tiff",
		match:  func(h []byte) bool { return hasPrefix(h, "II*\x00") || hasPrefix(h, "MM\x00*") },
		config: tiff.DecodeConfig, // given the *io.SectionReader, an io.ReaderAt
		decode: tiff.Decode,
		meta:   tiffMeta,
	},
}

// header is the result of reading a file's header.
type header struct {
	f    *format
	w, h int // stored size
	meta
}

// section returns the remaining data of r as a section reader. Readers that
// are io.ReaderAt and io.Seeker (files, bytes.Reader) are used in place;
// others are read into memory, within opt's bounds (see
// DecodeOptions.MaxBytes).
func section(r io.Reader, opt DecodeOptions) (*io.SectionReader, error) {
	if ra, ok := r.(io.ReaderAt); ok {
		if s, ok := r.(io.Seeker); ok {
			cur, err := s.Seek(0, io.SeekCurrent)
			if err == nil {
				end, err := s.Seek(0, io.SeekEnd)
				if err == nil && end >= cur {
					return io.NewSectionReader(ra, cur, end-cur), nil
				}
			}
		}
	}
	limit := opt.maxBytes()
	lr := io.LimitReader(r, limit+1)
	const early = 64 << 10 // bytes read before the header is checked
	buf := make([]byte, 0, early)
	checked := false
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, min(max(cap(buf), early), 64<<20))...)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: more than %d bytes of data", ErrTooLarge, limit)
		}
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			return nil, err
		}
		if !checked && (len(buf) >= early || eof) {
			checked = true
			h, herr := readHeader(io.NewSectionReader(bytes.NewReader(buf), 0, int64(len(buf))))
			switch {
			case errors.Is(herr, ErrUnknownFormat):
				return nil, herr
			case herr == nil:
				if err := checkSize(h.w, h.h, opt.maxPixels()); err != nil {
					return nil, fmt.Errorf("%s: %w", h.f.name, err)
				}
			}
		}
		if eof {
			return io.NewSectionReader(bytes.NewReader(buf), 0, int64(len(buf))), nil
		}
	}
}

// readHeader identifies the format and reads size and metadata, without
// decoding pixels.
func readHeader(sr *io.SectionReader) (*header, error) {
	var head [16]byte
	n, _ := sr.ReadAt(head[:], 0)
	if n == 0 {
		return nil, errors.New("empty file")
	}
	var f *format
	for i := range formats {
		if formats[i].match(head[:n]) {
			f = &formats[i]
			break
		}
	}
	if f == nil {
		return nil, ErrUnknownFormat
	}
	cfg, err := callConfig(f, sr)
	if err != nil {
		return nil, formatErr(f.name, "bad header: ", explain(err))
	}
	return &header{f: f, w: cfg.Width, h: cfg.Height}, nil
}

// readMeta fills h.meta (ICC profile, orientation, gray hint).
func readMeta(h *header, sr *io.SectionReader) {
	if h.f.meta != nil {
		h.f.meta(io.NewSectionReader(sr, 0, sr.Size()), &h.meta)
	}
}

func reader(f *format, sr *io.SectionReader, bufSize int) io.Reader {
	s := io.NewSectionReader(sr, 0, sr.Size())
	if f.name == "tiff" {
		return s // keeps io.ReaderAt, so the TIFF decoder reads in place
	}
	return bufio.NewReaderSize(s, bufSize)
}

// callConfig and callDecode run the format's decoder, turning a panic in
// it into an error: no input file, however malformed, panics the caller.
func callConfig(f *format, sr *io.SectionReader) (cfg image.Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder failed on malformed data: %v", p)
		}
	}()
	return f.config(reader(f, sr, 4<<10))
}

func callDecode(f *format, sr *io.SectionReader) (m image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("decoder failed on malformed data: %v", p)
		}
	}()
	return f.decode(reader(f, sr, 64<<10))
}

// formatErr prefixes a decoder's error with the format's name and what
// failed, once: the decoders start most of their messages with the name
// already ("png: invalid format: ..."), which is then not repeated.
func formatErr(name, what string, err error) error {
	msg := err.Error()
	for _, p := range []string{name + ": ", "truncated or corrupt data: " + name + ": "} {
		if rest, ok := strings.CutPrefix(msg, p); ok {
			msg = strings.TrimSuffix(p, name+": ") + rest
			break
		}
	}
	return &decodeError{msg: name + ": " + what + msg, err: err}
}

// decodeError is a decoder's error with a rewritten message.
type decodeError struct {
	msg string
	err error
}

func (e *decodeError) Error() string { return e.msg }
func (e *decodeError) Unwrap() error { return e.err }

// explain makes end-of-data errors say what they mean.
func explain(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated or corrupt data: %w", err)
	}
	return err
}

func checkSize(w, h int, max int64) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("invalid image size %dx%d", w, h)
	}
	if n := int64(w) * int64(h); int64(w) > max || int64(h) > max || n > max {
		return fmt.Errorf("%w: %dx%d is %d pixels, limit %d", ErrTooLarge, w, h, n, max)
	}
	return nil
}

func oriented(w, h, o int) (int, int) {
	if o >= 5 {
		return h, w
	}
	return w, h
}

// DecodeConfig reads the format, size and orientation of the image in r
// without decoding the pixels. r is read from its current position; readers
// that are not both io.ReaderAt and io.Seeker are read to the end into
// memory.
func DecodeConfig(r io.Reader) (Config, error) {
	sr, err := section(r, DecodeOptions{})
	if err != nil {
		return Config{}, fmt.Errorf("imageio: %w", err)
	}
	h, err := readHeader(sr)
	if err != nil {
		return Config{}, fmt.Errorf("imageio: %w", err)
	}
	readMeta(h, sr)
	o := h.orientation
	if o == 0 {
		o = 1
	}
	w, hh := oriented(h.w, h.h, o)
	return Config{Format: h.f.name, Width: w, Height: hh, Orientation: o}, nil
}

// Decode decodes a PNG, JPEG, WebP, BMP or TIFF image from r.
//
// The header is read first: an image with a zero dimension or more than
// opt.MaxPixels pixels is refused (ErrTooLarge) before pixel memory is
// allocated. Then the pixels are decoded and converted to float planes
// (see FromImage for the conversion rules), the ICC profile is kept in
// Image.ICC and the EXIF/TIFF orientation is applied unless
// opt.IgnoreOrientation. Gray is set for gray sources (PNG colour types 0
// and 4 included, which Go decodes to RGBA types); Depth is 16 for 16-bit
// sources. Malformed data gives an error, never a panic.
//
// r is read from its current position; readers that are not both
// io.ReaderAt and io.Seeker are first read to the end into memory, at most
// opt.MaxBytes of them.
func Decode(r io.Reader, opt DecodeOptions) (*Image, error) {
	sr, err := section(r, opt)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	img, err := decode(sr, opt)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	return img, nil
}

// ReadFile decodes the image file at path; see Decode. Errors name the file.
func ReadFile(path string, opt DecodeOptions) (*Image, error) {
	f, st, err := regfile.Open(path) // a FIFO or device is refused, not waited on
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	defer f.Close()
	img, err := decode(io.NewSectionReader(f, 0, st.Size()), opt)
	if err != nil {
		return nil, fmt.Errorf("imageio: %s: %w", path, err)
	}
	return img, nil
}

func decode(sr *io.SectionReader, opt DecodeOptions) (*Image, error) {
	h, err := readHeader(sr)
	if err != nil {
		return nil, err
	}
	if err := checkSize(h.w, h.h, opt.maxPixels()); err != nil {
		return nil, fmt.Errorf("%s: %w", h.f.name, err)
	}
	readMeta(h, sr)
	m, err := callDecode(h.f, sr)
	if err != nil {
		return nil, formatErr(h.f.name, "", explain(err))
	}
	if b := m.Bounds(); b.Dx() != h.w || b.Dy() != h.h {
		return nil, fmt.Errorf("%s: decoded size %dx%d differs from header %dx%d",
			h.f.name, b.Dx(), b.Dy(), h.w, h.h)
	}
	gray := h.gray
	switch m.(type) {
	case *image.Gray, *image.Gray16:
		gray = true
	}
	depth := 8
	switch m.(type) {
	case *image.Gray16, *image.RGBA64, *image.NRGBA64:
		depth = 16
	}
	if _, cmyk := m.(*image.CMYK); cmyk && iccSpace(h.icc) == "CMYK" {
		h.warnf("%s: CMYK ICC profile dropped: the pixels are converted to RGB without it", h.f.name)
		h.icc = nil
	}
	img := fromImage(m, gray, depth)
	img.Format = h.f.name
	img.ICC = h.icc
	img.Exif = h.exif
	img.XDPI, img.YDPI = h.xdpi, h.ydpi
	img.Warnings = h.warnings
	if h.orientation > 1 && !opt.IgnoreOrientation {
		img = Orient(img, h.orientation)
		img.Orientation = h.orientation
		if t, err := parseTIFF(img.Exif); err == nil {
			t.setOrientation1() // h.exif is this decode's own copy
		}
	}
	return img, nil
}
