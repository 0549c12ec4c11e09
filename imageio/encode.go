package imageio

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"path/filepath"
	"strings"
)

// DefaultJPEGQuality is the JPEG quality used when EncodeOptions.Quality is 0.
const DefaultJPEGQuality = 90

// EncodeOptions controls Encode and WriteFile.
type EncodeOptions struct {
	// Format is "png", "jpeg", "webp" or "tiff" (see ParseFormat). Empty
	// means: from the file name's extension in WriteFile, "png" in Encode.
	Format string

	// Quality is the JPEG quality, 1..100; 0 means DefaultJPEGQuality.
	Quality int

	// Depth overrides img.Depth for PNG and TIFF output when 8 or 16.
	// JPEG and WebP are always 8-bit.
	Depth int

	// Compression is the PNG zlib effort (png.DefaultCompression,
	// png.BestSpeed, ...).
	Compression png.CompressionLevel

	// Background is the colour a JPEG is composited over when the image
	// has alpha (JPEG has none). Nil means white.
	Background color.Color
}

// Formats lists the output formats, as ParseFormat returns them.
var Formats = []string{"png", "jpeg", "webp", "tiff"}

// ParseFormat returns the output format a name stands for: "png",
// "jpeg" (also "jpg"), "webp" or "tiff" (also "tif"), in any case.
func ParseFormat(f string) (string, error) {
	switch strings.ToLower(f) {
	case "png":
		return "png", nil
	case "jpeg", "jpg":
		return "jpeg", nil
	case "webp":
		return "webp", nil
	case "tiff", "tif":
		return "tiff", nil
	}
	return "", fmt.Errorf("unsupported output format %q (want png, jpeg, webp or tiff)", f)
}

// FormatExt is the usual file name extension of an output format (one
// ParseFormat returns): ".png", ".jpg", ".webp" or ".tif".
func FormatExt(format string) string {
	return map[string]string{"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif"}[format]
}

// FormatFromExt returns the output format for a file name by its extension:
// "png" for .png, "jpeg" for .jpg, .jpeg and .jpe, "webp" for .webp, "tiff"
// for .tif and .tiff, and an error otherwise.
func FormatFromExt(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		return "png", nil
	case ".jpg", ".jpeg", ".jpe":
		return "jpeg", nil
	case ".webp":
		return "webp", nil
	case ".tif", ".tiff":
		return "tiff", nil
	}
	return "", fmt.Errorf("cannot tell the output format from the name %q (use .png, .jpg, .webp, .tif or set the format)", filepath.Base(path))
}

// Encode writes img to w as PNG, JPEG, WebP or TIFF (opt.Format, default
// PNG).
//
// PNG: the colour type follows the image, gray (type 0), gray+alpha (4),
// RGB (2) or RGBA (6), with 16-bit samples when the depth (opt.Depth, else
// img.Depth) is 16 and 8-bit samples otherwise; alpha stays straight; the
// ICC profile is written as an iCCP chunk, the density as pHYs, the EXIF
// data as eXIf. JPEG: gray images are written as one-component JPEGs;
// alpha is composited over opt.Background; the density goes into a JFIF
// APP0 segment (whole dots per inch), the EXIF data into APP1 (dropped if
// over the 64 KiB a segment holds) and the ICC profile into APP2
// ICC_PROFILE segments. WebP: lossless (VP8L), 8-bit RGB or RGBA, in an
// extended (VP8X) file with ICCP and EXIF chunks when there is an ICC
// profile or EXIF data; at most 16384x16384. TIFF: Deflate-compressed
// gray, RGBA (alpha opaque when the image has none) or gray/colour with
// unassociated alpha, 8 or 16 bits like PNG, with the density as its
// resolution (72 dpi when unknown); no ICC profile or EXIF data.
//
// A profile whose header names a colour space that contradicts the output
// (a CMYK profile, an RGB profile on a gray image, a gray profile on a
// colour image) is not written, since readers would misapply or reject it.
// The EXIF data is written as it is but for its pixel size and resolution
// tags, rewritten to the image's (its orientation tag was set to 1 when
// Decode turned the pixels); no other orientation is written.
//
// Samples are clamped to [0,1] (NaN to 0) and rounded half away from zero
// to the target depth, floor(x*(2^bits-1) + 0.5).
func Encode(w io.Writer, img *Image, opt EncodeOptions) error {
	if err := encode(w, img, opt); err != nil {
		return fmt.Errorf("imageio: %w", err)
	}
	return nil
}

