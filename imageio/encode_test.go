package imageio

import (
	"bytes"
	"compress/zlib"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/grformer/grformer/internal/atomicfile"
)

// ICC profiles read from PNG and JPEG are written back into both formats.
func TestICCRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	icc := randBytes(rng, 140_000)
	px := randBytes(rng, 3)
	row := [][]byte{append(px, px...)} // one colour: JPEG chroma subsampling keeps it
	pngIn := rawPNG(2, 1, 8, 2, row, chunk{"iCCP", append([]byte("x\x00\x00"), zlibBytes(icc)...)})
	jpgIn := insertAfterSOI(encJPEG(t, image.NewGray(image.Rect(0, 0, 8, 8)), 90), iccSegments(icc, 65519)...)
	for _, in := range []struct {
		name string
		file []byte
	}{{"png", pngIn}, {"jpeg", jpgIn}} {
		img, err := Decode(bytes.NewReader(in.file), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(img.ICC, icc) {
			t.Fatalf("%s: ICC not read", in.name)
		}
		for _, format := range []string{"png", "jpeg"} {
			t.Run(in.name+" to "+format, func(t *testing.T) {
				var out bytes.Buffer
				if err := Encode(&out, img, EncodeOptions{Format: format}); err != nil {
					t.Fatal(err)
				}
				// Check the file structure with the test's own parsers.
				var got []byte
				if format == "png" {
					cs := readChunks(t, out.Bytes())
					if cs[1].typ != "iCCP" {
						t.Fatalf("chunk after IHDR is %s", cs[1].typ)
					}
					i := bytes.IndexByte(cs[1].data, 0)
					if i < 1 || i > 79 || cs[1].data[i+1] != 0 {
						t.Fatal("bad iCCP header")
					}
					zr, err := zlib.NewReader(bytes.NewReader(cs[1].data[i+2:]))
					if err != nil {
						t.Fatal(err)
					}
					if got, err = io.ReadAll(zr); err != nil {
						t.Fatal(err)
					}
				} else {
					markers, payloads := jpegSegments(t, out.Bytes())
					n := 0
					for k, m := range markers {
						if m != 0xe2 {
							continue
						}
						if k != n {
							t.Fatal("APP2 segments not right after SOI")
						}
						p := payloads[k]
						if !bytes.HasPrefix(p, []byte("ICC_PROFILE\x00")) || int(p[12]) != n+1 || p[13] != 3 {
							t.Fatalf("bad APP2 header %q", p[:14])
						}
						got = append(got, p[14:]...)
						n++
					}
				}
				if !bytes.Equal(got, icc) {
					t.Fatal("written ICC differs")
				}
				back, err := Decode(bytes.NewReader(out.Bytes()), DecodeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(back.ICC, icc) {
					t.Fatal("ICC lost")
				}
				sameNRGBA64Tol(t, img.ToImage(), back.ToImage(), map[bool]int{true: 0, false: 8 * 257}[format == "png"])
			})
		}
	}
}

// sameNRGBA64Tol is sameNRGBA64 with a tolerance for lossy formats.
func sameNRGBA64Tol(t *testing.T, a, b image.Image, tol int) {
	t.Helper()
	if tol == 0 {
		sameNRGBA64(t, a, b)
		return
	}
	for y := 0; y < a.Bounds().Dy(); y++ {
		for x := 0; x < a.Bounds().Dx(); x++ {
			ca, cb := straight16(a.At(x, y)), straight16(b.At(x, y))
			for k := 0; k < 3; k++ {
				if d := int(ca[k]) - int(cb[k]); d > tol || d < -tol {
					t.Fatalf("pixel (%d,%d): %v vs %v", x, y, ca, cb)
				}
			}
		}
	}
}

func TestEncodeOptions(t *testing.T) {
	img := NewImage(4, 3, false, true, 16)
	for i := range img.Pix {
		img.Pix[i] = float32(i) / 36
	}
	for i := range img.Alpha {
		img.Alpha[i] = float32(i) / 11
	}
	t.Run("depth override", func(t *testing.T) {
		var out bytes.Buffer
		if err := Encode(&out, img, EncodeOptions{Depth: 8}); err != nil {
			t.Fatal(err)
		}
		if cs := readChunks(t, out.Bytes()); cs[0].data[8] != 8 || cs[0].data[9] != 6 {
			t.Fatalf("IHDR %v", cs[0].data)
		}
	})
	t.Run("all compression levels decode the same", func(t *testing.T) {
		var ref image.Image
		for _, l := range []png.CompressionLevel{png.DefaultCompression, png.NoCompression, png.BestSpeed, png.BestCompression} {
			var out bytes.Buffer
			if err := Encode(&out, img, EncodeOptions{Compression: l}); err != nil {
				t.Fatal(err)
			}
			m := stdDecode(t, out.Bytes())
			if ref == nil {
				ref = m
			}
			sameNRGBA64(t, ref, m)
		}
	})
	t.Run("jpeg composites alpha over the background", func(t *testing.T) {
		w := NewImage(16, 16, false, true, 8) // black, fully transparent
		for _, bg := range []struct {
			c    color.Color
			want uint8
		}{{nil, 255}, {color.Black, 0}, {color.Gray{128}, 128}} {
			var out bytes.Buffer
			if err := Encode(&out, w, EncodeOptions{Format: "jpg", Background: bg.c, Quality: 100}); err != nil {
				t.Fatal(err)
			}
			r, _, _, _ := stdDecode(t, out.Bytes()).At(5, 5).RGBA()
			if d := int(r>>8) - int(bg.want); d > 2 || d < -2 {
				t.Errorf("background %v: got %d", bg.c, r>>8)
			}
		}
	})
	t.Run("gray jpeg stays gray", func(t *testing.T) {
		g := NewImage(8, 8, true, false, 8)
		var out bytes.Buffer
		if err := Encode(&out, g, EncodeOptions{Format: "jpeg"}); err != nil {
			t.Fatal(err)
		}
		if m := stdDecode(t, out.Bytes()); m.ColorModel() != color.GrayModel {
			t.Errorf("decoded as %T", m)
		}
	})
	t.Run("errors", func(t *testing.T) {
		bad := []struct {
			img *Image
			opt EncodeOptions
		}{
			{&Image{W: 2, H: 2, Pix: make([]float32, 3)}, EncodeOptions{}},
			{img, EncodeOptions{Format: "gif"}},
			{img, EncodeOptions{Format: "jpeg", Quality: 101}},
			{img, EncodeOptions{Format: "jpeg", Quality: -1}},
		}
		for i, b := range bad {
			if err := Encode(io.Discard, b.img, b.opt); err == nil {
				t.Errorf("case %d: no error", i)
			}
		}
		for _, f := range []string{"png", "jpeg"} {
			var full bytes.Buffer
			Encode(&full, img, EncodeOptions{Format: f})
			for n := 0; n < full.Len(); n += 7 {
				if err := Encode(&failWriter{n: n}, img, EncodeOptions{Format: f}); err == nil {
					t.Errorf("%s: write error after %d bytes not reported", f, n)
				}
			}
		}
	})
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	k := w.n
	w.n = 0
	return k, errors.New("disk full")
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestWriteFile(t *testing.T) {
	img := NewImage(5, 4, false, true, 8)
	for i := range img.Pix {
		img.Pix[i] = float32(i%7) / 6
	}
	for i := range img.Alpha {
		img.Alpha[i] = 1
	}
	img.Alpha[3] = 0.5
	dir := t.TempDir()

	t.Run("format from extension, nothing else left", func(t *testing.T) {
		for _, name := range []string{"a.png", "b.JPG", "c.jpeg", "d.out"} {
			opt := EncodeOptions{}
			if name == "d.out" {
				opt.Format = "png"
			}
			if err := WriteFile(filepath.Join(dir, name), img, opt); err != nil {
				t.Fatal(err)
			}
			back, err := ReadFile(filepath.Join(dir, name), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"a.png": "png", "b.JPG": "jpeg", "c.jpeg": "jpeg", "d.out": "png"}[name]
			if back.Format != want {
				t.Errorf("%s written as %s", name, back.Format)
			}
		}
		if got := listDir(t, dir); strings.Join(got, " ") != "a.png b.JPG c.jpeg d.out" {
			t.Fatalf("directory holds %q", got)
		}
	})
	t.Run("replacing keeps the mode", func(t *testing.T) {
		p := filepath.Join(dir, "a.png")
		if err := os.Chmod(p, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(p, img, EncodeOptions{}); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		if runtime.GOOS != "windows" && st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v", st.Mode())
		}
	})

	fails := []struct {
		name string
		path string
		opt  EncodeOptions
	}{
		{"unknown extension", filepath.Join(dir, "x.gif"), EncodeOptions{}},
		{"no extension", filepath.Join(dir, "x"), EncodeOptions{}},
		{"bad format", filepath.Join(dir, "x.png"), EncodeOptions{Format: "tga"}},
		{"missing directory", filepath.Join(dir, "nope", "x.png"), EncodeOptions{}},
		{"parent is a file", filepath.Join(dir, "a.png", "x.png"), EncodeOptions{}},
		{"target is a directory", dir, EncodeOptions{Format: "png"}},
		{"bad quality", filepath.Join(dir, "x.jpg"), EncodeOptions{Quality: 500}},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			before := listDir(t, dir)
			err := WriteFile(tc.path, img, tc.opt)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the file", err)
			}
			if after := listDir(t, dir); strings.Join(after, " ") != strings.Join(before, " ") {
				t.Errorf("directory changed: %q -> %q", before, after)
			}
		})
	}

	t.Run("failure at the last step removes the temp file and keeps the old file", func(t *testing.T) {
		p := filepath.Join(dir, "keep.png")
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		before := listDir(t, dir)
		var sawTemp string
		atomicfile.BeforeRename = func(tmp string) error {
			sawTemp = tmp
			if _, err := os.Stat(tmp); err != nil {
				t.Errorf("temp file missing before rename: %v", err)
			}
			return errors.New("injected failure")
		}
		defer func() { atomicfile.BeforeRename = nil }()
		if err := WriteFile(p, img, EncodeOptions{}); err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("err = %v", err)
		}
		if !strings.HasPrefix(filepath.Base(sawTemp), ".keep.png.tmp-") || filepath.Dir(sawTemp) != dir {
			t.Errorf("temp file %q", sawTemp)
		}
		if after := listDir(t, dir); strings.Join(after, " ") != strings.Join(before, " ") {
			t.Errorf("directory changed: %q -> %q", before, after)
		}
		if b, _ := os.ReadFile(p); string(b) != "old" {
			t.Error("old file changed")
		}
	})
	t.Run("long name", func(t *testing.T) {
		p := filepath.Join(dir, strings.Repeat("n", 240)+".png")
		if err := WriteFile(p, img, EncodeOptions{}); err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
	})
	t.Run("invalid image creates nothing", func(t *testing.T) {
		before := listDir(t, dir)
		if err := WriteFile(filepath.Join(dir, "bad.png"), &Image{W: 1, H: 1}, EncodeOptions{}); err == nil {
			t.Fatal("no error")
		}
		if after := listDir(t, dir); strings.Join(after, " ") != strings.Join(before, " ") {
			t.Errorf("directory changed")
		}
	})
	t.Run("read-only directory", func(t *testing.T) {
		if runtime.GOOS == "windows" || os.Geteuid() == 0 {
			t.Skip("permissions are not enforced here")
		}
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		defer os.Chmod(ro, 0o755)
		if err := WriteFile(filepath.Join(ro, "x.png"), img, EncodeOptions{}); err == nil {
			t.Fatal("no error")
		}
		if got := listDir(t, ro); len(got) != 0 {
			t.Errorf("left %q", got)
		}
	})
}

// A profile is not written where its colour space contradicts the output.
func TestICCColourSpace(t *testing.T) {
	profile := func(space string) []byte {
		p := make([]byte, 200)
		copy(p[16:], space)
		return p
	}
	tests := []struct {
		space string
		gray  bool
		kept  bool
	}{
		{"RGB ", false, true},
		{"RGB ", true, false},
		{"GRAY", true, true},
		{"GRAY", false, false},
		{"CMYK", false, false},
		{"????", true, true}, // unknown header: kept as read
	}
	for _, tc := range tests {
		img := NewImage(8, 8, tc.gray, false, 8)
		img.ICC = profile(tc.space)
		for _, f := range []string{"png", "jpeg"} {
			var out bytes.Buffer
			if err := Encode(&out, img, EncodeOptions{Format: f}); err != nil {
				t.Fatal(err)
			}
			back, err := Decode(bytes.NewReader(out.Bytes()), DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if kept := back.ICC != nil; kept != tc.kept {
				t.Errorf("%s profile on gray=%v image, %s: kept %v, want %v", tc.space, tc.gray, f, kept, tc.kept)
			}
		}
	}
}
