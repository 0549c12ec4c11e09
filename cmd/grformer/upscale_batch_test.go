package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/imageio"
)

var tinyX2 = filepath.Join(tinyDir, "tiny_x2", "weights.pth")

// pattern fills an image with a smooth pattern and a sharp edge.
func pattern(w, h int, f func(x, y int, r, g, b, a float64)) {
	for y := range h {
		for x := range w {
			r := float64(x) / float64(w)
			g := float64(y) / float64(h)
			b := 0.2
			if x > w/2 {
				b = 0.9
			}
			a := 1.0
			if x < w/4 {
				a = float64(y) / float64(h-1)
			}
			f(x, y, r, g, b, a)
		}
	}
}

func encodeTo(t *testing.T, path string, enc func(*bytes.Buffer) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeICC is a stand-in RGB profile: a header naming the colour space and
// a short body.
func fakeICC() []byte {
	p := make([]byte, 160)
	copy(p[16:], "RGB ")
	copy(p[36:], "acsp")
	copy(p[128:], "grformer upscale test profile")
	return p
}

// exifJPEG returns a JPEG of img with an APP1 Exif segment holding the
// orientation tag o.
func exifJPEG(t *testing.T, img image.Image, o uint16) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	tiffData := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01" + // header, IFD0 at 8, one entry
		"\x01\x12\x00\x03\x00\x00\x00\x01" + // Orientation, SHORT, count 1
		string([]byte{byte(o >> 8), byte(o)}) + "\x00\x00" +
		"\x00\x00\x00\x00") // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiffData...)
	seg := []byte{0xff, 0xe1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	seg = append(seg, payload...)
	raw := b.Bytes()
	return append(append(append([]byte(nil), raw[:2]...), seg...), raw[2:]...)
}

// pngHeader returns the size, bit depth and colour type of a PNG file.
func pngHeader(t *testing.T, path string) (w, h, depth, colorType int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 26 || string(b[1:4]) != "PNG" {
		t.Fatalf("%s is not a PNG", path)
	}
	return int(binary.BigEndian.Uint32(b[16:])), int(binary.BigEndian.Uint32(b[20:])), int(b[24]), int(b[25])
}

// inputKind is one kind of input file and what its output must be.
type inputKind struct {
	file      string
	w, h      int // upright size of the input
	out       string
	depth     int // of the PNG output
	colorType int // of the PNG output: 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA
}