func encode(w io.Writer, img *Image, opt EncodeOptions) error {
	if err := img.validate(); err != nil {
		return err
	}
	e, err := newEncoder(w, img.Header(), opt)
	if err != nil {
		return err
	}
	e.borrow = true
	if err := e.writeRows(img); err != nil {
		return err
	}
	return e.close()
}

// WriteFile encodes img into the file at path, replacing it atomically.
// The format is opt.Format or, if empty, follows the extension (see
// FormatFromExt).
//
// The data goes to a temporary file in the same directory, named
// ".NAME.tmp-RANDOM" and created with mode 0666 before umask (or the mode
// of the file it replaces); it is synced and renamed over path only when
// everything succeeded. On any error the temporary file is removed and
// path is untouched, so no partial output is ever visible under path. A
// symbolic link at path is replaced by the file, not followed.
func WriteFile(path string, img *Image, opt EncodeOptions) error {
	if err := img.validate(); err != nil {
		return fmt.Errorf("imageio: %s: %w", path, err)
	}
	return WriteFileRows(path, img.Header(), opt, func(e *Encoder) error {
		e.borrow = true
		return e.WriteRows(img)
	})
}

// iccSpace returns the data colour space signature of an ICC profile
// ("RGB ", "GRAY", "CMYK", ...) or "" when the header is too short.
func iccSpace(icc []byte) string {
	if len(icc) < 128 {
		return ""
	}
	return string(icc[16:20])
}

// iccFits reports whether profile icc may be written for a gray or colour
// image: any non-empty profile except one whose header names a known
// colour space other than the image's.
func iccFits(icc []byte, gray bool) bool {
	if len(icc) == 0 {
		return false
	}
	switch iccSpace(icc) {
	case "RGB ":
		return !gray
	case "GRAY":
		return gray
	case "CMYK", "Lab ", "XYZ ", "YCbr", "CMY ", "HSV ", "HLS ", "Luv ", "Yxy ":
		return false
	}
	return true
}

// ---- PNG ----

// writeChunk writes one PNG chunk with its length and CRC.
func writeChunk(w io.Writer, typ string, data []byte) error {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], uint32(len(data)))
	copy(b[4:], typ)
	crc := crc32.NewIEEE()
	crc.Write(b[4:8])
	crc.Write(data)
	if _, err := w.Write(b[:]); err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	binary.BigEndian.PutUint32(b[:4], crc.Sum32())
	_, err := w.Write(b[:4])
	return err
}

