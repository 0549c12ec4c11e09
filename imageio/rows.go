package imageio

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/grformer/grformer/internal/atomicfile"
)

// Header is what an encoder needs to know before the pixels: the size, the
// colour layout, the depth and the metadata: ICC profile, EXIF data and
// density (see Image for each field).
type Header struct {
	W, H       int
	Gray       bool
	Alpha      bool // the image has an alpha plane
	Depth      int
	ICC        []byte
	Exif       []byte
	XDPI, YDPI float64
}

// Header returns the header of img.
func (img *Image) Header() Header {
	return Header{W: img.W, H: img.H, Gray: img.Gray, Alpha: img.Alpha != nil, Depth: img.Depth,
		ICC: img.ICC, Exif: img.Exif, XDPI: img.XDPI, YDPI: img.YDPI}
}

// planes is the number of planes of an image with this header, alpha
// included.
func (h Header) planes() int {
	n := 3
	if h.Gray {
		n = 1
	}
	if h.Alpha {
		n++
	}
	return n
}

// allPlanes returns the colour planes and then the alpha plane, if any.
func (img *Image) allPlanes() [][]float32 {
	var p [][]float32
	for c := range img.Channels() {
		p = append(p, img.Plane(c))
	}
	if img.Alpha != nil {
		p = append(p, img.Alpha)
	}
	return p
}

// An Encoder writes an image given in bands of rows, top to bottom, so
// that a producer (an upscaler) need not hold the whole image as float32
// planes. PNG is written as the rows come, holding two rows; JPEG keeps
// the image as 8-bit samples (4 bytes a pixel for colour, 1 for gray) and
// encodes it when closed, since the standard library's encoder takes a
// whole image; WebP and TIFF keep the whole image (float32 planes) and
// encode it when closed, as their encoders take a whole image too. The
// output is byte for byte what Encode writes for the
// same pixels, however they are cut into bands.
type Encoder struct {
	h      Header
	y      int    // rows written so far
	err    error  // the first error; errClosed after Close
	prefix string // of the errors returned
	png    *pngRows
	jpg    *jpegRows
	whole  *wholeRows
	// borrow lets a WebP or TIFF encoder keep a band that is the whole
	// image instead of copying it (Encode and WriteFile, whose image
	// outlives the encoder).
	borrow bool
}

var errClosed = errors.New("encoder already closed")

// NewEncoder starts writing an image with header h to w, in opt.Format
// (a name ParseFormat takes; "" is "png"); see Encode for what is written.
// Nothing is written for JPEG, WebP and TIFF until Close.
func NewEncoder(w io.Writer, h Header, opt EncodeOptions) (*Encoder, error) {
	e, err := newEncoder(w, h, opt)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	e.prefix = "imageio: "
	return e, nil
}