// makeInputs writes one file of every supported kind into dir.
func makeInputs(t *testing.T, dir string) []inputKind {
	t.Helper()
	const w, h = 23, 17
	var kinds []inputKind
	add := func(file string, iw, ih int, out string, depth, ct int) {
		kinds = append(kinds, inputKind{file, iw, ih, out, depth, ct})
	}
	// PNGs through imageio's encoder: every colour type and depth.
	for _, k := range []struct {
		name        string
		gray, alpha bool
		depth, ct   int
	}{
		{"rgb8.png", false, false, 8, 2}, {"rgb16.png", false, false, 16, 2},
		{"gray8.png", true, false, 8, 0}, {"gray16.png", true, false, 16, 0},
		{"grayalpha8.png", true, true, 8, 4}, {"grayalpha16.png", true, true, 16, 4},
		{"rgba16.png", false, true, 16, 6},
	} {
		img := imageio.NewImage(w, h, k.gray, k.alpha, k.depth)
		pattern(w, h, func(x, y int, r, g, b, a float64) {
			i := y*w + x
			img.Pix[i] = float32(r)
			if !k.gray {
				img.Pix[w*h+i], img.Pix[2*w*h+i] = float32(g), float32(b)
			}
			if k.alpha {
				img.Alpha[i] = float32(a)
			}
		})
		if err := imageio.WriteFile(filepath.Join(dir, k.name), img, imageio.EncodeOptions{}); err != nil {
			t.Fatal(err)
		}
		add(k.name, w, h, strings.TrimSuffix(k.name, ".png")+"_x2.png", k.depth, k.ct)
	}
	// ICC profiles, in PNG and JPEG.
	for _, name := range []string{"icc.png", "icc.jpg"} {
		img := imageio.NewImage(w, h, false, false, 8)
		for i := range img.Pix {
			img.Pix[i] = float32(i%29) / 28
		}
		img.ICC = fakeICC()
		if err := imageio.WriteFile(filepath.Join(dir, name), img, imageio.EncodeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	add("icc.png", w, h, "icc_x2.png", 8, 2)
	add("icc.jpg", w, h, "icc_x2.jpg", 0, 0)

	// RGBA 8-bit and palette PNGs through the standard library.
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	pattern(w, h, func(x, y int, r, g, b, a float64) {
		nrgba.SetNRGBA(x, y, color.NRGBA{uint8(255 * r), uint8(255 * g), uint8(255 * b), uint8(255 * a)})
	})
	encodeTo(t, filepath.Join(dir, "rgba8.png"), func(b *bytes.Buffer) error { return png.Encode(b, nrgba) })
	add("rgba8.png", w, h, "rgba8_x2.png", 8, 6)
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{
		color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 0}, color.NRGBA{0, 200, 0, 255}, color.NRGBA{250, 250, 0, 128}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 4)
	}
	encodeTo(t, filepath.Join(dir, "palette.png"), func(b *bytes.Buffer) error { return png.Encode(b, pal) })
	add("palette.png", w, h, "palette_x2.png", 8, 6)
	palOpaque := image.NewPaletted(pal.Rect, color.Palette{color.Gray{10}, color.RGBA{200, 30, 40, 255}})
	for i := range palOpaque.Pix {
		palOpaque.Pix[i] = uint8(i / 7 % 2)
	}
	encodeTo(t, filepath.Join(dir, "palette_opaque.png"), func(b *bytes.Buffer) error { return png.Encode(b, palOpaque) })
	add("palette_opaque.png", w, h, "palette_opaque_x2.png", 8, 2)

	// JPEG stored rotated, with EXIF orientation 6 (rotate 90° clockwise
	// to display): the stored image is h x w, displayed w x h... here the
	// stored one is 24x16 and the upright one 16x24.
	stored := image.NewRGBA(image.Rect(0, 0, 24, 16))
	pattern(24, 16, func(x, y int, r, g, b, _ float64) {
		stored.Set(x, y, color.RGBA{uint8(255 * r), uint8(255 * g), uint8(255 * b), 255})
	})
	if err := os.WriteFile(filepath.Join(dir, "orient6.jpg"), exifJPEG(t, stored, 6), 0o644); err != nil {
		t.Fatal(err)
	}
	add("orient6.jpg", 16, 24, "orient6_x2.jpg", 0, 0)
	gray := image.NewGray(image.Rect(0, 0, w, h))
	pattern(w, h, func(x, y int, r, _, _, _ float64) { gray.SetGray(x, y, color.Gray{uint8(255 * r)}) })
	encodeTo(t, filepath.Join(dir, "gray.jpg"), func(b *bytes.Buffer) error { return jpeg.Encode(b, gray, nil) })
	add("gray.jpg", w, h, "gray_x2.jpg", 0, 0)

	// BMP, TIFF (8 and 16 bits) and WebP.
	rgb := image.NewRGBA(image.Rect(0, 0, w, h))
	rgb64 := image.NewRGBA64(rgb.Rect)
	pattern(w, h, func(x, y int, r, g, b, _ float64) {
		rgb.Set(x, y, color.RGBA{uint8(255 * r), uint8(255 * g), uint8(255 * b), 255})
		rgb64.Set(x, y, color.RGBA64{uint16(65535 * r), uint16(65535 * g), uint16(65535 * b), 65535})
	})
	encodeTo(t, filepath.Join(dir, "pic.bmp"), func(b *bytes.Buffer) error { return bmp.Encode(b, rgb) })
	add("pic.bmp", w, h, "pic_x2.png", 8, 2)
	encodeTo(t, filepath.Join(dir, "pic8.tif"), func(b *bytes.Buffer) error { return tiff.Encode(b, rgb, nil) })
	add("pic8.tif", w, h, "pic8_x2.png", 8, 2)
	encodeTo(t, filepath.Join(dir, "pic16.tiff"), func(b *bytes.Buffer) error { return tiff.Encode(b, rgb64, nil) })
	add("pic16.tiff", w, h, "pic16_x2.png", 16, 2)
	webp, err := os.ReadFile("../../testdata/upscale/photo.webp")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "photo.webp"), webp, 0o644); err != nil {
		t.Fatal(err)
	}
	add("photo.webp", 150, 103, "photo_x2.png", 8, 2)
	return kinds
}