// iccpChunk builds the payload of an iCCP chunk for profile icc.
func iccpChunk(icc []byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("ICC profile\x00\x00") // name, NUL, compression method 0
	zw := zlib.NewWriter(&b)
	if _, err := zw.Write(icc); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// idatWriter turns every Write into one IDAT chunk.
type idatWriter struct{ w io.Writer }

func (c idatWriter) Write(p []byte) (int, error) {
	if err := writeChunk(c.w, "IDAT", p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func zlibLevel(l png.CompressionLevel) int {
	switch l {
	case png.NoCompression:
		return zlib.NoCompression
	case png.BestSpeed:
		return zlib.BestSpeed
	case png.BestCompression:
		return zlib.BestCompression
	}
	return zlib.DefaultCompression
}

// pngRows writes a PNG row by row: the signature and header chunks at
// start, the rows through one streaming zlib writer into IDAT chunks of
// 256 KiB, IEND at finish. It holds two rows and their five filtered
// candidates, whatever the image's height.
type pngRows struct {
	zw        *zlib.Writer
	bw        *bufio.Writer
	w         io.Writer
	level     int
	bps       int // bytes per sample
	cur, prev []byte
	cand      [5][]byte
}

func startPNG(w io.Writer, h Header, opt EncodeOptions) (*pngRows, error) {
	depth := h.Depth
	if opt.Depth == 8 || opt.Depth == 16 {
		depth = opt.Depth
	}
	e := &pngRows{w: w, bps: 1}
	if depth == 16 {
		e.bps = 2
	} else {
		depth = 8
	}
	var ct byte // PNG colour type
	switch {
	case h.Gray && !h.Alpha:
		ct = 0
	case h.Gray:
		ct = 4
	case !h.Alpha:
		ct = 2
	default:
		ct = 6
	}
	if _, err := io.WriteString(w, "\x89PNG\r\n\x1a\n"); err != nil {
		return nil, err
	}
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(h.W))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h.H))
	ihdr[8], ihdr[9] = byte(depth), ct // compression, filter, interlace: 0
	if err := writeChunk(w, "IHDR", ihdr[:]); err != nil {
		return nil, err
	}
	if iccFits(h.ICC, h.Gray) {
		data, err := iccpChunk(h.ICC)
		if err != nil {
			return nil, err
		}
		if err := writeChunk(w, "iCCP", data); err != nil {
			return nil, err
		}
	}
	if h.XDPI > 0 && h.YDPI > 0 {
		var phys [9]byte
		binary.BigEndian.PutUint32(phys[0:], perMetre(h.XDPI))
		binary.BigEndian.PutUint32(phys[4:], perMetre(h.YDPI))
		phys[8] = 1 // the metre
		if err := writeChunk(w, "pHYs", phys[:]); err != nil {
			return nil, err
		}
	}
	if exif := exifFor(h); exif != nil {
		if err := writeChunk(w, "eXIf", exif); err != nil {
			return nil, err
		}
	}
	e.level = zlibLevel(opt.Compression)
	e.bw = bufio.NewWriterSize(idatWriter{w}, 1<<18)
	var err error
	if e.zw, err = zlib.NewWriterLevel(e.bw, e.level); err != nil {
		return nil, err
	}
	rowLen := h.planes() * e.bps * h.W
	// cur and prev hold the raw rows; cand[f] the row filtered with f.
	e.cur, e.prev = make([]byte, rowLen), make([]byte, rowLen)
	for f := range e.cand {
		e.cand[f] = make([]byte, rowLen+1)
		e.cand[f][0] = byte(f)
	}
	return e, nil
}

// rows writes the rows of band, whose layout matches the header.
func (e *pngRows) rows(band *Image) error {
	planes := band.allPlanes()
	bpp := len(planes) * e.bps // bytes per pixel
	for y := 0; y < band.H; y++ {
		off := y * band.W
		for c, p := range planes {
			row := p[off : off+band.W]
			if e.bps == 1 {
				for x, v := range row {
					e.cur[x*bpp+c] = to8(v)
				}
			} else {
				for x, v := range row {
					q := to16(v)
					e.cur[x*bpp+2*c], e.cur[x*bpp+2*c+1] = uint8(q>>8), uint8(q)
				}
			}
		}
		best := e.cand[0]
		copy(best[1:], e.cur)
		if e.level != zlib.NoCompression {
			best = filterRow(&e.cand, e.cur, e.prev, bpp)
		}
		if _, err := e.zw.Write(best); err != nil {
			return err
		}
		e.cur, e.prev = e.prev, e.cur
	}
	return nil
}

func (e *pngRows) finish() error {
	if err := e.zw.Close(); err != nil {
		return err
	}
	if err := e.bw.Flush(); err != nil {
		return err
	}
	return writeChunk(e.w, "IEND", nil)
}

