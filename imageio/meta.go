package imageio

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
)

// maxICC bounds the size of an ICC profile read from a file. Real profiles
// are well under a megabyte; the bound keeps a compressed iCCP chunk from
// expanding without limit.
const maxICC = 32 << 20

// meta is what the metadata readers find besides the pixels.
type meta struct {
	gray        bool // the file stores gray samples (PNG colour types 0 and 4)
	icc         []byte
	orientation int     // EXIF/TIFF orientation 1..8, 0 if none
	exif        []byte  // EXIF data (a TIFF structure), a copy
	xdpi, ydpi  float64 // pixel density in pixels per inch, 0 if unknown
	warnings    []string
}

func (m *meta) warnf(format string, args ...any) {
	m.warnings = append(m.warnings, fmt.Sprintf(format, args...))
}

// pngMeta reads the chunks before the first IDAT: the colour type from IHDR
// and the ICC profile from iCCP. Problems only produce warnings: the pixel
// decoder judges whether the file is valid. A chunk is only read (and memory
// allocated for it) when the file holds all of its declared length, and an
// IHDR only when it has its fixed 13 bytes, so a declared length never costs
// more than the file's size.
func pngMeta(sr *io.SectionReader, m *meta) {
	r := bufio.NewReader(io.NewSectionReader(sr, 0, sr.Size()))
	if _, err := r.Discard(8); err != nil {
		return
	}
	pos := int64(8) // offset of the next chunk
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		typ := string(hdr[4:8])
		pos += 8
		if n > 0x7fffffff || int64(n)+4 > sr.Size()-pos {
			return // the decoder reports the truncated or corrupt chunk
		}
		pos += int64(n) + 4
		switch typ {
		case "IDAT", "IEND":
			return
		case "IHDR", "iCCP", "pHYs", "eXIf":
			if typ == "IHDR" && (n != 13 || pos != 8+8+13+4) {
				return // a second or malformed IHDR: the decoder refuses it
			}
			if limit := map[string]uint32{"iCCP": maxICC, "eXIf": maxExif, "pHYs": 9}[typ]; limit > 0 && n > limit {
				m.warnf("png: %s chunk of %d bytes too large, ignored", typ, n)
				if _, err := r.Discard(int(n) + 4); err != nil {
					return
				}
				continue
			}
			data := make([]byte, int(n)+4)
			if _, err := io.ReadFull(r, data); err != nil {
				return
			}
			crc := crc32.NewIEEE()
			crc.Write(hdr[4:8])
			crc.Write(data[:n])
			if crc.Sum32() != binary.BigEndian.Uint32(data[n:]) {
				return // the decoder reports the bad checksum
			}
			data = data[:n]
			switch typ {
			case "IHDR":
				if n >= 10 {
					ct := data[9]
					m.gray = ct == 0 || ct == 4
				}
				continue
			case "pHYs": // pixels per unit X and Y, unit 1: the metre
				if n == 9 && data[8] == 1 {
					x, y := binary.BigEndian.Uint32(data), binary.BigEndian.Uint32(data[4:])
					if x > 0 && y > 0 {
						m.xdpi, m.ydpi = float64(x)*0.0254, float64(y)*0.0254
					}
				}
				continue
			case "eXIf":
				if m.exif == nil {
					xdpi, ydpi := m.xdpi, m.ydpi
					keepExif("png", data, m)
					if xdpi > 0 { // pHYs came first and wins
						m.xdpi, m.ydpi = xdpi, ydpi
					}
				}
				continue
			}
			if m.icc != nil {
				continue // only the first iCCP counts
			}
			icc, err := parseICCP(data)
			if err != nil {
				m.warnf("png: ICC profile ignored: %v", err)
				continue
			}
			m.icc = icc
		default:
			if _, err := r.Discard(int(n) + 4); err != nil {
				return
			}
		}
	}
}