// TestUpscaleInputKinds runs a folder holding every input kind through the
// command and checks each output's size, depth, gray-ness, alpha and
// orientation, and its pixels against the library.
func TestUpscaleInputKinds(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	kinds := makeInputs(t, in)
	code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-threads", "2", "-o", out, in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m, err := grformer.Load(tinyX2)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		t.Run(k.file, func(t *testing.T) {
			p := filepath.Join(out, k.out)
			src, err := imageio.ReadFile(filepath.Join(in, k.file), imageio.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want, err := m.UpscaleImage(context.Background(), src, grformer.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := imageio.ReadFile(p, imageio.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.W != 2*k.w || got.H != 2*k.h {
				t.Fatalf("output %dx%d, want %dx%d", got.W, got.H, 2*k.w, 2*k.h)
			}
			if strings.HasPrefix(k.file, "icc") && len(src.ICC) == 0 {
				t.Error("the input has no ICC profile")
			}
			if !bytes.Equal(got.ICC, src.ICC) {
				t.Errorf("ICC profile of %d bytes, the input had %d", len(got.ICC), len(src.ICC))
			}
			if k.depth == 0 { // JPEG output: format, size and gray-ness kept
				if got.Format != "jpeg" || got.Gray != src.Gray {
					t.Errorf("output %s gray %v, want jpeg gray %v", got.Format, got.Gray, src.Gray)
				}
				return
			}
			w, h, depth, ct := pngHeader(t, p)
			if w != 2*k.w || h != 2*k.h || depth != k.depth || ct != k.colorType {
				t.Errorf("PNG %dx%d depth %d colour type %d, want depth %d colour type %d", w, h, depth, ct, k.depth, k.colorType)
			}
			// Pixels: the library's result, rounded to the output depth.
			levels := float32(255)
			if k.depth == 16 {
				levels = 65535
			}
			check := func(what string, g, w []float32) {
				for i := range w {
					if math.Abs(float64(g[i]-w[i])) > float64(0.5/levels)+1e-6 {
						t.Fatalf("%s %d: %v, library %v", what, i, g[i], w[i])
					}
				}
			}
			check("colour", got.Pix, want.Pix)
			if want.Alpha != nil {
				check("alpha", got.Alpha, want.Alpha)
			}
		})
	}
	// Orientation: the upright image is the stored one turned by EXIF 6.
	t.Run("orientation", func(t *testing.T) {
		stored, err := imageio.ReadFile(filepath.Join(in, "orient6.jpg"), imageio.DecodeOptions{IgnoreOrientation: true})
		if err != nil {
			t.Fatal(err)
		}
		upright := imageio.Orient(stored, 6)
		p := filepath.Join(t.TempDir(), "o.png")
		if code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, filepath.Join(in, "orient6.jpg"), p); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		got, _ := imageio.ReadFile(p, imageio.DecodeOptions{})
		want, _ := m.UpscaleImage(context.Background(), upright, grformer.Options{})
		if got.W != 32 || got.H != 48 {
			t.Fatalf("%dx%d, want 32x48", got.W, got.H)
		}
		for i := range want.Pix {
			if math.Abs(float64(got.Pix[i]-want.Pix[i])) > 0.5/255+1e-6 {
				t.Fatalf("pixel %d: %v, upright upscale %v", i, got.Pix[i], want.Pix[i])
			}
		}
	})
}

// writeBomb writes a PNG whose header claims 100000 x 100000 pixels.
func writeBomb(t *testing.T, path string) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := append([]byte(typ), data...)
		b.Write(c)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(c))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// noTemp fails if a temporary output is left in dir.
func noTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind in %s: %s", dir, e.Name())
		}
	}
}