// perMetre converts a density in pixels per inch to whole pixels per
// metre, as PNG's pHYs chunk holds it.
func perMetre(dpi float64) uint32 {
	return uint32(min(max(math.Round(dpi/0.0254), 1), math.MaxUint32))
}

// filterRow fills cand with the row filtered by each PNG filter and returns
// the one with the least sum of absolute (signed) bytes, the usual
// heuristic.
func filterRow(cand *[5][]byte, cur, prev []byte, bpp int) []byte {
	n := len(cur)
	none, sub, up, avg, paeth := cand[0][1:], cand[1][1:], cand[2][1:], cand[3][1:], cand[4][1:]
	copy(none, cur)
	for i := 0; i < n; i++ {
		var a, c byte
		if i >= bpp {
			a, c = cur[i-bpp], prev[i-bpp]
		}
		b := prev[i]
		x := cur[i]
		sub[i] = x - a
		up[i] = x - b
		avg[i] = x - byte((int(a)+int(b))/2)
		paeth[i] = x - paethPredictor(a, b, c)
	}
	bestF, bestSum := 0, -1
	for f := range cand {
		sum := 0
		for _, v := range cand[f][1:] {
			sum += absInt8(v)
		}
		if bestSum < 0 || sum < bestSum {
			bestF, bestSum = f, sum
		}
	}
	return cand[bestF]
}

func absInt8(v byte) int {
	if v < 128 {
		return int(v)
	}
	return 256 - int(v)
}

