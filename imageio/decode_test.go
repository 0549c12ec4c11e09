package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/tiff"
)

// pngCase is one PNG input kind.
type pngCase struct {
	name   string
	file   []byte
	depth  int
	gray   bool
	alpha  bool
	outCT  byte // colour type Encode must write
	outBit byte
}

func pngCases(t testing.TB) []pngCase {
	rng := rand.New(rand.NewPCG(1, 2))
	const w, h = 7, 5
	rows := func(bpp int) [][]byte {
		r := make([][]byte, h)
		for y := range r {
			r[y] = randBytes(rng, w*bpp)
		}
		return r
	}
	// All 65536 16-bit levels in one gray image.
	all16 := image.NewGray16(image.Rect(0, 0, 256, 256))
	for i := 0; i < 65536; i++ {
		all16.Pix[2*i], all16.Pix[2*i+1] = byte(i>>8), byte(i)
	}
	all8 := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range all8.Pix {
		all8.Pix[i] = byte(i)
	}
	rgb16 := image.NewRGBA64(image.Rect(0, 0, w, h))
	for i := 0; i < len(rgb16.Pix); i += 8 {
		copy(rgb16.Pix[i:i+6], randBytes(rng, 6))
		rgb16.Pix[i+6], rgb16.Pix[i+7] = 0xff, 0xff
	}
	rgb8 := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(rgb8.Pix); i += 4 {
		copy(rgb8.Pix[i:i+3], randBytes(rng, 3))
		rgb8.Pix[i+3] = 0xff
	}
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	nrgba.Pix = randBytes(rng, len(nrgba.Pix))
	nrgba.Pix[3], nrgba.Pix[7] = 0, 255
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, w, h))
	nrgba64.Pix = randBytes(rng, len(nrgba64.Pix))
	nrgba64.Pix[6], nrgba64.Pix[7] = 0, 0
	palT := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{
		color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 255, 0, 128}, color.NRGBA{9, 8, 7, 0}, color.NRGBA{1, 2, 3, 255}})
	for i := range palT.Pix {
		palT.Pix[i] = byte(rng.UintN(4))
	}
	palO := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White, color.RGBA{10, 200, 30, 255}})
	for i := range palO.Pix {
		palO.Pix[i] = byte(rng.UintN(3))
	}
	// 1-bit gray: rows of 1 byte hold 7 pixels.
	g8 := rows(1)
	g1 := make([][]byte, h)
	for y := range g1 {
		g1[y] = []byte{byte(rng.UintN(256)) &^ 1}
	}
	return []pngCase{
		{"gray8 all levels", encPNG(t, all8), 8, true, false, 0, 8},
		{"gray16 all levels", encPNG(t, all16), 16, true, false, 0, 16},
		{"gray1", rawPNG(w, h, 1, 0, g1), 8, true, false, 0, 8},
		{"gray+alpha 8", rawPNG(w, h, 8, 4, rows(2)), 8, true, true, 4, 8},
		{"gray+alpha 16", rawPNG(w, h, 16, 4, rows(4)), 16, true, true, 4, 16},
		{"gray8 tRNS", rawPNG(w, h, 8, 0, g8, chunk{"tRNS", []byte{0, g8[0][0]}}), 8, true, true, 4, 8},
		{"rgb8", encPNG(t, rgb8), 8, false, false, 2, 8},
		{"rgb16", encPNG(t, rgb16), 16, false, false, 2, 16},
		{"rgba8", encPNG(t, nrgba), 8, false, true, 6, 8},
		{"rgba16", encPNG(t, nrgba64), 16, false, true, 6, 16},
		{"palette tRNS", encPNG(t, palT), 8, false, true, 6, 8},
		{"palette opaque", encPNG(t, palO), 8, false, false, 2, 8},
	}
}

