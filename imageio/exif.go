package imageio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// maxExif bounds the EXIF data kept from a file: a JPEG APP1 segment holds
// at most 64 KiB, and real PNG eXIf and WebP EXIF chunks are of that order.
const maxExif = 1 << 20

// maxJPEGExif is the most EXIF data one APP1 segment can carry: 65535
// minus the length field (2) and "Exif\0\0" (6).
const maxJPEGExif = 65535 - 2 - len(exifMagic)

// TIFF/EXIF tags this package reads or rewrites.
const (
	tagXResolution    = 282
	tagYResolution    = 283
	tagResolutionUnit = 296
	tagExifIFD        = 34665
	tagPixelXDim      = 40962
	tagPixelYDim      = 40963
)

// TIFF field types.
const (
	typeShort    = 3
	typeLong     = 4
	typeRational = 5
)

// tiffBlob is a TIFF structure in memory: an EXIF payload (the bytes after
// "Exif\0\0") or a whole TIFF file. Its methods check every offset against
// the data, so any bytes can be given to them.
type tiffBlob struct {
	b  []byte
	bo binary.ByteOrder
}

func parseTIFF(b []byte) (tiffBlob, error) {
	if len(b) < 8 {
		return tiffBlob{}, errors.New("short TIFF header")
	}
	t := tiffBlob{b: b}
	switch string(b[:4]) {
	case "II*\x00":
		t.bo = binary.LittleEndian
	case "MM\x00*":
		t.bo = binary.BigEndian
	default:
		return tiffBlob{}, errors.New("bad TIFF header")
	}
	if _, ok := t.ifd(t.bo.Uint32(b[4:])); !ok {
		return tiffBlob{}, errors.New("IFD0 out of range")
	}
	return t, nil
}

// ifd returns the offsets of the 12-byte entries of the IFD at off.
func (t tiffBlob) ifd(off uint32) ([]int, bool) {
	o := int64(off)
	if o < 8 || o+2 > int64(len(t.b)) {
		return nil, false
	}
	n := int64(t.bo.Uint16(t.b[o:]))
	if o+2+12*n > int64(len(t.b)) {
		return nil, false
	}
	es := make([]int, n)
	for i := range es {
		es[i] = int(o + 2 + 12*int64(i))
	}
	return es, true
}

func (t tiffBlob) ifd0() []int {
	es, _ := t.ifd(t.bo.Uint32(t.b[4:]))
	return es
}

func (t tiffBlob) tag(e int) uint16 { return t.bo.Uint16(t.b[e:]) }

// find returns the entry of tag in es, or -1.
func (t tiffBlob) find(es []int, tag uint16) int {
	for _, e := range es {
		if t.tag(e) == tag {
			return e
		}
	}
	return -1
}

// uint reads a SHORT or LONG entry with count >= 1.
func (t tiffBlob) uint(e int) (uint32, bool) {
	typ, count := t.bo.Uint16(t.b[e+2:]), t.bo.Uint32(t.b[e+4:])
	switch {
	case count < 1:
	case typ == typeShort:
		return uint32(t.bo.Uint16(t.b[e+8:])), true
	case typ == typeLong:
		return t.bo.Uint32(t.b[e+8:]), true
	}
	return 0, false
}

// setUint writes v into a SHORT or LONG entry (count 1) in place, making a
// SHORT a LONG when v needs it: the value lives in the entry itself.
func (t tiffBlob) setUint(e int, v uint32) {
	typ, count := t.bo.Uint16(t.b[e+2:]), t.bo.Uint32(t.b[e+4:])
	if count != 1 || (typ != typeShort && typ != typeLong) {
		return
	}
	if v > math.MaxUint16 || typ == typeLong {
		t.bo.PutUint16(t.b[e+2:], typeLong)
		t.bo.PutUint32(t.b[e+8:], v)
		return
	}
	t.bo.PutUint16(t.b[e+8:], uint16(v))
	t.bo.PutUint16(t.b[e+10:], 0)
}

// rational returns the offset of the 8 bytes of a RATIONAL entry.
func (t tiffBlob) rational(e int) (int, bool) {
	typ, count := t.bo.Uint16(t.b[e+2:]), t.bo.Uint32(t.b[e+4:])
	off := int64(t.bo.Uint32(t.b[e+8:]))
	if typ != typeRational || count < 1 || off+8 > int64(len(t.b)) {
		return 0, false
	}
	return int(off), true
}

// resolution returns the density of IFD0's XResolution and YResolution in
// pixels per inch, 0 when absent, invalid or without a unit (ResolutionUnit
// 1).
func (t tiffBlob) resolution() (x, y float64) {
	es := t.ifd0()
	unit := uint32(2) // inch, the default
	if e := t.find(es, tagResolutionUnit); e >= 0 {
		unit, _ = t.uint(e)
	}
	return density(unit, func(tag uint16) (num, den uint32, ok bool) {
		e := t.find(es, tag)
		if e < 0 {
			return 0, 0, false
		}
		off, ok := t.rational(e)
		if !ok {
			return 0, 0, false
		}
		return t.bo.Uint32(t.b[off:]), t.bo.Uint32(t.b[off+4:]), true
	})
}

