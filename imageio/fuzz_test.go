package imageio

import (
	"bytes"
	"io"
	"testing"
)

// FuzzDecode feeds mutated small images of every format to DecodeConfig and
// Decode. Neither may panic; a successful decode must give a valid image
// with values in [0,1] that survives Encode and Decode as PNG unchanged
// (after quantization to its depth).
func FuzzDecode(f *testing.F) {
	for _, file := range validFiles(f) {
		f.Add(file)
	}
	for _, c := range pngCases(f) {
		if len(c.file) < 4096 {
			f.Add(c.file)
		}
	}
	f.Add(rawPNG(100000, 100000, 8, 6, [][]byte{{0, 0, 0, 0}}))
	for _, file := range hostilePNGs() {
		f.Add(file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opt := DecodeOptions{MaxPixels: 1 << 18}
		cfg, cerr := DecodeConfig(bytes.NewReader(data))
		img, err := Decode(bytes.NewReader(data), opt)
		if err != nil {
			return
		}
		if cerr != nil {
			t.Fatalf("Decode succeeded but DecodeConfig failed: %v", cerr)
		}
		if cfg.Width != img.W || cfg.Height != img.H || cfg.Format != img.Format {
			t.Fatalf("config %+v vs image %s %dx%d", cfg, img.Format, img.W, img.H)
		}
		if err := img.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, p := range [][]float32{img.Pix, img.Alpha} {
			for _, v := range p {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("value %v outside [0,1]", v)
				}
			}
		}
		var out bytes.Buffer
		if err := Encode(&out, img, EncodeOptions{Compression: -2}); err != nil {
			t.Fatal(err)
		}
		back, err := Decode(bytes.NewReader(out.Bytes()), opt)
		if err != nil {
			t.Fatalf("re-decoding our PNG: %v", err)
		}
		q := func(v float32) float32 {
			if img.Depth == 16 {
				return from16(to16(v))
			}
			return lut8[to8(v)]
		}
		if back.W != img.W || back.H != img.H || back.Gray != img.Gray || back.Depth != img.Depth {
			t.Fatal("shape changed")
		}
		for i, v := range img.Pix {
			if back.Pix[i] != q(v) {
				t.Fatalf("pix %d: %v -> %v", i, v, back.Pix[i])
			}
		}
		for i := 0; i < img.W*img.H; i++ {
			a, b := float32(1), float32(1)
			if img.Alpha != nil {
				a = q(img.Alpha[i])
			}
			if back.Alpha != nil {
				b = back.Alpha[i]
			}
			if a != b {
				t.Fatalf("alpha %d: %v -> %v", i, a, b)
			}
		}
	})
}

// FuzzMeta feeds arbitrary files to the metadata readers of every format
// (PNG chunks, JPEG segments, TIFF IFD0, WebP chunks). They may warn but
// never panic, and never allocate for a length the file does not hold: an
// ICC profile is at most the file's size, or maxICC for a compressed one.
//
//	go test -run '^$' -fuzz FuzzMeta -fuzztime 30s ./imageio/
func FuzzMeta(f *testing.F) {
	for _, file := range hostilePNGs() {
		f.Add(file)
	}
	for _, file := range validFiles(f) {
		if len(file) < 4096 {
			f.Add(file)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, read := range []func(*io.SectionReader, *meta){pngMeta, jpegMeta, tiffMeta, webpMeta, bmpMeta} {
			var m meta
			read(io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))), &m)
			if len(m.icc) > len(data) && len(m.icc) > maxICC {
				t.Fatalf("ICC profile of %d bytes from %d", len(m.icc), len(data))
			}
			if m.orientation < 0 || m.orientation > 8 {
				t.Fatalf("orientation %d", m.orientation)
			}
		}
	})
}

// FuzzExif: EXIF data from anywhere (a file, or set by a caller) is read
// and rewritten without panicking, and what Decode keeps re-reads to
// orientation 1 once rewritten.
func FuzzExif(f *testing.F) {
	f.Add(testExif(false, 6, "TestCam", 300, 4, 3))
	f.Add(testExif(true, 8, "X", 72, 65535, 1))
	f.Add([]byte("II*\x00\x08\x00\x00\x00\x01\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m meta
		keepExif("test", data, &m)
		img := NewImage(70000, 1, true, false, 8)
		img.Exif, img.XDPI, img.YDPI = data, 1e12, 0.001
		exifFor(img.Header())
		if m.exif == nil {
			return
		}
		tb, err := parseTIFF(m.exif)
		if err != nil {
			t.Fatalf("kept EXIF does not parse: %v", err)
		}
		if o, err := tb.orientation(); err == nil && o != 0 {
			tb.setOrientation1()
			if o, err := tb.orientation(); err != nil || o != 1 {
				t.Fatalf("orientation %d, %v after setting it to 1", o, err)
			}
		}
	})
}