// Each PNG kind decodes with the right depth, gray-ness and alpha, and
// Decode -> Encode reproduces the pixels bit for bit.
func TestPNGRoundTrip(t *testing.T) {
	for _, tc := range pngCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Decode(bytes.NewReader(tc.file), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if img.Format != "png" || img.Depth != tc.depth || img.Gray != tc.gray || (img.Alpha != nil) != tc.alpha {
				t.Fatalf("format %s depth %d gray %v alpha %v, want png %d %v %v",
					img.Format, img.Depth, img.Gray, img.Alpha != nil, tc.depth, tc.gray, tc.alpha)
			}
			var out bytes.Buffer
			if err := Encode(&out, img, EncodeOptions{}); err != nil {
				t.Fatal(err)
			}
			cs := readChunks(t, out.Bytes())
			if cs[0].typ != "IHDR" || cs[0].data[8] != tc.outBit || cs[0].data[9] != tc.outCT {
				t.Fatalf("output IHDR depth %d colour type %d, want %d %d", cs[0].data[8], cs[0].data[9], tc.outBit, tc.outCT)
			}
			sameNRGBA64(t, stdDecode(t, tc.file), stdDecode(t, out.Bytes()))
			img2, err := Decode(bytes.NewReader(out.Bytes()), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if img2.Depth != img.Depth || img2.Gray != img.Gray {
				t.Fatal("depth or gray changed")
			}
			if !equalF(img.Pix, img2.Pix) || !equalF(img.Alpha, img2.Alpha) {
				t.Fatal("planes changed in the round trip")
			}
		})
	}
}

