package grformer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/internal/kernels"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/resize"
)

func TestPlanAxis(t *testing.T) {
	for _, tc := range []struct{ n, tile, overlap, p, s int }{
		{13, 128, 16, 8, 2},    // one tile
		{150, 128, 16, 8, 2},   // two
		{300, 128, 16, 8, 2},   // several
		{300, 64, 16, 8, 3},    // small tiles, x3
		{1000, 128, 32, 32, 4}, // light model, step of one window
		{1000, 256, 16, 32, 4},
		{777, 96, 8, 4, 4},
		{500, 64, 0, 8, 2}, // no overlap
		{500, 48, -1, 8, 2},
	} {
		t.Run(fmt.Sprintf("n%d_t%d_o%d_p%d_s%d", tc.n, tc.tile, tc.overlap, tc.p, tc.s), func(t *testing.T) {
			ov := max(tc.overlap, 0)
			np := roundUp(tc.n, tc.p)
			a := planAxis(tc.n, np, tc.tile, ov, tc.p, tc.s)
			if a.starts[0] != 0 || a.starts[len(a.starts)-1]+a.size != np {
				t.Fatalf("tiles %v of %d do not cover [0, %d)", a.starts, a.size, np)
			}
			if len(a.starts) != tilesAlong(np, tc.tile, ov, tc.p) {
				t.Errorf("%d tiles, tilesAlong says %d", len(a.starts), tilesAlong(np, tc.tile, ov, tc.p))
			}
			for i, st := range a.starts {
				if st%tc.p != 0 {
					t.Errorf("start %d not a multiple of %d", st, tc.p)
				}
				if i > 0 && a.starts[i-1]+a.size-st < minOverlap(ov) {
					t.Errorf("tiles at %d and %d overlap by %d < %d", a.starts[i-1], st, a.starts[i-1]+a.size-st, minOverlap(ov))
				}
			}
			sum := make([]float64, tc.n*tc.s)
			for i, st := range a.starts {
				for j, w := range a.weights[i] {
					X := st*tc.s + j
					if w < 0 || w > 1 {
						t.Fatalf("weight %v at %d", w, X)
					}
					sum[X] += float64(w)
					// A pixel is only taken from tiles with overlap pixels
					// of context on both sides (but at the image's ends).
					u := (float64(X) + 0.5) / float64(tc.s)
					if w > 0 && ((st > 0 && u-float64(st) < float64(ov)-1e-4) ||
						(st+a.size < np && float64(st+a.size)-u < float64(ov)-1e-4)) {
						t.Errorf("pixel %d takes weight %v from tile [%d, %d) with less than %d of context", X, w, st, st+a.size, ov)
					}
				}
			}
			for X, v := range sum {
				if math.Abs(v-1) > 1e-5 {
					t.Fatalf("weights at %d sum to %v", X, v)
				}
			}
		})
	}
}

// photo is a small photograph (testdata/upscale/photo.webp, 150x103).
func photo(t testing.TB) *imageio.Image {
	t.Helper()
	img, err := imageio.ReadFile("testdata/upscale/photo.webp", imageio.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// enlarge returns img resized by MATLAB's bicubic to w x h: a bigger
// natural-looking image.
func enlarge(t testing.TB, img *imageio.Image, w, h int) *imageio.Image {
	t.Helper()
	out, err := Resize(img, w, h)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// crop returns the w x h top-left part of img.
func crop(img *imageio.Image, w, h int) *imageio.Image {
	out := imageio.NewImage(w, h, img.Gray, false, img.Depth)
	for c := range img.Channels() {
		for y := range h {
			copy(out.Pix[(c*h+y)*w:(c*h+y+1)*w], img.Pix[c*img.W*img.H+y*img.W:])
		}
	}
	return out
}

func loadTiny(t testing.TB, name string) *Model {
	t.Helper()
	m, err := Load("testdata/golden/" + name + "/weights.pth")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var lightModels = map[int]*Model{}

// randomLight is the paper's light configuration with random weights.
func randomLight(t testing.TB, scale int) *Model {
	t.Helper()
	if m := lightModels[scale]; m != nil {
		return m
	}
	sd, err := model.InitStateDict(model.Light(scale), 7)
	if err != nil {
		t.Fatal(err)
	}
	m, err := FromStateDict(sd)
	if err != nil {
		t.Fatal(err)
	}
	lightModels[scale] = m
	return m
}

// diff returns the largest absolute difference and the largest difference
// in 8-bit levels.
func diff(a, b []float32) (float64, int) {
	worst, levels := 0.0, 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i]-b[i])))
		la, lb := math.Floor(float64(a[i])*255+0.5), math.Floor(float64(b[i])*255+0.5)
		levels = math.Max(levels, math.Abs(la-lb))
	}
	return worst, int(levels)
}

