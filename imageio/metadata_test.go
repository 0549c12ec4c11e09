package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xwebp "golang.org/x/image/webp"
)

// testExif builds EXIF data (a TIFF structure): IFD0 with Make, Orientation,
// X/YResolution (xres/1 per inch), ResolutionUnit and a pointer to an Exif
// sub-IFD holding PixelXDimension and PixelYDimension (SHORTs).
func testExif(bigEndian bool, orientation uint16, make string, xres uint32, pw, ph uint16) []byte {
	var bo interface {
		binary.ByteOrder
		binary.AppendByteOrder
	} = binary.LittleEndian
	hdr := "II*\x00"
	if bigEndian {
		bo, hdr = binary.BigEndian, "MM\x00*"
	}
	b := []byte(hdr)
	b = bo.AppendUint32(b, 8)
	const n0 = 6
	ifd0End := 8 + 2 + 12*n0 + 4
	makeOff := ifd0End
	mk := append([]byte(make), 0)
	ratOff := makeOff + len(mk)
	subOff := ratOff + 16
	b = bo.AppendUint16(b, n0)
	ent := func(tag, typ uint16, count, val uint32, short bool) {
		b = bo.AppendUint16(b, tag)
		b = bo.AppendUint16(b, typ)
		b = bo.AppendUint32(b, count)
		if short {
			b = bo.AppendUint16(b, uint16(val))
			b = bo.AppendUint16(b, 0)
		} else {
			b = bo.AppendUint32(b, val)
		}
	}
	ent(0x010f, 2, uint32(len(mk)), uint32(makeOff), false)
	ent(0x0112, 3, 1, uint32(orientation), true)
	ent(0x011a, 5, 1, uint32(ratOff), false)
	ent(0x011b, 5, 1, uint32(ratOff+8), false)
	ent(0x0128, 3, 1, 2, true)
	ent(0x8769, 4, 1, uint32(subOff), false)
	b = bo.AppendUint32(b, 0)
	b = append(b, mk...)
	for range 2 {
		b = bo.AppendUint32(b, xres)
		b = bo.AppendUint32(b, 1)
	}
	b = bo.AppendUint16(b, 2)
	ent(0xa002, 3, 1, uint32(pw), true)
	ent(0xa003, 3, 1, uint32(ph), true)
	return bo.AppendUint32(b, 0)
}

// exifInfo is what a test reads back from EXIF data, with its own parser.
type exifInfo struct {
	make           string
	orientation    int // 0: absent
	xres, yres     float64
	pixelX, pixelY int
}

func readExif(t *testing.T, b []byte) exifInfo {
	t.Helper()
	var bo binary.ByteOrder = binary.LittleEndian
	if bytes.HasPrefix(b, []byte("MM")) {
		bo = binary.BigEndian
	}
	var info exifInfo
	var walk func(off uint32, depth int)
	walk = func(off uint32, depth int) {
		if int(off)+2 > len(b) || depth > 1 {
			t.Fatalf("IFD at %d out of range", off)
		}
		n := int(bo.Uint16(b[off:]))
		for i := 0; i < n; i++ {
			e := b[int(off)+2+12*i:]
			tag, typ := bo.Uint16(e), bo.Uint16(e[2:])
			v := bo.Uint32(e[8:])
			if typ == 3 {
				v = uint32(bo.Uint16(e[8:]))
			}
			rat := func() float64 { return float64(bo.Uint32(b[v:])) / float64(bo.Uint32(b[v+4:])) }
			switch tag {
			case 0x010f:
				info.make = strings.TrimRight(string(b[v:v+bo.Uint32(e[4:])]), "\x00")
			case 0x0112:
				info.orientation = int(v)
			case 0x011a:
				info.xres = rat()
			case 0x011b:
				info.yres = rat()
			case 0x8769:
				walk(v, depth+1)
			case 0xa002:
				info.pixelX = int(v)
			case 0xa003:
				info.pixelY = int(v)
			}
		}
	}
	walk(bo.Uint32(b[4:]), 0)
	return info
}

