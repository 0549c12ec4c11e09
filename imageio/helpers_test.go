package imageio

// Builders for small test files, written independently of the package code
// so that tests do not check the package against itself.

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

type chunk struct {
	typ  string
	data []byte
}

// pngFile assembles a PNG from chunks, computing lengths and CRCs.
func pngFile(chunks ...chunk) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	for _, c := range chunks {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(c.data)))
		b.Write(n[:])
		b.WriteString(c.typ)
		b.Write(c.data)
		binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(append([]byte(c.typ), c.data...)))
		b.Write(n[:])
	}
	return b.Bytes()
}

func ihdr(w, h uint32, depth, ct byte) chunk {
	d := make([]byte, 13)
	binary.BigEndian.PutUint32(d[0:], w)
	binary.BigEndian.PutUint32(d[4:], h)
	d[8], d[9] = depth, ct
	return chunk{"IHDR", d}
}

// idat compresses rows, each prefixed by filter type 0.
func idat(rows [][]byte) chunk {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	for _, r := range rows {
		zw.Write([]byte{0})
		zw.Write(r)
	}
	zw.Close()
	return chunk{"IDAT", b.Bytes()}
}

func zlibBytes(p []byte) []byte {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	zw.Write(p)
	zw.Close()
	return b.Bytes()
}

// rawPNG builds a non-interlaced PNG with the given rows of raw samples.
func rawPNG(w, h int, depth, ct byte, rows [][]byte, extra ...chunk) []byte {
	cs := []chunk{ihdr(uint32(w), uint32(h), depth, ct)}
	cs = append(cs, extra...)
	cs = append(cs, idat(rows), chunk{"IEND", nil})
	return pngFile(cs...)
}

