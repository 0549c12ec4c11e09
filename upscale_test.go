package grformer

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/resize"
)

// TestTTA checks the self-ensemble by construction: the mean over the
// eight EXIF orientations o of Orient(upscale(Orient(x, o)), inverse(o)),
// on the raw outputs, clamped once.
func TestTTA(t *testing.T) {
	for _, tc := range []struct {
		model string
		w, h  int
		tile  int
	}{
		{"tiny_x2", 19, 13, 0},
		{"tiny_x3", 16, 16, 0},
		{"tiny_x4", 7, 9, 0},
		{"tiny_x2", 70, 45, 64}, // tiled: each transform tiled in its own frame
	} {
		t.Run(tc.model, func(t *testing.T) {
			m := loadTiny(t, tc.model)
			ctx := context.Background()
			img := crop(photo(t), tc.w, tc.h)
			s := m.Scale()
			want := make([]float64, 3*tc.w*s*tc.h*s)
			for o := 1; o <= 8; o++ {
				x := imageio.Orient(img, o)
				y, err := m.upscalePlanar(ctx, x.Pix, x.H, x.W, Options{Tile: tc.tile, TileOverlap: 8})
				if err != nil {
					t.Fatal(err)
				}
				back := imageio.Orient(&imageio.Image{W: x.W * s, H: x.H * s, Pix: y, Depth: 8}, imageio.InverseOrientation(o))
				for i, v := range back.Pix {
					want[i] += float64(v) / 8
				}
			}
			for i, v := range want {
				want[i] = min(max(v, 0), 1) // one clamp, of the mean
			}
			n := 0
			got, err := m.UpscalePlanar(ctx, img.Pix, tc.h, tc.w, Options{TTA: true, Tile: tc.tile, TileOverlap: 8,
				Progress: func(_, total int) { n = total }})
			if err != nil {
				t.Fatal(err)
			}
			if n < 8 {
				t.Errorf("%d forward passes for TTA", n)
			}
			worst := 0.0
			for i, v := range got {
				worst = math.Max(worst, math.Abs(float64(v)-want[i]))
			}
			if worst > 2e-6 {
				t.Errorf("TTA differs from the mean of the 8 transforms by %g", worst)
			}
			plain, _ := m.UpscalePlanar(ctx, img.Pix, tc.h, tc.w, Options{Tile: tc.tile, TileOverlap: 8})
			if d, _ := diff(plain, got); d == 0 {
				t.Error("TTA result equals the plain one")
			}
		})
	}
}