// noisy returns a w x h image of random levels, with alpha if asked.
func noisy(w, h int, gray, alpha bool, depth int, seed uint64) *Image {
	r := rand.New(rand.NewPCG(seed, 1))
	img := NewImage(w, h, gray, alpha, depth)
	levels := 255
	if depth == 16 {
		levels = 65535
	}
	for i := range img.Pix {
		img.Pix[i] = float32(r.IntN(levels+1)) / float32(levels)
	}
	for i := range img.Alpha {
		img.Alpha[i] = float32(r.IntN(levels+1)) / float32(levels)
	}
	return img
}

// TestExifAndDensityRoundTrip: EXIF (minus orientation, applied) and
// density survive Decode, CopyMetadata onto a 2x image (density scaled)
// and Encode as PNG, JPEG and WebP, read back with the test's own parsers.
func TestExifAndDensityRoundTrip(t *testing.T) {
	stored := image.NewNRGBA(image.Rect(0, 0, 4, 3)) // shown 3x4 with orientation 6
	for i := range stored.Pix {
		stored.Pix[i] = byte(i * 7)
	}
	phys := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 2835), 2835)
	jfif := append([]byte("JFIF\x00\x01\x01\x01"), 0, 150, 0, 150, 0, 0) // 150 dpi
	for _, tc := range []struct {
		name     string
		file     []byte
		dpi      float64
		wantExif bool
	}{
		{"png eXIf pHYs", rawPNG(4, 3, 8, 6, rowsOf(stored), chunk{"pHYs", append(phys, 1)},
			chunk{"eXIf", testExif(true, 6, "TestCam", 300, 4, 3)}), 2835 * 0.0254, true},
		{"png eXIf only", rawPNG(4, 3, 8, 6, rowsOf(stored),
			chunk{"eXIf", testExif(false, 6, "TestCam", 300, 4, 3)}), 300, true},
		{"jpeg JFIF APP1", insertAfterSOI(encJPEG(t, stored, 95), segment(0xe0, jfif),
			segment(0xe1, append([]byte("Exif\x00\x00"), testExif(false, 6, "TestCam", 72, 4, 3)...))), 150, true},
		{"jpeg APP1 only", insertAfterSOI(encJPEG(t, stored, 95),
			segment(0xe1, append([]byte("Exif\x00\x00"), testExif(true, 6, "TestCam", 72, 4, 3)...))), 72, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Decode(bytes.NewReader(tc.file), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if img.W != 3 || img.H != 4 || img.Orientation != 6 {
				t.Fatalf("decoded %dx%d orientation %d, want 3x4 turned by 6", img.W, img.H, img.Orientation)
			}
			if math.Abs(img.XDPI-tc.dpi) > 1e-9 || math.Abs(img.YDPI-tc.dpi) > 1e-9 {
				t.Fatalf("density %v x %v, want %v", img.XDPI, img.YDPI, tc.dpi)
			}
			if got := readExif(t, img.Exif); got.make != "TestCam" || got.orientation != 1 {
				t.Fatalf("decoded EXIF %+v, want Make TestCam and orientation 1", got)
			}
			// The upscaler's output: twice the size, the source's metadata.
			up := NewImage(6, 8, false, false, 8)
			CopyMetadata(up, img)
			if up.XDPI != 2*img.XDPI || up.YDPI != 2*img.YDPI {
				t.Fatalf("CopyMetadata: density %v, want %v", up.XDPI, 2*img.XDPI)
			}
			for _, f := range []string{"png", "jpeg", "webp"} {
				var b bytes.Buffer
				if err := Encode(&b, up, EncodeOptions{Format: f}); err != nil {
					t.Fatal(err)
				}
				var exif []byte
				var dpi float64
				switch f {
				case "png":
					for _, c := range readChunks(t, b.Bytes()) {
						switch c.typ {
						case "eXIf":
							exif = c.data
						case "pHYs":
							if c.data[8] != 1 || !bytes.Equal(c.data[:4], c.data[4:8]) {
								t.Fatalf("pHYs %v", c.data)
							}
							dpi = float64(binary.BigEndian.Uint32(c.data)) * 0.0254
							if want := math.Round(up.XDPI / 0.0254); float64(binary.BigEndian.Uint32(c.data)) != want {
								t.Errorf("pHYs %d per metre, want %v", binary.BigEndian.Uint32(c.data), want)
							}
						}
					}
				case "jpeg":
					markers, payloads := jpegSegments(t, b.Bytes())
					for i, m := range markers {
						p := payloads[i]
						switch {
						case m == 0xe0 && bytes.HasPrefix(p, []byte("JFIF\x00")):
							if p[7] != 1 {
								t.Fatalf("JFIF units %d", p[7])
							}
							dpi = float64(binary.BigEndian.Uint16(p[8:]))
							if dpi != math.Round(up.XDPI) {
								t.Errorf("JFIF density %v, want %v", dpi, math.Round(up.XDPI))
							}
						case m == 0xe1 && bytes.HasPrefix(p, []byte("Exif\x00\x00")):
							exif = p[6:]
						}
					}
				case "webp":
					exif = riffChunkOf(t, b.Bytes(), "EXIF")
					dpi = up.XDPI // WebP has no density of its own: EXIF's
				}
				got := readExif(t, exif)
				if got.make != "TestCam" || got.orientation != 1 || got.pixelX != 6 || got.pixelY != 8 {
					t.Errorf("%s: EXIF %+v, want Make TestCam, orientation 1, 6x8 pixels", f, got)
				}
				if math.Abs(got.xres-up.XDPI) > 1e-3 || math.Abs(got.yres-up.YDPI) > 1e-3 {
					t.Errorf("%s: EXIF resolution %v x %v, want %v", f, got.xres, got.yres, up.XDPI)
				}
				if math.Abs(dpi-up.XDPI) > 0.5 {
					t.Errorf("%s: density %v, want %v", f, dpi, up.XDPI)
				}
				// And Decode reads it all back.
				back, err := Decode(bytes.NewReader(b.Bytes()), DecodeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if back.W != 6 || back.H != 8 || math.Abs(back.XDPI-up.XDPI) > 0.5 || len(back.Exif) == 0 {
					t.Errorf("%s: decoded back %dx%d, %v dpi, %d EXIF bytes", f, back.W, back.H, back.XDPI, len(back.Exif))
				}
			}
		})
	}
	// IgnoreOrientation keeps the stored pixels and the EXIF orientation.
	file := rawPNG(4, 3, 8, 6, rowsOf(stored), chunk{"eXIf", testExif(true, 6, "TestCam", 300, 4, 3)})
	img, err := Decode(bytes.NewReader(file), DecodeOptions{IgnoreOrientation: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := readExif(t, img.Exif); img.W != 4 || got.orientation != 6 {
		t.Errorf("IgnoreOrientation: %dx%d, EXIF orientation %d", img.W, img.H, got.orientation)
	}
	// Broken EXIF data is dropped with a warning, never fails the decode.
	file = rawPNG(4, 3, 8, 6, rowsOf(stored), chunk{"eXIf", []byte("II*\x00\xff\xff\x00\x00")})
	if img, err := Decode(bytes.NewReader(file), DecodeOptions{}); err != nil || img.Exif != nil || len(img.Warnings) == 0 {
		t.Errorf("broken EXIF: err %v, %d bytes kept, warnings %v", err, len(img.Exif), img.Warnings)
	}
}

// rowsOf gives the rows of an NRGBA image as PNG colour type 6 rows.
func rowsOf(m *image.NRGBA) [][]byte {
	var rows [][]byte
	for y := 0; y < m.Bounds().Dy(); y++ {
		rows = append(rows, m.Pix[y*m.Stride:y*m.Stride+4*m.Bounds().Dx()])
	}
	return rows
}

// riffChunkOf returns the payload of the first chunk of type typ in a WebP.
func riffChunkOf(t *testing.T, f []byte, typ string) []byte {
	t.Helper()
	if len(f) < 12 || string(f[:4]) != "RIFF" || string(f[8:12]) != "WEBP" {
		t.Fatal("not a WebP file")
	}
	if int(binary.LittleEndian.Uint32(f[4:])) != len(f)-8 {
		t.Fatalf("RIFF size %d, file %d", binary.LittleEndian.Uint32(f[4:]), len(f))
	}
	for p := f[12:]; len(p) >= 8; {
		n := int(binary.LittleEndian.Uint32(p[4:]))
		if 8+n > len(p) {
			t.Fatalf("chunk %q truncated", p[:4])
		}
		if string(p[:4]) == typ {
			return p[8 : 8+n]
		}
		p = p[min(len(p), 8+n+n&1):]
	}
	return nil
}

// TestWebPTIFFOutput: WebP (lossless) and TIFF outputs decode, with this
// package and with x/image's decoders, to the same pixels.
func TestWebPTIFFOutput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		img   *Image
		icc   bool
		exif  bool
		wantW bool // also checked with x/image/webp directly
	}{
		{"rgb", noisy(37, 23, false, false, 8, 1), false, false, true},
		{"rgba", noisy(16, 9, false, true, 8, 2), false, false, true},
		{"gray", noisy(20, 20, true, false, 8, 3), false, false, true},
		{"gray alpha", noisy(5, 7, true, true, 8, 4), false, false, true},
		{"1x1", noisy(1, 1, false, true, 8, 5), false, false, true},
		{"rgb16", noisy(11, 13, false, false, 16, 6), false, false, false},
		{"rgba16 gray16", noisy(11, 13, true, true, 16, 7), false, false, false},
		{"metadata", noisy(19, 17, false, true, 8, 8), true, true, true},
	} {
		if tc.icc {
			tc.img.ICC = fakeICC()
		}
		if tc.exif {
			tc.img.Exif = testExif(false, 1, "TestCam", 72, 1, 1)
		}
		tc.img.XDPI, tc.img.YDPI = 300, 150
		for _, f := range []string{"webp", "tiff"} {
			t.Run(tc.name+" "+f, func(t *testing.T) {
				var b bytes.Buffer
				if err := Encode(&b, tc.img, EncodeOptions{Format: f}); err != nil {
					t.Fatal(err)
				}
				got, err := Decode(bytes.NewReader(b.Bytes()), DecodeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got.Format != f || got.W != tc.img.W || got.H != tc.img.H {
					t.Fatalf("decoded %s %dx%d", got.Format, got.W, got.H)
				}
				depth := 8
				if f == "tiff" {
					depth = tc.img.Depth
				}
				q := func(v float32) float32 {
					if depth == 16 {
						return from16(to16(v))
					}
					return lut8[to8(v)]
				}
				n := tc.img.W * tc.img.H
				for c := 0; c < 3; c++ {
					src := tc.img.Pix[min(c, tc.img.Channels()-1)*n:]
					dst := got.Pix[min(c, got.Channels()-1)*n:]
					for i := 0; i < n; i++ {
						if dst[i] != q(src[i]) {
							t.Fatalf("channel %d pixel %d: %v, want %v", c, i, dst[i], q(src[i]))
						}
					}
				}
				for i := 0; i < n; i++ {
					want := float32(1)
					if tc.img.Alpha != nil {
						want = q(tc.img.Alpha[i])
					}
					have := float32(1)
					if got.Alpha != nil {
						have = got.Alpha[i]
					}
					if have != want {
						t.Fatalf("alpha %d: %v, want %v", i, have, want)
					}
				}
				if f == "tiff" && (got.XDPI != 300 || got.YDPI != 150) {
					t.Errorf("TIFF density %v x %v, want 300 x 150", got.XDPI, got.YDPI)
				}
				if f == "webp" {
					if tc.icc && !bytes.Equal(got.ICC, tc.img.ICC) {
						t.Error("WebP: ICC profile lost")
					}
					if tc.exif && len(got.Exif) == 0 {
						t.Error("WebP: EXIF lost")
					}
					if tc.wantW {
						m, err := xwebp.Decode(bytes.NewReader(b.Bytes()))
						if err != nil {
							t.Fatalf("x/image/webp: %v", err)
						}
						c := color.NRGBAModel.Convert(m.At(0, 0)).(color.NRGBA)
						if want := to8(tc.img.Pix[0]); c.R != want && tc.img.Alpha == nil {
							t.Errorf("x/image/webp: R(0,0) %d, want %d", c.R, want)
						}
					}
				}
			})
		}
	}
	if err := Encode(io.Discard, NewImage(16385, 1, false, false, 8), EncodeOptions{Format: "webp"}); err == nil {
		t.Error("a WebP wider than 16384 encoded")
	}
}

// TestFormats: names and extensions.
func TestFormats(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"PNG", "png"}, {"jpg", "jpeg"}, {"JPEG", "jpeg"}, {"webp", "webp"}, {"tif", "tiff"}, {"TIFF", "tiff"},
	} {
		if got, err := ParseFormat(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v", tc.in, got, err)
		}
		if got, err := FormatFromExt("a." + tc.in); err != nil || got != tc.want {
			t.Errorf("FormatFromExt(a.%s) = %q, %v", tc.in, got, err)
		}
	}
	for _, f := range Formats {
		if got, err := FormatFromExt("x" + FormatExt(f)); err != nil || got != f {
			t.Errorf("FormatExt(%s) = %s does not lead back", f, FormatExt(f))
		}
	}
	if _, err := ParseFormat("gif"); err == nil {
		t.Error("gif accepted")
	}
}