func paethPredictor(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := p-int(a), p-int(b), p-int(c)
	if pa < 0 {
		pa = -pa
	}
	if pb < 0 {
		pb = -pb
	}
	if pc < 0 {
		pc = -pc
	}
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

// ---- JPEG ----

// maxJPEGICCPiece is the profile bytes one APP2 segment can carry: 65535
// minus the length field (2), the magic (12) and sequence/count (2).
const maxJPEGICCPiece = 65535 - 2 - len(iccMagic) - 2

// checkEncode reports what makes an image with header h impossible to
// write in opt.Format (a normalised format), before anything is written.
func checkEncode(h Header, opt EncodeOptions) error {
	switch opt.Format {
	case "jpeg":
		return checkJPEG(h, opt)
	case "webp":
		if h.W > maxWebP || h.H > maxWebP {
			return fmt.Errorf("image %dx%d too large for WebP (max %d)", h.W, h.H, maxWebP)
		}
	}
	return nil
}

func checkJPEG(h Header, opt EncodeOptions) error {
	if opt.Quality < 0 || opt.Quality > 100 {
		return fmt.Errorf("JPEG quality %d out of range 1..100", opt.Quality)
	}
	if len(h.ICC) > 255*maxJPEGICCPiece {
		return fmt.Errorf("ICC profile of %d bytes too large for JPEG", len(h.ICC))
	}
	if h.W > 65535 || h.H > 65535 {
		return fmt.Errorf("image %dx%d too large for JPEG (max 65535)", h.W, h.H)
	}
	return nil
}

// skipSOI drops the first two bytes (the SOI marker) written through it.
type skipSOI struct {
	w    io.Writer
	skip int
}

func (s *skipSOI) Write(p []byte) (int, error) {
	n := 0
	if s.skip > 0 {
		k := min(s.skip, len(p))
		s.skip -= k
		p, n = p[k:], k
	}
	m, err := s.w.Write(p)
	return n + m, err
}

// jpegRows collects the rows of a JPEG as 8-bit samples (alpha composited
// over the background: one byte per pixel for gray, four for colour) and
// encodes them at finish: the standard library's encoder takes a whole
// image.
type jpegRows struct {
	w       io.Writer
	h       Header
	bg      [4]float32
	y       int
	gray    *image.Gray
	rgba    *image.RGBA
	quality int
}

func startJPEG(w io.Writer, h Header, opt EncodeOptions) (*jpegRows, error) {
	if err := checkJPEG(h, opt); err != nil {
		return nil, err
	}
	e := &jpegRows{w: w, h: h, bg: [4]float32{1, 1, 1, 1}, quality: opt.Quality}
	if e.quality == 0 {
		e.quality = DefaultJPEGQuality
	}
	if opt.Background != nil {
		e.bg = straight(opt.Background)
	}
	r := image.Rect(0, 0, h.W, h.H)
	if h.Gray {
		e.gray = image.NewGray(r)
	} else {
		e.rgba = image.NewRGBA(r)
	}
	return e, nil
}

// rows quantizes the rows of band into the 8-bit image.
func (e *jpegRows) rows(band *Image) error {
	n := band.W * band.H
	flat := func(c int, i int) float32 {
		v := band.Pix[c*n+i]
		if band.Alpha == nil {
			return v
		}
		a := band.Alpha[i]
		if !(a > 0) {
			a = 0
		} else if a > 1 {
			a = 1
		}
		return v*a + e.bg[c]*(1-a)
	}
	o := e.y * e.h.W // first pixel of the band in the image
	if e.gray != nil {
		g := e.gray.Pix[o : o+n]
		for i := range g {
			g[i] = to8(flat(0, i))
		}
	} else {
		c := e.rgba.Pix[4*o : 4*(o+n)]
		for i := 0; i < n; i++ {
			p := c[4*i : 4*i+4 : 4*i+4]
			p[0], p[1], p[2], p[3] = to8(flat(0, i)), to8(flat(1, i)), to8(flat(2, i)), 255
		}
	}
	e.y += band.H
	return nil
}

func (e *jpegRows) finish() error {
	w := e.w
	var m image.Image = e.gray
	if e.gray == nil {
		m = e.rgba
	}
	if _, err := w.Write([]byte{0xff, 0xd8}); err != nil {
		return err
	}
	if e.h.XDPI > 0 && e.h.YDPI > 0 {
		dens := func(v float64) uint16 { return uint16(min(max(math.Round(v), 1), math.MaxUint16)) }
		seg := []byte{0xff, 0xe0, 0, 16}
		seg = append(seg, jfifMagic...)
		seg = append(seg, 1, 2, 1) // version 1.02, units: dots per inch
		seg = binary.BigEndian.AppendUint16(seg, dens(e.h.XDPI))
		seg = binary.BigEndian.AppendUint16(seg, dens(e.h.YDPI))
		seg = append(seg, 0, 0) // no thumbnail
		if _, err := w.Write(seg); err != nil {
			return err
		}
	}
	if exif := exifFor(e.h); exif != nil && len(exif) <= maxJPEGExif {
		l := 2 + len(exifMagic) + len(exif)
		seg := append([]byte{0xff, 0xe1, byte(l >> 8), byte(l)}, exifMagic...)
		if _, err := w.Write(append(seg, exif...)); err != nil {
			return err
		}
	}
	icc := e.h.ICC
	if iccFits(icc, e.h.Gray) {
		count := (len(icc) + maxJPEGICCPiece - 1) / maxJPEGICCPiece
		for i := 0; i < count; i++ {
			piece := icc[i*maxJPEGICCPiece : min((i+1)*maxJPEGICCPiece, len(icc))]
			seg := make([]byte, 0, 4+len(iccMagic)+2+len(piece))
			l := 2 + len(iccMagic) + 2 + len(piece)
			seg = append(seg, 0xff, 0xe2, byte(l>>8), byte(l))
			seg = append(seg, iccMagic...)
			seg = append(seg, byte(i+1), byte(count))
			seg = append(seg, piece...)
			if _, err := w.Write(seg); err != nil {
				return err
			}
		}
	}
	return jpeg.Encode(&skipSOI{w: w, skip: 2}, m, &jpeg.Options{Quality: e.quality})
}