// TestUpscaleFolderFailures: bad files are reported, the others done, and
// the exit status says something failed.
func TestUpscaleFolderFailures(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	good := imageio.NewImage(20, 14, false, false, 8)
	for i := range good.Pix {
		good.Pix[i] = float32(i%9) / 8
	}
	for _, n := range []string{"a.png", "c.jpg"} {
		if err := imageio.WriteFile(filepath.Join(in, n), good, imageio.EncodeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(in, "a.png"))
	os.WriteFile(filepath.Join(in, "b_corrupt.png"), raw[:len(raw)/2], 0o644)
	writeBomb(t, filepath.Join(in, "bomb.png"))
	os.WriteFile(filepath.Join(in, "notes.txt"), []byte("not an image, not picked"), 0o644)
	os.WriteFile(filepath.Join(in, ".hidden.png"), []byte("hidden, not picked"), 0o644)
	os.Mkdir(filepath.Join(in, "sub.png"), 0o755) // a folder, not entered
	missing := filepath.Join(in, "missing.png")

	code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-o", out, in, missing)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	for _, s := range []string{"b_corrupt.png", "bomb.png", "too large", "missing.png", "3 of 5 images failed", "2 upscaled"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr does not mention %q:\n%s", s, stderr)
		}
	}
	for _, s := range []string{"notes.txt", "hidden", "panic"} {
		if strings.Contains(stderr, s) {
			t.Errorf("stderr mentions %q:\n%s", s, stderr)
		}
	}
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "a_x2.png c_x2.jpg" {
		t.Errorf("outputs %v, want a_x2.png c_x2.jpg", names)
	}
	noTemp(t, out)
}

// TestUpscaleBomb: a decompression bomb is refused from its header, fast
// and without allocating its pixels.
func TestUpscaleBomb(t *testing.T) {
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.png")
	writeBomb(t, bomb)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, bomb, filepath.Join(dir, "out.png"))
	el := time.Since(t0)
	runtime.ReadMemStats(&m1)
	if code == 0 || !strings.Contains(stderr, "too large") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 32<<20 || el > 2*time.Second {
		t.Errorf("refusing the bomb took %v and allocated %d MiB", el, alloc>>20)
	}
	// -max-pixels lowers the limit.
	small := filepath.Join(dir, "small.png")
	imageio.WriteFile(small, imageio.NewImage(30, 30, false, false, 8), imageio.EncodeOptions{})
	code, _, stderr = runCmd(t, "upscale", "-weights", tinyX2, "-max-pixels", "899", small, filepath.Join(dir, "o.png"))
	if code == 0 || !strings.Contains(stderr, "too large") {
		t.Errorf("-max-pixels 899 on 900 pixels: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.png")); err == nil {
		t.Error("output written for a bomb")
	}
}

// TestUpscaleSkipOverwrite: existing outputs are kept unless -overwrite.
func TestUpscaleSkipOverwrite(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	src := filepath.Join(in, "p.png")
	imageio.WriteFile(src, imageio.NewImage(12, 10, false, false, 8), imageio.EncodeOptions{})
	dst := filepath.Join(out, "p_x2.png")
	os.WriteFile(dst, []byte("sentinel"), 0o644)
	code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-o", out, src)
	if b, _ := os.ReadFile(dst); code != 0 || string(b) != "sentinel" || !strings.Contains(stderr, "skipped") {
		t.Errorf("without -overwrite: exit %d, output %q, stderr %s", code, b, stderr)
	}
	code, _, stderr = runCmd(t, "upscale", "-weights", tinyX2, "-o", out, "-overwrite", src)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if w, h, _, _ := pngHeader(t, dst); w != 24 || h != 20 {
		t.Errorf("-overwrite: output %dx%d", w, h)
	}
}