// parseICCP decodes the payload of an iCCP chunk: a 1-79 byte profile name,
// a NUL, the compression method (0, zlib) and the compressed profile.
func parseICCP(data []byte) ([]byte, error) {
	i := bytes.IndexByte(data, 0)
	if i < 1 || i > 79 {
		return nil, errors.New("bad profile name")
	}
	if len(data) < i+2 || data[i+1] != 0 {
		return nil, errors.New("unknown compression method")
	}
	zr, err := zlib.NewReader(bytes.NewReader(data[i+2:]))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	icc, err := io.ReadAll(io.LimitReader(zr, maxICC+1))
	if err != nil {
		return nil, err
	}
	if len(icc) > maxICC {
		return nil, fmt.Errorf("profile larger than %d bytes", maxICC)
	}
	if len(icc) == 0 {
		return nil, errors.New("empty profile")
	}
	return icc, nil
}

// iccMagic starts the payload of a JPEG APP2 segment that carries a piece of
// an ICC profile; the next two bytes are the 1-based sequence number and the
// count of pieces.
const iccMagic = "ICC_PROFILE\x00"

// jfifMagic starts the payload of a JPEG APP0 JFIF segment.
const jfifMagic = "JFIF\x00"

// exifMagic starts the payload of a JPEG APP1 segment holding Exif data,
// followed by a TIFF header.
const exifMagic = "Exif\x00\x00"

// jpegMeta reads the marker segments before the first SOS: EXIF orientation
// from APP1 and the ICC profile from APP2 segments.
func jpegMeta(sr *io.SectionReader, m *meta) {
	r := bufio.NewReader(io.NewSectionReader(sr, 0, sr.Size()))
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return
	}
	type piece struct {
		seq, count byte
		data       []byte
	}
	var pieces []piece
	iccBytes := 0
	exifSeen, jfifSeen := false, false
	for {
		// Find the next marker, skipping garbage and fill bytes.
		c, err := r.ReadByte()
		if err != nil {
			break
		}
		if c != 0xff {
			continue
		}
		for c == 0xff {
			if c, err = r.ReadByte(); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
		marker := c
		if marker == 0x00 || marker == 0x01 || marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7) {
			continue // no length field
		}
		if marker == 0xda || marker == 0xd9 { // SOS or EOI
			break
		}
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			break
		}
		n := int(binary.BigEndian.Uint16(l[:])) - 2
		if n < 0 {
			break
		}
		want := (marker == 0xe1 && !exifSeen) || marker == 0xe2 || (marker == 0xe0 && !jfifSeen)
		if !want {
			if _, err := r.Discard(n); err != nil {
				break
			}
			continue
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			break
		}
		switch {
		case marker == 0xe0 && bytes.HasPrefix(data, []byte(jfifMagic)) && len(data) >= len(jfifMagic)+7:
			// JFIF: version (2), units, X density, Y density (2 each).
			jfifSeen = true
			d := data[len(jfifMagic)+2:]
			x, y := float64(binary.BigEndian.Uint16(d[1:])), float64(binary.BigEndian.Uint16(d[3:]))
			if perInch := map[byte]float64{1: 1, 2: 2.54}[d[0]]; perInch > 0 && x > 0 && y > 0 {
				m.xdpi, m.ydpi = x*perInch, y*perInch
			}
		case marker == 0xe1 && bytes.HasPrefix(data, []byte(exifMagic)):
			exifSeen = true
			keepExif("jpeg", data[len(exifMagic):], m)
		case marker == 0xe2 && bytes.HasPrefix(data, []byte(iccMagic)) && len(data) >= len(iccMagic)+2:
			d := data[len(iccMagic):]
			pieces = append(pieces, piece{d[0], d[1], d[2:]})
			iccBytes += len(d) - 2
		}
	}
	if len(pieces) == 0 {
		return
	}
	sort.SliceStable(pieces, func(i, j int) bool { return pieces[i].seq < pieces[j].seq })
	count := int(pieces[0].count)
	ok := count == len(pieces)
	for i, p := range pieces {
		if int(p.count) != count || int(p.seq) != i+1 {
			ok = false
		}
	}
	if !ok {
		m.warnf("jpeg: ICC profile ignored: %d APP2 pieces do not form a complete sequence", len(pieces))
		return
	}
	icc := make([]byte, 0, iccBytes)
	for _, p := range pieces {
		icc = append(icc, p.data...)
	}
	if len(icc) == 0 {
		m.warnf("jpeg: ICC profile ignored: empty")
		return
	}
	m.icc = icc
}