// TestCancel: a cancelled context stops the work and nothing is returned.
func TestCancel(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	img := enlarge(t, photo(t), 300, 206)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	if _, err := m.UpscaleImage(ctx, img, Options{Progress: func(int, int) { called = true }}); !errors.Is(err, context.Canceled) || called {
		t.Errorf("cancelled before: err %v, progress called %v", err, called)
	}

	// Cancelled after the first tile: no further tile runs.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	last := 0
	out, err := m.UpscaleImage(ctx, img, Options{Tile: 96, Progress: func(done, total int) {
		last = done
		if done == 1 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || out != nil {
		t.Errorf("cancelled during: %v, %v", out, err)
	}
	if last != 1 {
		t.Errorf("%d tiles done after cancelling at the first", last)
	}

	// A deadline works the same way.
	ctx, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	time.Sleep(2 * time.Millisecond)
	if _, err := m.UpscalePlanar(ctx, img.Pix, img.H, img.W, Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
}

// TestProgress: (0, total) first, then one call per forward pass, ending
// at total; total counts tiles, TTA and the alpha pass.
func TestProgress(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	base := crop(photo(t), 40, 30)
	alpha := *base
	alpha.Alpha = make([]float32, 40*30)
	for i := range alpha.Alpha {
		alpha.Alpha[i] = float32(i%7) / 6
	}
	for _, tc := range []struct {
		name  string
		img   *imageio.Image
		opt   Options
		total int
	}{
		{"whole", base, Options{}, 1},
		{"tiles", base, Options{Tile: 32, TileOverlap: 2, BorderContext: NoBorderContext}, 2}, // 32x40 padded, overlap raised to 8: 1 row x 2 cols
		{"tiles, border context", base, Options{Tile: 32, TileOverlap: 2}, 12},                // 46x56 frame padded to 48x56: 3 x 4 tiles
		{"tta", base, Options{TTA: true}, 8},
		{"alpha model", &alpha, Options{}, 2},
		{"alpha bicubic", &alpha, Options{Alpha: AlphaBicubic}, 1},
		{"alpha tta", &alpha, Options{TTA: true}, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls [][2]int
			tc.opt.Progress = func(done, total int) { calls = append(calls, [2]int{done, total}) }
			if _, err := m.UpscaleImage(context.Background(), tc.img, tc.opt); err != nil {
				t.Fatal(err)
			}
			if len(calls) != tc.total+1 {
				t.Fatalf("calls %v, want %d passes", calls, tc.total)
			}
			for i, c := range calls {
				if c != [2]int{i, tc.total} {
					t.Fatalf("call %d is %v, want (%d, %d)", i, c, i, tc.total)
				}
			}
		})
	}
}

// TestImageKinds: depth, gray-ness, alpha and the ICC profile are kept.
func TestImageKinds(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		gray, alpha  bool
		depth        int
		wantChannels int
	}{
		{"rgb8", false, false, 8, 3},
		{"rgb16", false, false, 16, 3},
		{"gray8", true, false, 8, 1},
		{"gray16", true, false, 16, 1},
		{"gray+alpha", true, true, 8, 1},
		{"rgba16", false, true, 16, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := imageio.NewImage(20, 12, tc.gray, tc.alpha, tc.depth)
			for i := range img.Pix {
				img.Pix[i] = float32(i%17) / 16
			}
			for i := range img.Alpha {
				img.Alpha[i] = float32(i%20) / 19
			}
			img.ICC = []byte("profile")
			out, err := m.UpscaleImage(ctx, img, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if out.W != 40 || out.H != 24 || out.Gray != tc.gray || out.Depth != tc.depth ||
				(out.Alpha != nil) != tc.alpha || string(out.ICC) != "profile" || len(out.Pix) != tc.wantChannels*40*24 {
				t.Errorf("got %dx%d gray %v depth %d alpha %v icc %q, %d values", out.W, out.H, out.Gray, out.Depth, out.Alpha != nil, out.ICC, len(out.Pix))
			}
			if err := out.Validate(); err != nil {
				t.Error(err)
			}
			if tc.gray {
				// Gray goes through the model as R = G = B and comes back
				// as the mean of the three outputs.
				rgb := make([]float32, 3*20*12)
				for c := range 3 {
					copy(rgb[c*240:], img.Pix)
				}
				if tc.alpha {
					c := *img
					c.Pix = append([]float32(nil), img.Pix...)
					imageio.BleedTransparent(&c)
					for ch := range 3 {
						copy(rgb[ch*240:], c.Pix)
					}
				}
				y, err := m.upscalePlanar(ctx, rgb, 12, 20, Options{})
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range out.Pix {
					if want := min(max((y[i]+y[960+i]+y[1920+i])/3, 0), 1); math.Abs(float64(v-want)) > 1e-6 {
						t.Fatalf("gray %d: %v, mean of the RGB outputs %v", i, v, want)
					}
				}
			}
		})
	}
}

// TestTransparentColourIgnored: the colour under fully transparent pixels
// does not matter (it is bled from the visible neighbours first), so no
// dark fringe comes from black transparent pixels.
func TestTransparentColourIgnored(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	a := crop(photo(t), 32, 24)
	a.Alpha = make([]float32, 32*24)
	for i := range a.Alpha {
		if x := i % 32; x < 16 {
			a.Alpha[i] = 1
		} else if x == 16 {
			a.Alpha[i] = 0.5
		}
	}
	b := *a
	b.Pix = append([]float32(nil), a.Pix...)
	for i, al := range a.Alpha {
		if al == 0 {
			b.Pix[i], b.Pix[768+i], b.Pix[1536+i] = 0, 0, 0
		}
	}
	for _, mode := range []AlphaMode{AlphaModel, AlphaBicubic} {
		oa, err := m.UpscaleImage(context.Background(), a, Options{Alpha: mode})
		if err != nil {
			t.Fatal(err)
		}
		ob, err := m.UpscaleImage(context.Background(), &b, Options{Alpha: mode})
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := diff(oa.Pix, ob.Pix); d != 0 {
			t.Errorf("%s: the colour of transparent pixels changes the result by %g", mode, d)
		}
		if a.Pix[0] != photo(t).Pix[0] {
			t.Error("the input was modified")
		}
	}
}

func TestOptionErrors(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	img := crop(photo(t), 100, 60)
	for _, tc := range []struct {
		opt  Options
		want string
	}{
		{Options{Tile: -1}, "negative"},
		{Options{MaxMemory: -5}, "negative"},
		{Options{Alpha: "lanczos"}, "lanczos"},
		{Options{Tile: 16, TileOverlap: 16}, "at least"},
	} {
		_, err := m.UpscaleImage(context.Background(), img, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one mentioning %q", tc.opt, err, tc.want)
		}
	}
	if _, err := m.UpscalePlanar(context.Background(), nil, 0, 5, Options{}); !errors.Is(err, ErrEmptyImage) {
		t.Errorf("empty: %v", err)
	}
	if _, err := m.UpscalePlanar(context.Background(), make([]float32, 5), 2, 2, Options{}); err == nil {
		t.Error("wrong length: no error")
	}
	if _, err := m.Upscale(context.Background(), image.NewRGBA(image.Rect(0, 0, 0, 3)), Options{}); !errors.Is(err, ErrEmptyImage) {
		t.Errorf("empty image: %v", err)
	}
}

// TestUpscaleStdlib: the image.Image API keeps 8/16 bits and gray.
func TestUpscaleStdlib(t *testing.T) {
	m := loadTiny(t, "tiny_x2")
	r := image.Rect(3, 4, 15, 12) // a non-zero origin
	for _, tc := range []struct {
		src  image.Image
		want string
	}{
		{image.NewNRGBA(r), "*image.NRGBA"},
		{image.NewRGBA64(r), "*image.NRGBA64"},
		{image.NewGray(r), "*image.Gray"},
		{image.NewGray16(r), "*image.Gray16"},
	} {
		if s, ok := tc.src.(interface{ Set(int, int, color.Color) }); ok {
			s.Set(5, 6, color.White)
		}
		out, err := m.Upscale(context.Background(), tc.src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := typeName(out); got != tc.want || out.Bounds() != image.Rect(0, 0, 24, 16) {
			t.Errorf("%T -> %s %v, want %s 24x16", tc.src, got, out.Bounds(), tc.want)
		}
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *image.NRGBA:
		return "*image.NRGBA"
	case *image.NRGBA64:
		return "*image.NRGBA64"
	case *image.Gray:
		return "*image.Gray"
	case *image.Gray16:
		return "*image.Gray16"
	}
	return "other"
}

func TestResize(t *testing.T) {
	img := crop(photo(t), 40, 30)
	for _, sz := range [][2]int{{60, 45}, {20, 15}, {41, 29}, {1, 1}} {
		out, err := Resize(img, sz[0], sz[1])
		if err != nil {
			t.Fatal(err)
		}
		if out.W != sz[0] || out.H != sz[1] || len(out.Pix) != 3*sz[0]*sz[1] {
			t.Fatalf("%v: got %dx%d", sz, out.W, out.H)
		}
		// Without alpha: MATLAB's imresize on each plane, clamped.
		pl, _ := resize.NewPlanSize(40, 30, sz[0], sz[1])
		for c := range 3 {
			in := make([]float64, 1200)
			for i := range in {
				in[i] = float64(img.Pix[c*1200+i])
			}
			want := make([]float64, sz[0]*sz[1])
			pl.Float64(want, in)
			for i, v := range want {
				if math.Abs(float64(out.Pix[c*len(want)+i])-min(max(v, 0), 1)) > 1e-6 {
					t.Fatalf("%v: channel %d pixel %d: %v, imresize %v", sz, c, i, out.Pix[c*len(want)+i], v)
				}
			}
		}
	}
	// With alpha: premultiplied, so transparent colour does not leak.
	a := crop(photo(t), 40, 30)
	a.Alpha = make([]float32, 1200)
	for i := range a.Alpha {
		if i%40 < 20 {
			a.Alpha[i] = 1
		}
	}
	b := *a
	b.Pix = append([]float32(nil), a.Pix...)
	for i, al := range a.Alpha {
		if al == 0 {
			b.Pix[i], b.Pix[1200+i], b.Pix[2400+i] = 1, 0, 1
		}
	}
	oa, err := Resize(a, 100, 75)
	if err != nil {
		t.Fatal(err)
	}
	ob, _ := Resize(&b, 100, 75)
	for i, al := range oa.Alpha {
		if al >= 1.0/1024 {
			for c := range 3 {
				if d := math.Abs(float64(oa.Pix[c*7500+i] - ob.Pix[c*7500+i])); d > 1e-5 {
					t.Fatalf("pixel %d (alpha %v): transparent colour leaks by %g", i, al, d)
				}
			}
		}
	}
	if _, err := Resize(img, 0, 5); err == nil {
		t.Error("size 0: no error")
	}
	g := imageio.NewImage(10, 10, true, false, 16)
	og, err := Resize(g, 15, 15)
	if err != nil || !og.Gray || og.Depth != 16 || len(og.Pix) != 225 {
		t.Errorf("gray 16-bit: %+v %v", og, err)
	}
}
