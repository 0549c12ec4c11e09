package imageio

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// bandOf returns rows [y0, y1) of img as an image of their own.
func bandOf(img *Image, y0, y1 int) *Image {
	b := *img
	b.H = y1 - y0
	n, bn := img.W*img.H, img.W*b.H
	b.Pix = make([]float32, 0, img.Channels()*bn)
	for c := range img.Channels() {
		b.Pix = append(b.Pix, img.Pix[c*n+y0*img.W:c*n+y1*img.W]...)
	}
	if img.Alpha != nil {
		b.Alpha = img.Alpha[y0*img.W : y1*img.W]
	}
	return &b
}

// TestEncoderBands: an image written band by band, in bands of any
// heights, is byte for byte what Encode writes, for every layout, depth
// and format, metadata (EXIF, density) included.
func TestEncoderBands(t *testing.T) {
	for _, tc := range []struct {
		name        string
		gray, alpha bool
		depth       int
	}{
		{"rgb8", false, false, 8}, {"rgb16", false, false, 16}, {"rgba8", false, true, 8},
		{"rgba16", false, true, 16}, {"gray8", true, false, 8}, {"gray16", true, false, 16},
		{"graya8", true, true, 8},
	} {
		img := NewImage(23, 17, tc.gray, tc.alpha, tc.depth)
		for i := range img.Pix {
			img.Pix[i] = float32((i*7919)%1000) / 999
		}
		for i := range img.Alpha {
			img.Alpha[i] = float32(i%11) / 10
		}
		img.ICC = []byte("a profile")
		img.Exif = testExif(false, 1, "rows", 72, 23, 17)
		img.XDPI, img.YDPI = 300, 150
		for _, f := range Formats {
			opt := EncodeOptions{Format: f}
			var want bytes.Buffer
			if err := Encode(&want, img, opt); err != nil {
				t.Fatal(err)
			}
			for _, cuts := range [][]int{{17}, {1, 16}, {5, 5, 5, 2}, {16, 1}} {
				var got bytes.Buffer
				e, err := NewEncoder(&got, img.Header(), opt)
				if err != nil {
					t.Fatal(err)
				}
				y := 0
				for _, n := range cuts {
					if err := e.WriteRows(bandOf(img, y, y+n)); err != nil {
						t.Fatal(err)
					}
					y += n
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%s %s in bands %v: %d bytes differ from Encode's %d", tc.name, f, cuts, got.Len(), want.Len())
				}
			}
		}
	}
}

// TestEncoderErrors: bands that do not fit the header, too few rows, and
// a failing producer in WriteFileRows (which leaves no file).
func TestEncoderErrors(t *testing.T) {
	img := NewImage(4, 6, false, false, 8)
	for _, f := range Formats {
		for _, tc := range []struct {
			name string
			band *Image
		}{
			{"width", NewImage(5, 1, false, false, 8)},
			{"gray", NewImage(4, 1, true, false, 8)},
			{"alpha", NewImage(4, 1, false, true, 8)},
			{"too many rows", NewImage(4, 7, false, false, 8)},
			{"invalid", &Image{W: 4, H: 1, Pix: make([]float32, 3)}},
		} {
			e, err := NewEncoder(io.Discard, img.Header(), EncodeOptions{Format: f})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.WriteRows(tc.band); err == nil {
				t.Errorf("%s %s: no error", f, tc.name)
			}
		}
		e, _ := NewEncoder(io.Discard, img.Header(), EncodeOptions{Format: f})
		e.WriteRows(NewImage(4, 5, false, false, 8))
		if err := e.Close(); err == nil || !strings.Contains(err.Error(), "5 of 6 rows") {
			t.Errorf("%s: closed after 5 of 6 rows: %v", f, err)
		}
	}
	if _, err := NewEncoder(io.Discard, Header{W: 0, H: 3}, EncodeOptions{}); err == nil {
		t.Error("empty header accepted")
	}

	dir := t.TempDir()
	p := filepath.Join(dir, "x.png")
	stop := errors.New("producer failed")
	err := WriteFileRows(p, img.Header(), EncodeOptions{}, func(e *Encoder) error {
		if err := e.WriteRows(bandOf(img, 0, 3)); err != nil {
			return err
		}
		return stop
	})
	if err != stop {
		t.Errorf("producer's error came back as %v", err)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left %q", names)
	}
	err = WriteFileRows(p, img.Header(), EncodeOptions{}, func(e *Encoder) error { return e.WriteRows(bandOf(img, 0, 3)) })
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("3 of 6 rows: %v", err)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left %q", names)
	}
	if err := WriteFileRows(p, img.Header(), EncodeOptions{}, func(e *Encoder) error {
		if err := e.WriteRows(img); err != nil {
			return err
		}
		return e.Close()
	}); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(p, DecodeOptions{})
	if err != nil || back.W != 4 || back.H != 6 {
		t.Fatalf("read back %v, %v", back, err)
	}
}
