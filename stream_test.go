package grformer

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/grformer/grformer/imageio"
)

// collect runs UpscaleRows and assembles the bands into one image,
// checking that they come top to bottom, contiguous, at most bandRows
// high, shaped like the result. firstAt is the number of forward passes
// done when the first band came.
func collect(t *testing.T, m *Model, img *imageio.Image, opt Options) (out *imageio.Image, firstAt, total int) {
	t.Helper()
	done := 0
	firstAt = -1
	opt.Progress = func(d, n int) { done, total = d, n }
	s := m.Scale()
	out = imageio.NewImage(img.W*s, img.H*s, img.Gray, img.Alpha != nil, img.Depth)
	next := 0
	err := m.UpscaleRows(context.Background(), img, opt, func(y int, b *imageio.Image) error {
		if firstAt < 0 {
			firstAt = done
		}
		if y != next || b.H < 1 || b.H > bandRows || b.W != out.W || b.Gray != img.Gray || b.Depth != img.Depth ||
			(b.Alpha != nil) != (img.Alpha != nil) || string(b.ICC) != string(img.ICC) {
			t.Fatalf("band at %d (expected %d): %dx%d gray %v depth %d alpha %v", y, next, b.W, b.H, b.Gray, b.Depth, b.Alpha != nil)
		}
		if err := b.Validate(); err != nil {
			t.Fatal(err)
		}
		n, on := b.W*b.H, out.W*out.H
		for c := range b.Channels() {
			copy(out.Pix[c*on+y*b.W:], b.Pix[c*n:(c+1)*n])
		}
		if b.Alpha != nil {
			copy(out.Alpha[y*b.W:], b.Alpha)
		}
		next = y + b.H
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next != out.H {
		t.Fatalf("bands ended at row %d of %d", next, out.H)
	}
	return out, firstAt, total
}

// sameBits reports the first index where a and b differ in any bit, or -1.
func sameBits(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestUpscaleRowsExact: the streamed result is UpscaleImage's bit for bit,
// tiled and untiled, for colour, gray, 16 bits, alpha both ways, the
// self-ensemble and another scale; tiled without the self-ensemble, the
// first rows come before the last tile (they are streamed), with it after.
func TestUpscaleRowsExact(t *testing.T) {
	ph := crop(photo(t), 70, 75)
	gray16 := imageio.NewImage(70, 75, true, false, 16)
	for i := range gray16.Pix {
		gray16.Pix[i] = (ph.Pix[i] + ph.Pix[len(gray16.Pix)+i]) / 2
	}
	alpha := *ph
	alpha.ICC = []byte("profile")
	alpha.Alpha = make([]float32, 70*75)
	for i := range alpha.Alpha {
		alpha.Alpha[i] = float32(i%13) / 12
	}
	tiles := Options{Tile: 32, TileOverlap: 2}
	for _, tc := range []struct {
		name  string
		model string
		img   *imageio.Image
		opt   Options
	}{
		{"rgb/untiled", "tiny_x2", ph, Options{}},
		{"rgb/tiles", "tiny_x2", ph, tiles},
		{"rgb/tiles/no border", "tiny_x2", ph, Options{Tile: 40, TileOverlap: 2, BorderContext: NoBorderContext}},
		{"rgb/tiles/x3", "tiny_x3", ph, tiles},
		{"gray16/tiles", "tiny_x2", gray16, tiles},
		{"gray16/untiled", "tiny_x4", gray16, Options{}},
		{"alpha model/tiles", "tiny_x2", &alpha, tiles},
		{"alpha bicubic/tiles", "tiny_x2", &alpha, Options{Tile: 32, TileOverlap: 2, Alpha: AlphaBicubic}},
		{"alpha/tta/tiles", "tiny_x2", &alpha, Options{Tile: 32, TileOverlap: 2, TTA: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadTiny(t, tc.model)
			want, err := m.UpscaleImage(context.Background(), tc.img, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			got, firstAt, total := collect(t, m, tc.img, tc.opt)
			if i := sameBits(got.Pix, want.Pix); i >= 0 {
				t.Errorf("colour value %d: streamed %v, UpscaleImage %v", i, got.Pix[i], want.Pix[i])
			}
			if i := sameBits(got.Alpha, want.Alpha); i >= 0 {
				t.Errorf("alpha value %d differs", i)
			}
			streamed := firstAt < total
			if wantStreamed := tc.opt.Tile > 0 && !tc.opt.TTA; streamed != wantStreamed {
				t.Errorf("first band after %d of %d passes", firstAt, total)
			}
		})
	}
}

// TestUpscaleRowsErrors: a sink's error stops the work and comes back; a
// nil sink is refused.
func TestUpscaleRowsErrors(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	img := crop(photo(t), 70, 75)
	stop := errors.New("disk full")
	done, total := 0, 0
	err := m.UpscaleRows(context.Background(), img, Options{Tile: 32, TileOverlap: 2, Progress: func(d, n int) { done, total = d, n }},
		func(int, *imageio.Image) error { return stop })
	if err != stop {
		t.Errorf("sink's error came back as %v", err)
	}
	if done >= total {
		t.Errorf("%d of %d passes run after the sink failed", done, total)
	}
	if err := m.UpscaleRows(context.Background(), img, Options{}, nil); err == nil {
		t.Error("nil sink accepted")
	}
}

// TestStreamBudget: streaming holds a band of the result one tile high,
// so within the same budget it needs fewer tiles than UpscaleImage, whose
// result is whole; the memory estimate counts the band, not the result.
func TestStreamBudget(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	cfg := m.Config()
	h, w := 412, 600
	r := resolved{threads: 1, overlap: 16, border: DefaultBorderContext}
	result := int64(4 * 3 * 2 * h * 2 * w)
	r.maxMemory = int64(float64(result+tileBytes(cfg, 64, 64, 1)) / planFraction)
	streamed, err := m.newEngine(context.Background(), r, h, w, 0, 3, 1, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if streamed.held != 2*streamed.ty {
		t.Errorf("streaming with tiles %dx%d holds %d rows", streamed.ty, streamed.tx, streamed.held)
	}
	if got := streamed.layerBytes(3, streamed.ty) + tileBytes(cfg, streamed.ty, streamed.tx, 1); float64(got) > planFraction*float64(r.maxMemory) {
		t.Errorf("streaming plans %s, over the budget", FormatBytes(got))
	}
	whole, err := m.newEngine(context.Background(), r, h, w, 0, 3, 1, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d tiles streaming, %d with the whole result", FormatBytes(r.maxMemory), streamed.total, whole.total)
	if whole.held != 2*h || whole.total <= 3*streamed.total {
		t.Errorf("whole result (%d rows): %d tiles, streaming %d", whole.held, whole.total, streamed.total)
	}
	// The self-ensemble keeps the whole result.
	r.tta = true
	if e, err := m.newEngine(context.Background(), r, h, w, 0, 3, 1, true, nil); err == nil && e.held != 2*h {
		t.Errorf("TTA holds %d rows", e.held)
	}
}