// readChunks splits a PNG into chunks, failing the test on a bad CRC.
func readChunks(t *testing.T, p []byte) []chunk {
	t.Helper()
	if !bytes.HasPrefix(p, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("not a PNG")
	}
	p = p[8:]
	var cs []chunk
	for len(p) >= 12 {
		n := int(binary.BigEndian.Uint32(p))
		if len(p) < 12+n {
			t.Fatal("truncated chunk")
		}
		c := chunk{string(p[4:8]), p[8 : 8+n]}
		if crc32.ChecksumIEEE(p[4:8+n]) != binary.BigEndian.Uint32(p[8+n:]) {
			t.Fatalf("bad CRC in %s", c.typ)
		}
		cs = append(cs, c)
		p = p[12+n:]
	}
	return cs
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func encPNG(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encJPEG(t testing.TB, m image.Image, q int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encBMP(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := bmp.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encTIFF(t testing.TB, m image.Image, opt *tiff.Options) []byte {
	var b bytes.Buffer
	if err := tiff.Encode(&b, m, opt); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// insertAfterSOI inserts JPEG marker segments right after SOI.
func insertAfterSOI(jpg []byte, segs ...[]byte) []byte {
	out := append([]byte(nil), jpg[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

func segment(marker byte, payload []byte) []byte {
	l := len(payload) + 2
	return append([]byte{0xff, marker, byte(l >> 8), byte(l)}, payload...)
}

// exifAPP1 builds an APP1 Exif segment whose IFD0 holds an orientation tag
// between two other tags.
func exifAPP1(orientation uint16, bigEndian bool) []byte {
	var bo interface {
		binary.ByteOrder
		binary.AppendByteOrder
	} = binary.LittleEndian
	hdr := []byte("II*\x00")
	if bigEndian {
		bo, hdr = binary.BigEndian, []byte("MM\x00*")
	}
	t := append([]byte(nil), hdr...)
	t = bo.AppendUint32(t, 8)
	t = bo.AppendUint16(t, 3)
	entry := func(tag, typ uint16, count uint32, val []byte) {
		t = bo.AppendUint16(t, tag)
		t = bo.AppendUint16(t, typ)
		t = bo.AppendUint32(t, count)
		v := make([]byte, 4)
		copy(v, val)
		t = append(t, v...)
	}
	entry(0x010f, 2, 4, []byte("Go\x00\x00"))                    // Make, ASCII inline
	entry(0x0112, 3, 1, bo.AppendUint16(nil, orientation))       // Orientation
	entry(0x011a, 5, 1, bo.AppendUint32(nil, uint32(len(t)+16))) // XResolution, offset
	t = bo.AppendUint32(t, 0)                                    // no IFD1
	t = bo.AppendUint32(t, 72)
	t = bo.AppendUint32(t, 1)
	return segment(0xe1, append([]byte("Exif\x00\x00"), t...))
}

// iccSegments splits icc into APP2 ICC_PROFILE segments.
func iccSegments(icc []byte, pieceLen int) [][]byte {
	count := (len(icc) + pieceLen - 1) / pieceLen
	var segs [][]byte
	for i := 0; i < count; i++ {
		p := icc[i*pieceLen : min((i+1)*pieceLen, len(icc))]
		payload := append([]byte("ICC_PROFILE\x00"), byte(i+1), byte(count))
		segs = append(segs, segment(0xe2, append(payload, p...)))
	}
	return segs
}

// jpegSegments lists the marker segments before SOS as (marker, payload).
func jpegSegments(t *testing.T, j []byte) (markers []byte, payloads [][]byte) {
	t.Helper()
	if !bytes.HasPrefix(j, []byte{0xff, 0xd8}) {
		t.Fatal("no SOI")
	}
	p := j[2:]
	for len(p) >= 4 && p[0] == 0xff {
		m := p[1]
		n := int(binary.BigEndian.Uint16(p[2:]))
		markers = append(markers, m)
		payloads = append(payloads, p[4:2+n])
		if m == 0xda {
			break
		}
		p = p[2+n:]
	}
	return markers, payloads
}

// bitWriter writes bits least significant first, as VP8L wants.
type bitWriter struct {
	b    []byte
	nbit uint
}

func (w *bitWriter) put(v uint32, n uint) {
	for i := uint(0); i < n; i++ {
		if w.nbit%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte((v>>i)&1) << (w.nbit % 8)
		w.nbit++
	}
}

// vp8l encodes m as a lossless WebP bitstream with "simple" prefix codes;
// each channel may take at most two distinct values.
func vp8l(t testing.TB, m *image.NRGBA) []byte {
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	var bw bitWriter
	bw.put(0x2f, 8)
	bw.put(uint32(w-1), 14)
	bw.put(uint32(h-1), 14)
	bw.put(1, 1) // alpha used
	bw.put(0, 3) // version
	bw.put(0, 1) // no transform
	bw.put(0, 1) // no colour cache
	bw.put(0, 1) // no meta prefix codes
	// Channel order of the codes: green, red, blue, alpha; then distance.
	order := []int{1, 0, 2, 3}
	var syms [4][]byte
	for k, c := range order {
		seen := map[byte]bool{}
		for i := c; i < len(m.Pix); i += 4 {
			if !seen[m.Pix[i]] {
				seen[m.Pix[i]] = true
				syms[k] = append(syms[k], m.Pix[i])
			}
		}
		if len(syms[k]) > 2 {
			t.Fatal("vp8l: more than two values in a channel")
		}
		if len(syms[k]) == 2 && syms[k][0] > syms[k][1] {
			syms[k][0], syms[k][1] = syms[k][1], syms[k][0]
		}
		bw.put(1, 1) // simple code
		bw.put(uint32(len(syms[k])-1), 1)
		bw.put(1, 1) // 8-bit first symbol
		bw.put(uint32(syms[k][0]), 8)
		if len(syms[k]) == 2 {
			bw.put(uint32(syms[k][1]), 8)
		}
	}
	bw.put(1, 1) // distance: simple, one symbol, 1-bit symbol 0
	bw.put(0, 1)
	bw.put(0, 1)
	bw.put(0, 1)
	for i := 0; i < len(m.Pix); i += 4 {
		for k, c := range order {
			if len(syms[k]) == 2 {
				bit := uint32(0)
				if m.Pix[i+c] == syms[k][1] {
					bit = 1
				}
				bw.put(bit, 1)
			}
		}
	}
	return bw.b
}

func riffChunk(typ string, data []byte) []byte {
	b := append([]byte(typ), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// webpFile wraps a VP8L bitstream; with icc it uses the extended format.
func webpFile(t testing.TB, m *image.NRGBA, icc []byte) []byte {
	body := []byte("WEBP")
	if icc != nil {
		w, h := m.Bounds().Dx()-1, m.Bounds().Dy()-1
		x := []byte{0x20 | 0x10, 0, 0, 0, byte(w), byte(w >> 8), byte(w >> 16), byte(h), byte(h >> 8), byte(h >> 16)}
		body = append(body, riffChunk("VP8X", x)...)
		body = append(body, riffChunk("ICCP", icc)...)
	}
	body = append(body, riffChunk("VP8L", vp8l(t, m))...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// grayTIFF builds an uncompressed 8-bit gray TIFF with an orientation tag
// (0: none) and an optional ICC profile.
func grayTIFF(m *image.Gray, orientation uint16, icc []byte) []byte {
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	bo := binary.LittleEndian
	type ent struct {
		tag, typ uint16
		count    uint32
		val      uint32
	}
	ents := []ent{
		{256, 3, 1, uint32(w)}, {257, 3, 1, uint32(h)}, {258, 3, 1, 8}, {259, 3, 1, 1},
		{262, 3, 1, 1}, {273, 4, 1, 0}, {277, 3, 1, 1}, {278, 3, 1, uint32(h)},
		{279, 4, 1, uint32(w * h)},
	}
	if orientation != 0 {
		ents = append(ents, ent{274, 3, 1, uint32(orientation)})
	}
	if icc != nil {
		ents = append(ents, ent{34675, 7, uint32(len(icc)), 0})
	}
	// sort by tag
	for i := range ents {
		for j := i + 1; j < len(ents); j++ {
			if ents[j].tag < ents[i].tag {
				ents[i], ents[j] = ents[j], ents[i]
			}
		}
	}
	pixOff := uint32(8 + 2 + 12*len(ents) + 4)
	iccOff := pixOff + uint32(w*h)
	b := append([]byte("II*\x00"), bo.AppendUint32(nil, 8)...)
	b = bo.AppendUint16(b, uint16(len(ents)))
	for _, e := range ents {
		switch e.tag {
		case 273:
			e.val = pixOff
		case 34675:
			e.val = iccOff
		}
		b = bo.AppendUint16(b, e.tag)
		b = bo.AppendUint16(b, e.typ)
		b = bo.AppendUint32(b, e.count)
		if e.typ == 3 {
			b = bo.AppendUint16(b, uint16(e.val))
			b = append(b, 0, 0)
		} else {
			b = bo.AppendUint32(b, e.val)
		}
	}
	b = bo.AppendUint32(b, 0)
	for y := 0; y < h; y++ {
		b = append(b, m.Pix[y*m.Stride:y*m.Stride+w]...)
	}
	return append(b, icc...)
}

// readAllPNG decodes with the standard library.
func stdDecode(t testing.TB, p []byte) image.Image {
	t.Helper()
	m, _, err := image.Decode(bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameNRGBA64 compares two images pixel by pixel as straight 16-bit colour.
func sameNRGBA64(t *testing.T, a, b image.Image) {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("size %v vs %v", a.Bounds().Size(), b.Bounds().Size())
	}
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			ca := straight16(a.At(ab.Min.X+x, ab.Min.Y+y))
			cb := straight16(b.At(bb.Min.X+x, bb.Min.Y+y))
			if ca != cb {
				t.Fatalf("pixel (%d,%d): %v vs %v", x, y, ca, cb)
			}
		}
	}
}

// straight16 returns straight 16-bit RGBA, keeping the colour of
// transparent pixels of straight-alpha colours.
func straight16(c color.Color) [4]uint16 {
	switch c := c.(type) {
	case color.NRGBA:
		return [4]uint16{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, uint16(c.A) * 257}
	case color.NRGBA64:
		return [4]uint16{c.R, c.G, c.B, c.A}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [4]uint16{n.R, n.G, n.B, n.A}
}