func equalF(a, b []float32) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The other input formats decode with the right properties.
func TestDecodeFormats(t *testing.T) {
	rgb := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range rgb.Pix {
		rgb.Pix[i] = byte(i * 7)
		if i%4 == 3 {
			rgb.Pix[i] = 255
		}
	}
	gray := image.NewGray(image.Rect(0, 0, 16, 8))
	for i := range gray.Pix {
		gray.Pix[i] = byte(i)
	}
	gray16 := image.NewGray16(image.Rect(0, 0, 4, 4))
	for i := range gray16.Pix {
		gray16.Pix[i] = byte(i * 37)
	}
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, 3, 2))
	for i := range nrgba64.Pix {
		nrgba64.Pix[i] = byte(i * 91)
	}
	premul := image.NewRGBA(image.Rect(0, 0, 2, 1))
	premul.Pix = []byte{100, 50, 0, 200, 0, 0, 0, 0}
	wp := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	wp.Pix = []byte{ // two values per channel at most; colour kept under alpha 0
		255, 0, 10, 255, 0, 0, 10, 0, 255, 7, 20, 255,
		0, 7, 20, 0, 255, 7, 10, 255, 0, 0, 20, 0,
	}

	tests := []struct {
		name   string
		file   []byte
		format string
		w, h   int
		depth  int
		gray   bool
		alpha  bool
		want   image.Image // exact pixels, if not nil
	}{
		{"jpeg color", encJPEG(t, rgb, 90), "jpeg", 16, 16, 8, false, false, nil},
		{"jpeg gray", encJPEG(t, gray, 90), "jpeg", 16, 8, 8, true, false, nil},
		{"bmp rgb", encBMP(t, rgb), "bmp", 16, 16, 8, false, false, rgb},
		{"bmp gray (paletted)", encBMP(t, gray), "bmp", 16, 8, 8, false, false, gray},
		{"tiff gray", encTIFF(t, gray, nil), "tiff", 16, 8, 8, true, false, gray},
		{"tiff gray16", encTIFF(t, gray16, nil), "tiff", 4, 4, 16, true, false, gray16},
		{"tiff nrgba64 deflate", encTIFF(t, nrgba64, &tiff.Options{Compression: tiff.Deflate}), "tiff", 3, 2, 16, false, true, nrgba64},
		{"tiff premultiplied", encTIFF(t, premul, nil), "tiff", 2, 1, 8, false, true, nil},
		{"webp lossless", webpFile(t, wp, nil), "webp", 3, 2, 8, false, true, wp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := DecodeConfig(bytes.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if cfg != (Config{tc.format, tc.w, tc.h, 1}) {
				t.Errorf("config %+v", cfg)
			}
			img, err := Decode(bytes.NewReader(tc.file), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if img.Format != tc.format || img.W != tc.w || img.H != tc.h || img.Depth != tc.depth ||
				img.Gray != tc.gray || (img.Alpha != nil) != tc.alpha {
				t.Fatalf("got %s %dx%d depth %d gray %v alpha %v", img.Format, img.W, img.H, img.Depth, img.Gray, img.Alpha != nil)
			}
			if tc.want != nil {
				sameNRGBA64(t, tc.want, img.ToImage())
			}
		})
	}
	t.Run("tiff premultiplied values", func(t *testing.T) {
		img, err := Decode(bytes.NewReader(encTIFF(t, premul, nil)), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []float32{0.5, 0, 0.25, 0, 0, 0}
		if !equalF(img.Pix, want) || img.Alpha[0] != float32(200)/255 || img.Alpha[1] != 0 {
			t.Fatalf("pix %v alpha %v", img.Pix, img.Alpha)
		}
	})
	t.Run("jpeg values", func(t *testing.T) {
		img, err := Decode(bytes.NewReader(encJPEG(t, gray, 100)), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range img.Pix {
			if d := v - lut8[gray.Pix[i]]; d > 3./255 || d < -3./255 {
				t.Fatalf("pixel %d: %v, want about %v", i, v, lut8[gray.Pix[i]])
			}
		}
	})
	t.Run("non-seekable reader", func(t *testing.T) {
		img, err := Decode(io.MultiReader(bytes.NewReader(encBMP(t, rgb))), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sameNRGBA64(t, rgb, img.ToImage())
	})
	t.Run("reader not at offset 0", func(t *testing.T) {
		data := append([]byte("junk"), encBMP(t, rgb)...)
		r := bytes.NewReader(data)
		r.Seek(4, io.SeekStart)
		img, err := Decode(r, DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sameNRGBA64(t, rgb, img.ToImage())
	})
}

// Gray JPEG, 32x16, made of eight flat 8x8 blocks of distinct levels, so
// that each corner of the displayed image identifies a source block.
func orientSource() (*image.Gray, map[string]byte) {
	m := image.NewGray(image.Rect(0, 0, 32, 16))
	level := func(bx, by int) byte { return byte(20 + 30*(by*4+bx)) }
	for y := 0; y < 16; y++ {
		for x := 0; x < 32; x++ {
			m.Pix[y*32+x] = level(x/8, y/8)
		}
	}
	return m, map[string]byte{"TL": level(0, 0), "TR": level(3, 0), "BL": level(0, 1), "BR": level(3, 1)}
}

// Where the source corners land for each EXIF orientation: display corners
// TL, TR, BL, BR show these source corners.
var orientCorners = map[int][4]string{
	1: {"TL", "TR", "BL", "BR"},
	2: {"TR", "TL", "BR", "BL"}, // mirror left-right
	3: {"BR", "BL", "TR", "TL"}, // rotate 180
	4: {"BL", "BR", "TL", "TR"}, // mirror top-bottom
	5: {"TL", "BL", "TR", "BR"}, // transpose
	6: {"BL", "TL", "BR", "TR"}, // rotate 90 clockwise
	7: {"BR", "TR", "BL", "TL"}, // transverse
	8: {"TR", "BR", "TL", "BL"}, // rotate 90 counter-clockwise
}

func checkCorners(t *testing.T, img *Image, o int, src map[string]byte) {
	t.Helper()
	w, h := img.W, img.H
	at := func(x, y int) float32 { return img.Pix[y*w+x] }
	got := [4]float32{at(4, 4), at(w-5, 4), at(4, h-5), at(w-5, h-5)}
	for i, name := range orientCorners[o] {
		want := lut8[src[name]]
		if d := got[i] - want; d > 3./255 || d < -3./255 {
			t.Fatalf("orientation %d: display corner %d is %v, want source %s (%v)", o, i, got[i]*255, name, want*255)
		}
	}
}

func TestJPEGOrientation(t *testing.T) {
	src, corners := orientSource()
	base := encJPEG(t, src, 100)
	for o := 1; o <= 8; o++ {
		for _, big := range []bool{false, true} {
			file := insertAfterSOI(base, exifAPP1(uint16(o), big))
			cfg, err := DecodeConfig(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			wantW, wantH := 32, 16
			if o >= 5 {
				wantW, wantH = 16, 32
			}
			if cfg.Width != wantW || cfg.Height != wantH || cfg.Orientation != o {
				t.Fatalf("orientation %d: config %+v", o, cfg)
			}
			img, err := Decode(bytes.NewReader(file), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if img.W != wantW || img.H != wantH || img.Orientation != o || !img.Gray {
				t.Fatalf("orientation %d: %dx%d orientation %d", o, img.W, img.H, img.Orientation)
			}
			checkCorners(t, img, o, corners)

			raw, err := Decode(bytes.NewReader(file), DecodeOptions{IgnoreOrientation: true})
			if err != nil {
				t.Fatal(err)
			}
			if raw.W != 32 || raw.Orientation != 1 {
				t.Fatalf("IgnoreOrientation: %dx%d orientation %d", raw.W, raw.H, raw.Orientation)
			}
			checkCorners(t, raw, 1, corners)
		}
	}
	t.Run("invalid orientation ignored with a warning", func(t *testing.T) {
		img, err := Decode(bytes.NewReader(insertAfterSOI(base, exifAPP1(9, false))), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img.W != 32 || img.Orientation != 1 || len(img.Warnings) != 1 {
			t.Fatalf("%dx%d orientation %d warnings %q", img.W, img.H, img.Orientation, img.Warnings)
		}
	})
	t.Run("orientation survives re-encoding as upright pixels", func(t *testing.T) {
		img, err := Decode(bytes.NewReader(insertAfterSOI(base, exifAPP1(6, false))), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := Encode(&out, img, EncodeOptions{Format: "jpeg", Quality: 100}); err != nil {
			t.Fatal(err)
		}
		again, err := Decode(bytes.NewReader(out.Bytes()), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if again.W != 16 || again.H != 32 || again.Orientation != 1 {
			t.Fatalf("%dx%d orientation %d", again.W, again.H, again.Orientation)
		}
		checkCorners(t, again, 6, corners)
	})
}

func TestTIFFOrientationAndICC(t *testing.T) {
	src, corners := orientSource()
	icc := []byte("fake ICC profile for a TIFF file")
	for o := 1; o <= 8; o++ {
		img, err := Decode(bytes.NewReader(grayTIFF(src, uint16(o), icc)), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(img.ICC, icc) || !img.Gray || img.Format != "tiff" {
			t.Fatalf("icc %q gray %v", img.ICC, img.Gray)
		}
		checkCorners(t, img, o, corners)
	}
}

func TestOrientInverse(t *testing.T) {
	img := NewImage(5, 3, false, true, 8)
	for i := range img.Pix {
		img.Pix[i] = float32(i)
	}
	for i := range img.Alpha {
		img.Alpha[i] = float32(-i)
	}
	for o := 1; o <= 8; o++ {
		r := Orient(img, o)
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		back := Orient(r, InverseOrientation(o))
		if back.W != 5 || back.H != 3 || !equalF(back.Pix, img.Pix) || !equalF(back.Alpha, img.Alpha) {
			t.Fatalf("orientation %d not undone", o)
		}
	}
}

func TestICCRead(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	icc := randBytes(rng, 150_000) // three JPEG segments
	gray := image.NewGray(image.Rect(0, 0, 8, 8))
	row := [][]byte{make([]byte, 8)}
	t.Run("png iCCP", func(t *testing.T) {
		p := rawPNG(8, 1, 8, 0, row, chunk{"iCCP", append([]byte("my profile\x00\x00"), zlibBytes(icc)...)})
		img, err := Decode(bytes.NewReader(p), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(img.ICC, icc) {
			t.Fatal("ICC differs")
		}
	})
	t.Run("png bad iCCP is a warning", func(t *testing.T) {
		p := rawPNG(8, 1, 8, 0, row, chunk{"iCCP", []byte("p\x00\x00not zlib")})
		img, err := Decode(bytes.NewReader(p), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img.ICC != nil || len(img.Warnings) != 1 {
			t.Fatalf("icc %d bytes, warnings %q", len(img.ICC), img.Warnings)
		}
	})
	t.Run("png iCCP zlib bomb bounded", func(t *testing.T) {
		big := zlibBytes(make([]byte, maxICC+100))
		p := rawPNG(8, 1, 8, 0, row, chunk{"iCCP", append([]byte("p\x00\x00"), big...)})
		img, err := Decode(bytes.NewReader(p), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img.ICC != nil || len(img.Warnings) != 1 {
			t.Fatalf("icc %d bytes, warnings %q", len(img.ICC), img.Warnings)
		}
	})
	base := encJPEG(t, gray, 90)
	t.Run("jpeg APP2 pieces out of order", func(t *testing.T) {
		segs := iccSegments(icc, 60000)
		segs[0], segs[2] = segs[2], segs[0]
		img, err := Decode(bytes.NewReader(insertAfterSOI(base, append(segs, exifAPP1(1, false))...)), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(img.ICC, icc) {
			t.Fatal("ICC differs")
		}
	})
	t.Run("jpeg incomplete ICC is a warning", func(t *testing.T) {
		segs := iccSegments(icc, 60000)
		img, err := Decode(bytes.NewReader(insertAfterSOI(base, segs[0], segs[2])), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img.ICC != nil || len(img.Warnings) != 1 {
			t.Fatalf("icc %d bytes, warnings %q", len(img.ICC), img.Warnings)
		}
	})
	t.Run("webp ICCP", func(t *testing.T) {
		m := image.NewNRGBA(image.Rect(0, 0, 2, 2))
		img, err := Decode(bytes.NewReader(webpFile(t, m, icc[:1001])), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(img.ICC, icc[:1001]) || img.Format != "webp" {
			t.Fatal("ICC differs")
		}
	})
}

// A header that claims a huge image is refused before pixels are
// allocated: quickly and with little memory.
func TestBombRefused(t *testing.T) {
	small := encJPEG(t, image.NewGray(image.Rect(0, 0, 8, 8)), 50)
	hugeJPEG := append([]byte(nil), small...)
	i := bytes.Index(hugeJPEG, []byte{0xff, 0xc0}) // SOF0: len(2) precision(1) height(2) width(2)
	hugeJPEG[i+5], hugeJPEG[i+6], hugeJPEG[i+7], hugeJPEG[i+8] = 0xff, 0xff, 0xff, 0xff
	row := [][]byte{make([]byte, 4)}
	tests := []struct {
		name string
		file []byte
		max  int64
	}{
		{"png 100000x100000", rawPNG(100000, 100000, 8, 6, row), 0},
		{"png 16-bit RGBA 20000x20000", rawPNG(20000, 20000, 16, 6, row), 0},
		{"png 1x2^31-1", rawPNG(1, 1<<31-1, 8, 0, row), 0},
		{"jpeg 65535x65535", hugeJPEG, 0},
		{"png over a custom limit", rawPNG(11, 10, 8, 0, row), 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Decode(bytes.NewReader(tc.file), DecodeOptions{MaxPixels: tc.max})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%v; refused in %v, %d bytes allocated", err, elapsed, alloc)
			if alloc > 256<<10 {
				t.Errorf("allocated %d bytes to refuse it", alloc)
			}
			if elapsed > time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
	// Zero dimensions are refused too.
	if _, err := Decode(bytes.NewReader(rawPNG(0, 10, 8, 0, row)), DecodeOptions{}); err == nil {
		t.Error("zero width accepted")
	}
	// Under the limit decodes.
	rows := make([][]byte, 10)
	for i := range rows {
		rows[i] = make([]byte, 10)
	}
	if _, err := Decode(bytes.NewReader(rawPNG(10, 10, 8, 0, rows)), DecodeOptions{MaxPixels: 100}); err != nil {
		t.Error(err)
	}
}

func validFiles(t testing.TB) map[string][]byte {
	rgb := image.NewNRGBA(image.Rect(0, 0, 9, 7))
	for i := range rgb.Pix {
		rgb.Pix[i] = byte(i * 13)
	}
	wp := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	wp.Pix[0], wp.Pix[3], wp.Pix[5] = 200, 255, 17
	src, _ := orientSource()
	return map[string][]byte{
		"png":  encPNG(t, rgb),
		"jpeg": insertAfterSOI(encJPEG(t, rgb, 80), exifAPP1(6, false)),
		"bmp":  encBMP(t, rgb),
		"tiff": encTIFF(t, rgb, &tiff.Options{Compression: tiff.Deflate}),
		"webp": webpFile(t, wp, []byte("icc")),
		"tif2": grayTIFF(src, 3, []byte("icc")),
	}
}

// Truncated, corrupted and unknown data give errors, not panics; ReadFile
// names the file.
func TestCorrupt(t *testing.T) {
	dir := t.TempDir()
	for name, file := range validFiles(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(bytes.NewReader(file), DecodeOptions{}); err != nil {
				t.Fatalf("valid file: %v", err)
			}
			for _, n := range []int{0, 1, 2, 5, 8, 16, 20, 33, len(file) / 2, len(file) - 20, len(file) - 1} {
				if n < 0 || n >= len(file) {
					continue
				}
				switch {
				case name == "bmp" && n > 60, name == "jpeg" && n == len(file)-1,
					name == "webp" && n == len(file)-1, name[:3] == "tif" && n >= len(file)-20:
					continue // these cut only a trailer, padding or metadata, which decoders may accept
				}
				path := filepath.Join(dir, name+"-cut.img")
				if err := os.WriteFile(path, file[:n], 0o644); err != nil {
					t.Fatal(err)
				}
				_, err := ReadFile(path, DecodeOptions{})
				if err == nil {
					t.Errorf("truncated to %d bytes: no error", n)
					continue
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file", err)
				}
			}
			// Flipped bytes must not panic; errors are fine.
			rng := rand.New(rand.NewPCG(5, 6))
			for k := 0; k < 300; k++ {
				c := append([]byte(nil), file...)
				for j := 0; j < 1+k%4; j++ {
					c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
				}
				img, err := Decode(bytes.NewReader(c), DecodeOptions{MaxPixels: 1 << 16})
				if err == nil {
					if err := img.Validate(); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
	if _, err := Decode(bytes.NewReader([]byte("GIF89a......")), DecodeOptions{}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("gif: %v", err)
	}
	if _, err := Decode(bytes.NewReader(nil), DecodeOptions{}); err == nil {
		t.Error("empty input accepted")
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.png"), DecodeOptions{}); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadFile(dir, DecodeOptions{}); err == nil {
		t.Error("directory accepted")
	}
}

// A decoder that panics on malformed data yields an error instead.
func TestDecoderPanicBecomesError(t *testing.T) {
	i := 3 // bmp
	if formats[i].name != "bmp" {
		t.Fatal("table order changed")
	}
	saved := formats[i]
	defer func() { formats[i] = saved }()
	formats[i].decode = func(io.Reader) (image.Image, error) { panic("index out of range") }
	file := encBMP(t, image.NewGray(image.Rect(0, 0, 2, 2)))
	if _, err := Decode(bytes.NewReader(file), DecodeOptions{}); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("err = %v", err)
	}
	formats[i].config = func(io.Reader) (image.Config, error) { panic("boom") }
	if _, err := DecodeConfig(bytes.NewReader(file)); err == nil {
		t.Fatal("no error")
	}
}

func TestPlane(t *testing.T) {
	img := NewImage(2, 1, false, false, 8)
	img.Plane(2)[1] = 7
	if img.Pix[5] != 7 || len(img.Plane(0)) != 2 {
		t.Fatal("Plane wrong")
	}
}