// TIFF tags read from IFD0.
const (
	tagOrientation = 274
	tagICC         = 34675
)

type ifdEntry struct {
	typ   uint16
	count uint32
	val   [4]byte
}

// readIFD0 parses a TIFF header at offset 0 of ra and returns the byte
// order and the entries of the first IFD whose tags are in want.
func readIFD0(ra io.ReaderAt, want ...uint16) (binary.ByteOrder, map[uint16]ifdEntry, error) {
	var h [8]byte
	if _, err := ra.ReadAt(h[:], 0); err != nil {
		return nil, nil, errors.New("short TIFF header")
	}
	var bo binary.ByteOrder
	switch string(h[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return nil, nil, errors.New("bad TIFF header")
	}
	off := int64(bo.Uint32(h[4:]))
	var c [2]byte
	if _, err := ra.ReadAt(c[:], off); err != nil {
		return nil, nil, errors.New("IFD0 out of range")
	}
	n := int(bo.Uint16(c[:]))
	buf := make([]byte, 12*n)
	if _, err := ra.ReadAt(buf, off+2); err != nil {
		return nil, nil, errors.New("IFD0 truncated")
	}
	entries := make(map[uint16]ifdEntry)
	for i := 0; i < n; i++ {
		e := buf[12*i : 12*i+12]
		tag := bo.Uint16(e)
		for _, t := range want {
			if t == tag {
				var v ifdEntry
				v.typ, v.count = bo.Uint16(e[2:]), bo.Uint32(e[4:])
				copy(v.val[:], e[8:12])
				if _, dup := entries[tag]; !dup {
					entries[tag] = v
				}
			}
		}
	}
	return bo, entries, nil
}

// orientationOf returns the orientation in entries, 0 if absent.
func orientationOf(bo binary.ByteOrder, entries map[uint16]ifdEntry) (int, error) {
	e, ok := entries[tagOrientation]
	if !ok {
		return 0, nil
	}
	var o int
	switch {
	case e.typ == 3 && e.count >= 1: // SHORT
		o = int(bo.Uint16(e.val[:]))
	case e.typ == 4 && e.count >= 1: // LONG
		o = int(bo.Uint32(e.val[:]))
	default:
		return 0, fmt.Errorf("orientation tag of type %d", e.typ)
	}
	if o < 1 || o > 8 {
		return 0, fmt.Errorf("invalid orientation %d", o)
	}
	return o, nil
}

// tiffMeta reads orientation and ICC profile from IFD0 of a TIFF file.
func tiffMeta(sr *io.SectionReader, m *meta) {
	bo, entries, err := readIFD0(sr, tagOrientation, tagICC, tagXResolution, tagYResolution, tagResolutionUnit)
	if err != nil {
		return // the decoder reports it
	}
	m.xdpi, m.ydpi = tiffResolution(sr, bo, entries)
	o, err := orientationOf(bo, entries)
	if err != nil {
		m.warnf("tiff: orientation ignored: %v", err)
	}
	m.orientation = o
	e, ok := entries[tagICC]
	if !ok {
		return
	}
	if e.typ != 1 && e.typ != 7 { // BYTE or UNDEFINED
		m.warnf("tiff: ICC profile ignored: tag of type %d", e.typ)
		return
	}
	if e.count == 0 || e.count > maxICC {
		m.warnf("tiff: ICC profile ignored: %d bytes", e.count)
		return
	}
	at := int64(bo.Uint32(e.val[:]))
	if e.count > 4 && at+int64(e.count) > sr.Size() {
		m.warnf("tiff: ICC profile ignored: out of range")
		return
	}
	icc := make([]byte, e.count)
	if e.count <= 4 {
		copy(icc, e.val[:])
	} else if _, err := sr.ReadAt(icc, at); err != nil {
		m.warnf("tiff: ICC profile ignored: %v", err)
		return
	}
	m.icc = icc
}

// tiffResolution reads the X and Y resolution of a TIFF file's IFD0 in
// pixels per inch (0, 0 if absent or unusable).
func tiffResolution(ra io.ReaderAt, bo binary.ByteOrder, entries map[uint16]ifdEntry) (x, y float64) {
	unit := uint32(2)
	if e, ok := entries[tagResolutionUnit]; ok && e.typ == typeShort {
		unit = uint32(bo.Uint16(e.val[:]))
	}
	return density(unit, func(tag uint16) (num, den uint32, ok bool) {
		e, ok := entries[tag]
		if !ok || e.typ != typeRational || e.count < 1 {
			return 0, 0, false
		}
		var r [8]byte
		if _, err := ra.ReadAt(r[:], int64(bo.Uint32(e.val[:]))); err != nil {
			return 0, 0, false
		}
		return bo.Uint32(r[:]), bo.Uint32(r[4:]), true
	})
}

// density turns TIFF/EXIF XResolution and YResolution (rationals read by
// rational) in ResolutionUnit unit (2: inch, the default; 3: cm; 1: none)
// into pixels per inch: (0, 0) when either is absent, invalid or has no
// unit. Shared by TIFF files and EXIF blocks.
func density(unit uint32, rational func(tag uint16) (num, den uint32, ok bool)) (x, y float64) {
	perInch := map[uint32]float64{2: 1, 3: 2.54}[unit]
	read := func(tag uint16) float64 {
		num, den, ok := rational(tag)
		if !ok || den == 0 {
			return 0
		}
		return float64(num) / float64(den) * perInch
	}
	x, y = read(tagXResolution), read(tagYResolution)
	if x <= 0 || y <= 0 {
		return 0, 0
	}
	return x, y
}

// bmpMeta reads the density of a BMP file (pixels per metre in the
// BITMAPINFOHEADER and its successors).
func bmpMeta(sr *io.SectionReader, m *meta) {
	var h [46]byte
	if _, err := sr.ReadAt(h[:], 0); err != nil || binary.LittleEndian.Uint32(h[14:]) < 40 {
		return
	}
	x, y := int32(binary.LittleEndian.Uint32(h[38:])), int32(binary.LittleEndian.Uint32(h[42:]))
	if x > 0 && y > 0 {
		m.xdpi, m.ydpi = float64(x)*0.0254, float64(y)*0.0254
	}
}

// webpMeta reads the ICCP and EXIF chunks of an extended (VP8X) WebP file.
func webpMeta(sr *io.SectionReader, m *meta) {
	var h [12]byte
	if _, err := sr.ReadAt(h[:], 0); err != nil {
		return
	}
	off := int64(12)
	for {
		var c [8]byte
		if _, err := sr.ReadAt(c[:], off); err != nil {
			return
		}
		n := int64(binary.LittleEndian.Uint32(c[4:]))
		switch string(c[:4]) {
		case "ANIM", "ANMF":
			return
		case "ICCP":
			if m.icc != nil {
				break
			}
			if n == 0 || n > maxICC || off+8+n > sr.Size() {
				m.warnf("webp: ICC profile of %d bytes ignored", n)
				break
			}
			icc := make([]byte, n)
			if _, err := sr.ReadAt(icc, off+8); err != nil {
				m.warnf("webp: ICC profile ignored: truncated")
				break
			}
			m.icc = icc
		case "EXIF": // after the image data
			if m.exif != nil {
				break
			}
			if n > maxExif || off+8+n > sr.Size() {
				m.warnf("webp: EXIF chunk of %d bytes ignored", n)
				break
			}
			data := make([]byte, n)
			if _, err := sr.ReadAt(data, off+8); err != nil {
				break
			}
			// Some writers keep the JPEG "Exif\0\0" prefix.
			keepExif("webp", bytes.TrimPrefix(data, []byte(exifMagic)), m)
		}
		off += 8 + n + n&1
	}
}