// TestTiledMatchesUntiled checks the tiling promise: with tiles of at
// least 128 and the default overlap the result is within 1/255 of the
// untiled one (and within one 8-bit level), on a photograph.
func TestTiledMatchesUntiled(t *testing.T) {
	ph := photo(t)
	big := enlarge(t, ph, 300, 206)
	for _, tc := range []struct {
		name    string
		m       func() *Model
		img     *imageio.Image
		tile    int
		overlap int
		slow    bool
	}{
		{"tiny_x2/photo/128/16", func() *Model { return loadTiny(t, "tiny_x2") }, ph, 128, 16, false},
		{"tiny_x2/big/128/16", func() *Model { return loadTiny(t, "tiny_x2") }, big, 128, 16, false},
		{"tiny_x2/big/128/default", func() *Model { return loadTiny(t, "tiny_x2") }, big, 128, 0, false},
		{"tiny_x2/big/200/16", func() *Model { return loadTiny(t, "tiny_x2") }, big, 200, 16, false},
		{"tiny_x3/big/128/16", func() *Model { return loadTiny(t, "tiny_x3") }, big, 128, 16, false},
		{"tiny_x4/photo/128/16", func() *Model { return loadTiny(t, "tiny_x4") }, ph, 128, 16, false},
		// The random light model reaches far (nearly uniform attention
		// over 8x32 windows): it needs 32 pixels of context, which an
		// overlap of 16 is raised to (Options.TileOverlap).
		{"light_x2/big/128/default", func() *Model { return randomLight(t, 2) }, crop(big, 224, 128), 128, 0, false},
		{"light_x4/big/128/16", func() *Model { return randomLight(t, 4) }, crop(big, 224, 160), 128, 16, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.slow && testing.Short() {
				t.Skip("light model: slow")
			}
			m := tc.m()
			ctx := context.Background()
			ref, err := m.UpscaleImage(ctx, tc.img, Options{Tile: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			tiles := 0
			got, err := m.UpscaleImage(ctx, tc.img, Options{Tile: tc.tile, TileOverlap: tc.overlap,
				Progress: func(_, total int) { tiles = total }})
			if err != nil {
				t.Fatal(err)
			}
			if tiles < 2 {
				t.Fatalf("%d tiles: the case does not test tiling", tiles)
			}
			worst, levels := diff(got.Pix, ref.Pix)
			t.Logf("%d tiles: max difference %.3g (%.3f/255), %d 8-bit levels", tiles, worst, worst*255, levels)
			if worst > 1.0/255 || levels > 1 {
				t.Errorf("tiled differs from untiled by %.3f/255 (%d levels) > 1/255", worst*255, levels)
			}
		})
	}
}

// TestUntiledIsExact: an image that fits one tile goes through the model
// as one forward pass, bit for bit (without border context: exactly the
// reference's forward pass).
func TestUntiledIsExact(t *testing.T) {
	for _, name := range []string{"tiny_x2", "tiny_x3", "tiny_x4"} {
		m := loadTiny(t, name)
		img := crop(photo(t), 37, 21)
		got, err := m.UpscalePlanar(context.Background(), img.Pix, img.H, img.W, Options{BorderContext: NoBorderContext})
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.Net().Forward(img.Pix, 1, img.H, img.W, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		clamp01(want)
		if w, _ := diff(got, want); w != 0 {
			t.Errorf("%s: differs from the forward pass by %g", name, w)
		}
	}
}

// TestBorderContext: the default border context is the forward pass on the
// frame (the image continued by reflection, DefaultBorderContext pixels
// before it, to the window multiple after it), cropped: bit for bit.
func TestBorderContext(t *testing.T) {
	k := DefaultBorderContext
	for _, name := range []string{"tiny_x2", "tiny_x3", "tiny_x4"} {
		m := loadTiny(t, name)
		s := m.Scale()
		img := crop(photo(t), 37, 21)
		h, w := img.H, img.W
		hp, wp := m.Config().PaddedSize(h+2*k, w+2*k)
		frame := make([]float32, 3*hp*wp)
		for c := range 3 {
			for y := range hp {
				for x := range wp {
					frame[(c*hp+y)*wp+x] = img.Pix[(c*h+kernels.ReflectIndex(y-k, h))*w+kernels.ReflectIndex(x-k, w)]
				}
			}
		}
		full, err := m.Net().Forward(frame, 1, hp, wp, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, 3*h*s*w*s)
		for c := range 3 {
			for y := range h * s {
				copy(want[(c*h*s+y)*w*s:(c*h*s+y+1)*w*s], full[(c*hp*s+k*s+y)*wp*s+k*s:])
			}
		}
		clamp01(want)
		got, err := m.UpscalePlanar(context.Background(), img.Pix, h, w, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := diff(got, want); d != 0 {
			t.Errorf("%s: differs from the forward pass on the frame by %g", name, d)
		}
	}
}

// TestAutoTile: a budget too small for the whole image makes tiles, and
// the result stays within the bound; a budget too small for anything is
// refused before the model runs.
func TestAutoTile(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	img := enlarge(t, photo(t), 300, 206)
	ctx := context.Background()
	ref, err := m.UpscaleImage(ctx, img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hp, wp := resolved{border: DefaultBorderContext}.frame(m.Config(), img.H, img.W)
	fixed := int64(4 * 3 * img.W * img.H * 4)
	for _, tc := range []struct {
		name      string
		budget    int64
		wantTiles bool
	}{
		{"whole", int64(float64(fixed+tileBytes(m.Config(), hp, wp, runtime.GOMAXPROCS(0)))/planFraction) + 64, false},
		{"tiles", int64(float64(fixed+tileBytes(m.Config(), 160, 160, runtime.GOMAXPROCS(0)))/planFraction) + 64, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tiles := 0
			got, err := m.UpscaleImage(ctx, img, Options{MaxMemory: tc.budget, Progress: func(_, n int) { tiles = n }})
			if err != nil {
				t.Fatal(err)
			}
			if (tiles > 1) != tc.wantTiles {
				t.Errorf("budget %s: %d tiles", FormatBytes(tc.budget), tiles)
			}
			worst, levels := diff(got.Pix, ref.Pix)
			if worst > 1.0/255 || levels > 1 {
				t.Errorf("differs from untiled by %.3f/255", worst*255)
			}
		})
	}
	called := false
	_, err = m.UpscaleImage(ctx, img, Options{MaxMemory: fixed, Progress: func(int, int) { called = true }})
	if !errors.Is(err, ErrMemoryBudget) || called {
		t.Errorf("budget below the result: err %v, progress called %v", err, called)
	}
}

// TestAutoTileFewestPixels: the automatic tile size computes the fewest
// pixels, not simply the largest tile that fits.
func TestAutoTileFewestPixels(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	cfg := m.Config()
	// 1000x750 LR: the whole image does not fit, a 752x900 tile would (two
	// along the width); two of 752x544 compute fewer pixels.
	fixed := int64(0)
	budget := int64(float64(tileBytes(cfg, 752, 900, 1)) / planFraction)
	e, err := m.newEngine(context.Background(), resolved{threads: 1, overlap: 32, maxMemory: budget}, 750, 1000, fixed, 0, 1, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.ty != 752 || e.tx != 544 || e.total != 2 {
		t.Errorf("tiles of %dx%d, %d of them; want 2 tiles of 752x544", e.ty, e.tx, e.total)
	}
}

// TestMemoryEstimate compares tileBytes with what a forward pass of the
// light model allocates (its pool is empty on a new model).
func TestMemoryEstimate(t *testing.T) {
	if testing.Short() {
		t.Skip("light model")
	}
	for _, s := range []int{2, 4} {
		sd, err := model.InitStateDict(model.Light(s), 1)
		if err != nil {
			t.Fatal(err)
		}
		m, err := FromStateDict(sd)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 3*64*64)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		if _, err := m.UpscalePlanar(context.Background(), x, 64, 64, Options{Threads: 2}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&m1)
		got := int64(m1.TotalAlloc - m0.TotalAlloc)
		// The model runs on the frame: the image, the border context on
		// every side, padded to the window multiple (96x96).
		hp, wp := resolved{border: DefaultBorderContext}.frame(m.Config(), 64, 64)
		est := tileBytes(m.Config(), hp, wp, 2) + 3*4*int64(64*s*64*s)
		t.Logf("x%d 64x64: allocated %s, estimated %s", s, FormatBytes(got), FormatBytes(est))
		if float64(got) > 1.3*float64(est) || float64(got) < 0.5*float64(est) {
			t.Errorf("x%d: a forward pass allocated %s, the estimate is %s: update tileBytes", s, FormatBytes(got), FormatBytes(est))
		}
	}
}

// TestAlphaBicubic: with AlphaBicubic the alpha plane is MATLAB's bicubic.
func TestAlphaBicubic(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	img := crop(photo(t), 30, 20)
	img.Alpha = make([]float32, 30*20)
	for i := range img.Alpha {
		img.Alpha[i] = float32(i%30) / 29
	}
	out, err := m.UpscaleImage(context.Background(), img, Options{Alpha: AlphaBicubic})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := resize.NewPlanSize(30, 20, 60, 40)
	in := make([]float64, len(img.Alpha))
	for i, v := range img.Alpha {
		in[i] = float64(v)
	}
	want := make([]float64, 60*40)
	pl.Float64(want, in)
	for i, v := range want {
		if math.Abs(float64(out.Alpha[i])-min(max(v, 0), 1)) > 1e-6 {
			t.Fatalf("alpha[%d] = %v, bicubic gives %v", i, out.Alpha[i], v)
		}
	}
}