// TestUpscaleOutscale: -outscale gives round(F*size) through imresize after
// the model, named with the factor.
func TestUpscaleOutscale(t *testing.T) {
	in := t.TempDir()
	src := filepath.Join(in, "p.png")
	img := imageio.NewImage(21, 15, false, false, 8)
	for i := range img.Pix {
		img.Pix[i] = float32(i%13) / 12
	}
	imageio.WriteFile(src, img, imageio.EncodeOptions{})
	img, _ = imageio.ReadFile(src, imageio.DecodeOptions{})
	m, _ := grformer.Load(tinyX2)
	up, err := m.UpscaleImage(context.Background(), img, grformer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    string
		name string
		w, h int
	}{
		{"3", "p_x3.png", 63, 45},
		{"1.5", "p_x1.5.png", 32, 23}, // 31.5 and 22.5 round up
		{"0.5", "p_x0.5.png", 11, 8},
		{"2", "p_x2.png", 42, 30}, // the model's own scale: no resize
	} {
		t.Run(tc.f, func(t *testing.T) {
			out := t.TempDir()
			if code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-outscale", tc.f, "-o", out, src); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got, err := imageio.ReadFile(filepath.Join(out, tc.name), imageio.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := up
			if tc.w != up.W {
				want, _ = grformer.Resize(up, tc.w, tc.h)
			}
			if got.W != tc.w || got.H != tc.h {
				t.Fatalf("%dx%d, want %dx%d", got.W, got.H, tc.w, tc.h)
			}
			for i := range want.Pix {
				if math.Abs(float64(got.Pix[i]-want.Pix[i])) > 0.5/255+1e-6 {
					t.Fatalf("pixel %d: %v, want %v", i, got.Pix[i], want.Pix[i])
				}
			}
		})
	}
	for _, bad := range []string{"-1", "NaN", "+Inf"} {
		if code, _, _ := runCmd(t, "upscale", "-weights", tinyX2, "-outscale", bad, src, filepath.Join(in, "o.png")); code == 0 {
			t.Errorf("-outscale %s accepted", bad)
		}
	}
}

// TestUpscaleOptionFlags: -tile, -tile-overlap, -tta and -alpha give what
// the library gives with the same options.
func TestUpscaleOptionFlags(t *testing.T) {
	in := t.TempDir()
	src := filepath.Join(in, "p.png")
	img := imageio.NewImage(70, 40, false, true, 16)
	pattern(70, 40, func(x, y int, r, g, b, a float64) {
		i := y*70 + x
		img.Pix[i], img.Pix[2800+i], img.Pix[5600+i], img.Alpha[i] = float32(r), float32(g), float32(b), float32(a)
	})
	imageio.WriteFile(src, img, imageio.EncodeOptions{})
	img, _ = imageio.ReadFile(src, imageio.DecodeOptions{})
	m, _ := grformer.Load(tinyX2)
	for _, tc := range []struct {
		args []string
		opt  grformer.Options
	}{
		{[]string{"-tile", "48", "-tile-overlap", "8"}, grformer.Options{Tile: 48, TileOverlap: 8}},
		{[]string{"-tile", "32", "-tile-overlap", "-1"}, grformer.Options{Tile: 32, TileOverlap: grformer.NoTileOverlap}},
		{[]string{"-tile", "96", "-tile-overlap", "0"}, grformer.Options{Tile: 96}},
		{[]string{"-tta"}, grformer.Options{TTA: true}},
		{[]string{"-border-context", "-1"}, grformer.Options{BorderContext: grformer.NoBorderContext}},
		{[]string{"-border-context", "3"}, grformer.Options{BorderContext: 3}},
		{[]string{"-alpha", "bicubic"}, grformer.Options{Alpha: grformer.AlphaBicubic}},
		{[]string{"-max-memory", "8MiB"}, grformer.Options{MaxMemory: 8 << 20}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "o.png")
			if code, _, stderr := runCmd(t, append(append([]string{"upscale", "-weights", tinyX2}, tc.args...), src, out)...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got, _ := imageio.ReadFile(out, imageio.DecodeOptions{})
			want, err := m.UpscaleImage(context.Background(), img, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if tc.opt.MaxMemory != 0 {
				// The command leaves part of the budget to itself: the
				// tiles may differ, within the tiling bound.
				want, _ = m.UpscaleImage(context.Background(), img, grformer.Options{})
			}
			tol := 0.5/65535 + 1e-6
			if tc.opt.MaxMemory != 0 {
				tol = 1.0 / 255
			}
			for i := range want.Pix {
				if d := math.Abs(float64(got.Pix[i] - want.Pix[i])); d > tol {
					t.Fatalf("colour %d: %v, library %v", i, got.Pix[i], want.Pix[i])
				}
			}
			for i := range want.Alpha {
				if d := math.Abs(float64(got.Alpha[i] - want.Alpha[i])); d > tol {
					t.Fatalf("alpha %d: %v, library %v", i, got.Alpha[i], want.Alpha[i])
				}
			}
		})
	}
}

