package imageio

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the fixtures in testdata/imageio")

const fixtureDir = "../testdata/imageio"

// fakeICC is a stand-in profile: a 128-byte header naming the RGB colour
// space followed by a short body. It is not a usable profile.
func fakeICC() []byte {
	p := make([]byte, 160)
	copy(p[16:], "RGB ")
	copy(p[36:], "acsp")
	copy(p[128:], "grformer imageio test fixture")
	return p
}

// fixtures builds the small files kept in testdata/imageio for this
// package's tests and for tests of the tools built on it.
func fixtures(t testing.TB) map[string][]byte {
	rgba16 := image.NewNRGBA64(image.Rect(0, 0, 16, 12))
	for y := 0; y < 12; y++ {
		for x := 0; x < 16; x++ {
			a := uint16(65535)
			if x < 4 {
				a = uint16(x * 16383)
			}
			rgba16.SetNRGBA64(x, y, color.NRGBA64{uint16(x * 4369), uint16(y * 5957), 40000, a})
		}
	}
	ga := make([][]byte, 8)
	for y := range ga {
		for x := 0; x < 8; x++ {
			ga[y] = append(ga[y], byte(32*x), byte(255-32*y))
		}
	}
	pal := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{
		color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 0}, color.NRGBA{0, 255, 0, 128}})
	for i := range pal.Pix {
		pal.Pix[i] = byte(i % 3)
	}
	src, _ := orientSource()
	wp := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := 0; i < len(wp.Pix); i += 4 {
		wp.Pix[i], wp.Pix[i+1], wp.Pix[i+2], wp.Pix[i+3] = 200, 100, 0, 255
		if i%8 == 0 {
			wp.Pix[i+3] = 0
		}
	}
	rgbICC := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range rgbICC.Pix {
		rgbICC.Pix[i] = 0xff
	}
	iccPNG := rawPNG(2, 2, 8, 2, [][]byte{{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}},
		chunk{"iCCP", append([]byte("fixture\x00\x00"), zlibBytes(fakeICC())...)})
	valid := encPNG(t, rgba16)
	return map[string][]byte{
		"rgba16.png":          valid,
		"gray_alpha8.png":     rawPNG(8, 8, 8, 4, ga),
		"palette_trns.png":    encPNG(t, pal),
		"orient6.jpg":         insertAfterSOI(encJPEG(t, src, 95), exifAPP1(6, false)),
		"icc.png":             iccPNG,
		"icc.jpg":             insertAfterSOI(encJPEG(t, rgbICC, 90), iccSegments(fakeICC(), 100)...),
		"lossless_alpha.webp": webpFile(t, wp, nil),
		"bomb.png":            rawPNG(100000, 100000, 8, 6, [][]byte{{0, 0, 0, 0}}),
		"truncated.png":       valid[:len(valid)/2],
	}
}

// The saved fixtures decode as described; run with -update to rewrite them.
func TestFixtures(t *testing.T) {
	want := fixtures(t)
	if *update {
		if err := os.MkdirAll(fixtureDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range want {
			if err := os.WriteFile(filepath.Join(fixtureDir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name        string
		w, h, depth int
		gray, alpha bool
		orientation int
		icc         bool
		err         error // errors.Is target; errAny for any error
	}{
		{name: "rgba16.png", w: 16, h: 12, depth: 16, alpha: true},
		{name: "gray_alpha8.png", w: 8, h: 8, depth: 8, gray: true, alpha: true},
		{name: "palette_trns.png", w: 8, h: 8, depth: 8, alpha: true},
		{name: "orient6.jpg", w: 16, h: 32, depth: 8, gray: true, orientation: 6},
		{name: "icc.png", w: 2, h: 2, depth: 8, icc: true},
		{name: "icc.jpg", w: 8, h: 8, depth: 8, icc: true},
		{name: "lossless_alpha.webp", w: 4, h: 4, depth: 8, alpha: true},
		{name: "bomb.png", err: ErrTooLarge},
		{name: "truncated.png", err: errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(fixtureDir, tc.name)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./imageio -run TestFixtures -update)", err)
			}
			if len(data) > 4096 {
				t.Errorf("fixture of %d bytes; keep them small", len(data))
			}
			img, err := ReadFile(path, DecodeOptions{})
			if tc.err != nil {
				if err == nil || (tc.err != errAny && !errors.Is(err, tc.err)) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o := tc.orientation
			if o == 0 {
				o = 1
			}
			if img.W != tc.w || img.H != tc.h || img.Depth != tc.depth || img.Gray != tc.gray ||
				(img.Alpha != nil) != tc.alpha || img.Orientation != o || (img.ICC != nil) != tc.icc {
				t.Fatalf("got %dx%d depth %d gray %v alpha %v orientation %d icc %d bytes",
					img.W, img.H, img.Depth, img.Gray, img.Alpha != nil, img.Orientation, len(img.ICC))
			}
			if tc.icc && !bytes.Equal(img.ICC, fakeICC()) {
				t.Fatal("ICC differs")
			}
		})
	}
	if len(tests) != len(want) {
		t.Errorf("%d fixtures, %d checked", len(want), len(tests))
	}
}

var errAny = errors.New("any error")