// pipe hides everything but Read, as stdin is seen.
type pipe struct{ r io.Reader }

func (p pipe) Read(b []byte) (int, error) { return p.r.Read(b) }

// countingReader counts what was read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// endless is a stream of one byte repeated.
type endless byte

func (e endless) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(e)
	}
	return len(b), nil
}

// TestDecodeStream: a stream (stdin) is decoded like a file, within
// MaxBytes, and refused early when its first bytes are no image or its
// header is too large.
func TestDecodeStream(t *testing.T) {
	want := noisy(30, 20, false, true, 8, 9)
	var b bytes.Buffer
	if err := Encode(&b, want, EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(pipe{bytes.NewReader(b.Bytes())}, DecodeOptions{})
	if err != nil || got.W != 30 || !equalF(got.Pix, want.Pix) {
		t.Fatalf("stream decode: %v", err)
	}
	// An endless stream of garbage: refused after its first bytes.
	c := &countingReader{r: endless('x')}
	if _, err := Decode(pipe{c}, DecodeOptions{}); !errors.Is(err, ErrUnknownFormat) || c.n > 1<<20 {
		t.Errorf("garbage stream: %v after %d bytes", err, c.n)
	}
	// A bomb's header: refused after 64 KiB, not after the whole stream.
	bomb := rawPNG(100000, 100000, 8, 6, [][]byte{{0, 0, 0, 0}})
	c = &countingReader{r: io.MultiReader(bytes.NewReader(bomb), endless(0))}
	if _, err := Decode(pipe{c}, DecodeOptions{}); !errors.Is(err, ErrTooLarge) || c.n > 1<<20 {
		t.Errorf("bomb stream: %v after %d bytes", err, c.n)
	}
	// A valid header followed by more data than MaxBytes.
	c = &countingReader{r: io.MultiReader(bytes.NewReader(b.Bytes()[:40]), endless(0))}
	if _, err := Decode(pipe{c}, DecodeOptions{MaxBytes: 1 << 20}); !errors.Is(err, ErrTooLarge) || c.n > 1<<20+1 {
		t.Errorf("over MaxBytes: %v after %d bytes", err, c.n)
	}
}

// TestMessages: a decoder's format name is not repeated, and WriteFile's
// errors name the output, never its temporary file.
func TestMessages(t *testing.T) {
	for _, file := range [][]byte{
		[]byte("\x89PNG\r\n\x1a\nthis is not a chunk"),
		append([]byte("\x89PNG\r\n\x1a\n"), pngFile(chunk{"IHDR", make([]byte, 13)})[8:]...),
		[]byte("II*\x00garbage"),
		[]byte("RIFF\x10\x00\x00\x00WEBPVP8L"),
	} {
		_, err := Decode(bytes.NewReader(file), DecodeOptions{})
		if err == nil {
			t.Fatalf("%q decoded", file)
		}
		for _, f := range []string{"png", "tiff", "webp"} {
			if strings.Contains(err.Error(), f+": "+f+":") || strings.Contains(err.Error(), f+": bad header: "+f+":") {
				t.Errorf("repeated prefix: %v", err)
			}
		}
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "missing", "out.png")
	err := WriteFile(out, NewImage(2, 2, false, false, 8), EncodeOptions{})
	if err == nil || !strings.Contains(err.Error(), out) || strings.Contains(err.Error(), ".tmp") || strings.Count(err.Error(), out) != 1 {
		t.Errorf("error %v: want it to name %s once and no temporary file", err, out)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v does not wrap ErrNotExist", err)
	}
}