// TestUpscaleFormat: -format and -quality.
func TestUpscaleFormat(t *testing.T) {
	in := t.TempDir()
	src := filepath.Join(in, "p.png")
	img := imageio.NewImage(30, 20, false, false, 8)
	for i := range img.Pix {
		img.Pix[i] = float32(i%11) / 10
	}
	imageio.WriteFile(src, img, imageio.EncodeOptions{})
	sizes := map[string]int{}
	for _, q := range []string{"30", "98"} {
		out := t.TempDir()
		if code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-format", "jpeg", "-quality", q, "-suffix", "", "-o", out, src); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		b, err := os.ReadFile(filepath.Join(out, "p.jpg"))
		if err != nil || len(b) < 2 || b[0] != 0xff || b[1] != 0xd8 {
			t.Fatalf("p.jpg is not a JPEG (%v)", err)
		}
		sizes[q] = len(b)
	}
	if sizes["30"] >= sizes["98"] {
		t.Errorf("quality 30 gives %d bytes, 98 gives %d", sizes["30"], sizes["98"])
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-format", "gif", "-o", in, src}, "gif"},
		{[]string{"-format", "jpeg", src, filepath.Join(in, "o.png")}, "-format jpeg"},
		{[]string{"-quality", "0", src, filepath.Join(in, "o.png")}, "-quality"},
		{[]string{"-alpha", "nearest", src, filepath.Join(in, "o.png")}, "nearest"},
		{[]string{"-max-memory", "lots", src, filepath.Join(in, "o.png")}, "lots"},
		{[]string{"-tile", "-3", src, filepath.Join(in, "o.png")}, "-tile"},
		{[]string{"-tile-overlap", "-3", src, filepath.Join(in, "o.png")}, "-tile-overlap"},
		{[]string{"-tile", "20", "-tile-overlap", "16", src, filepath.Join(in, "o.png")}, "at least"},
		{[]string{"-o", in}, "no inputs"},
		{[]string{src}, "need an input and an output"},
		{[]string{src, src, src}, "need an input and an output"},
		{[]string{"-max-memory", "4KiB", src, filepath.Join(in, "o.png")}, "-max-memory"},
	} {
		code, _, stderr := runCmd(t, append([]string{"upscale", "-weights", tinyX2}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q does not mention %q", tc.args, code, stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(in, "o.png")); err == nil {
		t.Error("an output was written by a failing run")
	}
}

// TestUpscaleNames: outputs never replace inputs, and two inputs with one
// output name are refused.
func TestUpscaleNames(t *testing.T) {
	dir := t.TempDir()
	img := imageio.NewImage(10, 8, false, false, 8)
	imageio.WriteFile(filepath.Join(dir, "a.png"), img, imageio.EncodeOptions{})
	before, _ := os.ReadFile(filepath.Join(dir, "a.png"))
	var b bytes.Buffer
	bmp.Encode(&b, image.NewRGBA(image.Rect(0, 0, 10, 8)))
	os.WriteFile(filepath.Join(dir, "a.bmp"), b.Bytes(), 0o644)

	// -suffix "" into the input folder would overwrite a.png.
	code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-suffix", "", "-overwrite", "-o", dir, filepath.Join(dir, "a.png"))
	if after, _ := os.ReadFile(filepath.Join(dir, "a.png")); code == 0 || !bytes.Equal(before, after) || !strings.Contains(stderr, "overwrite an input") {
		t.Errorf("output onto the input: exit %d, input changed %v: %s", code, !bytes.Equal(before, after), stderr)
	}
	// a.png and a.bmp both give a_x2.png.
	out := t.TempDir()
	code, _, stderr = runCmd(t, "upscale", "-weights", tinyX2, "-o", out, dir)
	if code != 1 || !strings.Contains(stderr, "also the output of") {
		t.Errorf("name collision: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "a_x2.png")); err != nil {
		t.Error("the first of the colliding inputs was not upscaled")
	}
}

// TestUpscaleCancelled: a cancelled run (Ctrl-C) writes nothing, leaves no
// temporary file and fails.
func TestUpscaleCancelled(t *testing.T) {
	in := t.TempDir()
	src := filepath.Join(in, "p.png")
	imageio.WriteFile(src, imageio.NewImage(60, 40, false, false, 8), imageio.EncodeOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"-weights", tinyX2, src, filepath.Join(in, "out.png")},
		{"-weights", tinyX2, "-o", filepath.Join(in, "out"), src, src},
	} {
		var o, e bytes.Buffer
		err := upscaleMain(ctx, args, &o, &e)
		if err == nil {
			t.Errorf("%v: no error after cancelling", args)
		}
		if !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("%v: error %v", args, err)
		}
	}
	entries, _ := os.ReadDir(in)
	for _, e := range entries {
		if e.Name() != "p.png" && e.Name() != "out" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(in, "out")); len(entries) != 0 {
		t.Errorf("outputs after cancelling: %v", entries)
	}

	// Cancelled while the model runs (between tiles): nothing written.
	big := filepath.Join(in, "big.png")
	imageio.WriteFile(big, imageio.NewImage(300, 200, false, false, 8), imageio.EncodeOptions{})
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	var o, e bytes.Buffer
	err := upscaleMain(ctx, []string{"-weights", tinyX2, "-tile", "96", "-tta", big, filepath.Join(in, "big_out.png")}, &o, &e)
	if err == nil {
		t.Error("no error after cancelling during the run")
	}
	if _, err := os.Stat(filepath.Join(in, "big_out.png")); err == nil {
		t.Error("output written after cancelling")
	}
	noTemp(t, in)
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"2GiB", 2 << 30}, {"2gib", 2 << 30}, {"2G", 2 << 30}, {"2GB", 2e9},
		{"512MiB", 512 << 20}, {"512MB", 512e6}, {"512m", 512 << 20}, {"1.5GiB", 3 << 29},
		{"100KiB", 100 << 10}, {"100kb", 1e5}, {"1TiB", 1 << 40}, {"1048576", 1 << 20},
		{"64B", 64}, {" 3 GiB ", 3 << 30},
	} {
		got, err := parseBytes(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "GiB", "2 parsecs", "-1GiB", "1e400", "two"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q): no error", bad)
		}
	}
	b := byteSize(2 << 30)
	if b.String() != "2GiB" {
		t.Errorf("String %q", b.String())
	}
}