// setResolution rewrites IFD0's XResolution and YResolution, where present,
// to x and y pixels per inch, in the file's own unit.
func (t tiffBlob) setResolution(x, y float64) {
	es := t.ifd0()
	unit := uint32(2)
	if e := t.find(es, tagResolutionUnit); e >= 0 {
		unit, _ = t.uint(e)
	}
	perUnit := map[uint32]float64{2: 1, 3: 1 / 2.54}[unit]
	if perUnit == 0 || x <= 0 || y <= 0 {
		return
	}
	for _, r := range []struct {
		tag uint16
		v   float64
	}{{tagXResolution, x * perUnit}, {tagYResolution, y * perUnit}} {
		e := t.find(es, r.tag)
		if e < 0 {
			continue
		}
		off, ok := t.rational(e)
		if !ok {
			continue
		}
		num, den := rationalOf(r.v)
		t.bo.PutUint32(t.b[off:], num)
		t.bo.PutUint32(t.b[off+4:], den)
	}
}

// rationalOf writes v as num/den: exactly when v is a whole number, else
// to a thousandth.
func rationalOf(v float64) (num, den uint32) {
	den = 1
	if v != math.Round(v) {
		den = 1000
	}
	n := math.Round(v * float64(den))
	if n > math.MaxUint32 {
		n = math.MaxUint32
	}
	return uint32(max(n, 1)), den
}

// orientation reads IFD0's (first) orientation tag: 0 if absent.
func (t tiffBlob) orientation() (int, error) {
	e := t.find(t.ifd0(), tagOrientation)
	if e < 0 {
		return 0, nil
	}
	v, ok := t.uint(e)
	if !ok {
		return 0, fmt.Errorf("orientation tag of type %d", t.bo.Uint16(t.b[e+2:]))
	}
	if v < 1 || v > 8 {
		return 0, fmt.Errorf("invalid orientation %d", v)
	}
	return int(v), nil
}

// setOrientation1 sets the orientation tag that orientation reads to 1
// (upright), the pixels having been turned.
func (t tiffBlob) setOrientation1() {
	e := t.find(t.ifd0(), tagOrientation)
	if e < 0 {
		return
	}
	if _, ok := t.uint(e); ok {
		t.bo.PutUint32(t.b[e+4:], 1) // count 1
		t.setUint(e, 1)
	}
}

// setPixelSize rewrites PixelXDimension and PixelYDimension of the Exif
// sub-IFD, where present, to the image's size.
func (t tiffBlob) setPixelSize(w, h int) {
	e := t.find(t.ifd0(), tagExifIFD)
	if e < 0 {
		return
	}
	off, ok := t.uint(e)
	if !ok {
		return
	}
	es, ok := t.ifd(off)
	if !ok {
		return
	}
	for _, e := range es {
		switch t.tag(e) {
		case tagPixelXDim:
			t.setUint(e, uint32(w))
		case tagPixelYDim:
			t.setUint(e, uint32(h))
		}
	}
}

// exifFor returns the EXIF data of an image with header h as it should be
// written: a copy whose pixel size and resolution tags (where the data has
// them) say h's size and density. Nil when h has no (usable) EXIF data.
func exifFor(img Header) []byte {
	if len(img.Exif) == 0 {
		return nil
	}
	t, err := parseTIFF(append([]byte(nil), img.Exif...))
	if err != nil {
		return nil
	}
	t.setPixelSize(img.W, img.H)
	t.setResolution(img.XDPI, img.YDPI)
	return t.b
}

// keepExif checks EXIF data read from a file (the bytes after "Exif\0\0")
// and fills m: the data is kept (a copy, at most maxExif bytes) and its
// orientation read; data whose TIFF header or IFD0 is unreadable is
// dropped with a warning. The resolution is taken when m has none yet.
func keepExif(format string, data []byte, m *meta) {
	if len(data) > maxExif {
		m.warnf("%s: EXIF data of %d bytes dropped (limit %d)", format, len(data), maxExif)
		return
	}
	t, err := parseTIFF(append([]byte(nil), data...))
	if err != nil {
		m.warnf("%s: EXIF data dropped: %v", format, err)
		return
	}
	m.exif = t.b
	o, err := t.orientation()
	if err != nil {
		m.warnf("%s: EXIF orientation ignored: %v", format, err)
	} else if m.orientation == 0 {
		m.orientation = o
	}
	if m.xdpi == 0 {
		m.xdpi, m.ydpi = t.resolution()
	}
}