func newEncoder(w io.Writer, h Header, opt EncodeOptions) (*Encoder, error) {
	if h.W <= 0 || h.H <= 0 || h.W > 1<<31-1 || h.H > 1<<31-1 {
		return nil, fmt.Errorf("invalid image size %dx%d", h.W, h.H)
	}
	f := opt.Format
	if f == "" {
		f = "png"
	}
	f, err := ParseFormat(f)
	if err != nil {
		return nil, err
	}
	opt.Format = f
	if err := checkEncode(h, opt); err != nil {
		return nil, err
	}
	e := &Encoder{h: h}
	switch f {
	case "jpeg":
		e.jpg, err = startJPEG(w, h, opt)
	case "webp", "tiff":
		e.whole = &wholeRows{w: w, h: h, opt: opt}
	default:
		e.png, err = startPNG(w, h, opt)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// WriteRows writes the next band.H rows. band must be valid and match the
// header in width, gray-ness and alpha (its Depth and ICC are not used),
// and must not reach beyond the header's height. After an error the
// Encoder keeps failing.
func (e *Encoder) WriteRows(band *Image) error {
	if err := e.writeRows(band); err != nil {
		return fmt.Errorf("%s%w", e.prefix, err)
	}
	return nil
}

func (e *Encoder) writeRows(band *Image) error {
	if e.err != nil {
		return e.err
	}
	if err := band.validate(); err != nil {
		return err
	}
	switch {
	case band.W != e.h.W || band.Gray != e.h.Gray || (band.Alpha != nil) != e.h.Alpha:
		return fmt.Errorf("rows of width %d (gray %v, alpha %v) for a %dx%d image (gray %v, alpha %v)",
			band.W, band.Gray, band.Alpha != nil, e.h.W, e.h.H, e.h.Gray, e.h.Alpha)
	case band.H > e.h.H-e.y:
		return fmt.Errorf("%d rows after %d of a %d-row image", band.H, e.y, e.h.H)
	}
	switch {
	case e.png != nil:
		e.err = e.png.rows(band)
	case e.jpg != nil:
		e.err = e.jpg.rows(band)
	default:
		e.err = e.whole.rows(band, e.y, e.borrow)
	}
	e.y += band.H
	return e.err
}

// Close finishes the file (PNG: the last data and IEND; JPEG, WebP, TIFF:
// the whole encoding). It fails if fewer rows than the header's height were written.
// It does not close the underlying writer; a second Close does nothing.
func (e *Encoder) Close() error {
	if err := e.close(); err != nil {
		return fmt.Errorf("%s%w", e.prefix, err)
	}
	return nil
}

func (e *Encoder) close() error {
	switch {
	case e.err == errClosed:
		return nil
	case e.err != nil:
		return e.err
	case e.y != e.h.H:
		e.err = fmt.Errorf("%d of %d rows written", e.y, e.h.H)
		return e.err
	}
	switch {
	case e.png != nil:
		e.err = e.png.finish()
	case e.jpg != nil:
		e.err = e.jpg.finish()
	default:
		e.err = e.whole.finish()
	}
	if e.err != nil {
		return e.err
	}
	e.err = errClosed
	return nil
}

// WriteFileRows writes an image with header h into the file at path,
// atomically as WriteFile does: write gets an Encoder on a temporary file
// and writes the rows with it (closing it is optional); the file is
// renamed into place only if write and the encoding succeed, and removed
// otherwise. The format is opt.Format or, if empty, follows path's
// extension. What makes the header impossible to write in the format is
// reported before the file is created. The errors name path (never the
// temporary file); an error write returns for other reasons (a cancelled
// upscale) is returned as it is.
func WriteFileRows(path string, h Header, opt EncodeOptions, write func(*Encoder) error) error {
	prefix := "imageio: " + path + ": "
	var werr error
	err := func() (err error) {
		if opt.Format == "" {
			if opt.Format, err = FormatFromExt(path); err != nil {
				return err
			}
		}
		if opt.Format, err = ParseFormat(opt.Format); err != nil {
			return err
		}
		if err := checkEncode(h, opt); err != nil {
			return err
		}
		return atomicfile.Write(path, func(w io.Writer) error {
			e, err := newEncoder(w, h, opt)
			if err != nil {
				return err
			}
			e.prefix = prefix
			if werr = write(e); werr != nil {
				return werr
			}
			return e.close()
		})
	}()
	var pe *os.PathError
	switch {
	case err == nil || (werr != nil && errors.Is(err, werr)):
	case errors.As(err, &pe) && pe.Path == path: // names path already
		err = fmt.Errorf("imageio: %w", err)
	default:
		err = fmt.Errorf("%s%w", prefix, err)
	}
	return err
}

// wholeRows collects the rows of a WebP or TIFF into an image and encodes
// it at finish with encodeWebP or encodeTIFF, which take a whole image.
type wholeRows struct {
	w   io.Writer
	h   Header
	opt EncodeOptions // Format normalised
	img *Image
}

// rows copies band, rows y to y+band.H, into the image; with borrow, a
// band that is the whole image is kept instead.
func (e *wholeRows) rows(band *Image, y int, borrow bool) error {
	if borrow && y == 0 && band.H == e.h.H {
		e.img = band
		return nil
	}
	if e.img == nil {
		h := e.h
		e.img = NewImage(h.W, h.H, h.Gray, h.Alpha, h.Depth)
		e.img.ICC, e.img.Exif, e.img.XDPI, e.img.YDPI = h.ICC, h.Exif, h.XDPI, h.YDPI
	}
	n, bn, off := e.h.W*e.h.H, band.W*band.H, y*e.h.W
	for c := range band.Channels() {
		copy(e.img.Pix[c*n+off:], band.Pix[c*bn:(c+1)*bn])
	}
	if band.Alpha != nil {
		copy(e.img.Alpha[off:], band.Alpha)
	}
	return nil
}

func (e *wholeRows) finish() error {
	if e.opt.Format == "webp" {
		return encodeWebP(e.w, e.img)
	}
	return encodeTIFF(e.w, e.img, e.opt)
}