// TestUpscaleHelp: -h explains every flag and shows examples.
func TestUpscaleHelp(t *testing.T) {
	code, stderr, _ := runCmd(t, "upscale", "-h") // the help goes to stdout
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"weights", "o", "suffix", "format", "quality", "overwrite", "scale", "outscale",
		"tile", "tile-overlap", "border-context", "max-memory", "tta", "alpha", "max-pixels", "threads"} {
		if !strings.Contains(stderr, "\n  -"+f+" ") && !strings.Contains(stderr, "\n  -"+f+"\n") {
			t.Errorf("-h does not explain -%s", f)
		}
	}
	for _, s := range []string{"Example:", "grformer upscale -weights", "-o OUTDIR", "Ctrl-C", "WebP"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("-h does not mention %q", s)
		}
	}
}

// TestReporter: a bar redrawn in place on a terminal, log lines elsewhere.
func TestReporter(t *testing.T) {
	var b bytes.Buffer
	now := time.Unix(0, 0)
	r := &reporter{w: &b, tty: true, width: func() int { return 60 }, images: 3, now: func() time.Time { return now }}
	r.begin(1, "some/dir/picture_with_a_long_name.png")
	for i := 0; i <= 10; i++ {
		now = now.Add(time.Second)
		r.tiles(i, 10)
	}
	r.line("done %s", "x")
	r.clear()
	s := b.String()
	for _, want := range []string{"\r\x1b[K[2/3] ", "tile 10/10", " 66%", "done x\n", "left"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output %q lacks %q", s, want)
		}
	}
	for _, line := range strings.Split(s, "\r\x1b[K") {
		if len(strings.TrimSuffix(line, "\n")) > 60 {
			t.Errorf("line wider than the terminal: %q", line)
		}
	}

	b.Reset()
	r = &reporter{w: &b, images: 2, now: func() time.Time { return now }}
	r.begin(0, "a.png")
	for i := 0; i <= 40; i++ {
		now = now.Add(time.Second)
		r.tiles(i, 40)
	}
	r.line("a.png done")
	s = b.String()
	if strings.Contains(s, "\r") || !strings.Contains(s, "a.png: tile ") || strings.Count(s, "\n") > 6 {
		t.Errorf("plain output %q", s)
	}
	if isTerminal(&b) {
		t.Error("a buffer is a terminal")
	}
}
