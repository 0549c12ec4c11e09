package training

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/grformer/grformer/model"
)

// tinyConfig is a small but valid GRFormer, so that validation can build a
// real inference model from the fake's parameters.
func tinyConfig(scale int) model.Config {
	return model.Config{InChans: 3, EmbedDim: 8, Depths: []int{2}, NumHeads: []int{2}, Window: [2]int{4, 4},
		MLPRatio: 2, Scale: scale, ImgRange: 1, Mean: model.DIV2KMean, ImgSize: 8}
}

// fakeNet is a Trainable whose parameters are those of a tiny GRFormer but
// whose "network" is a per-pixel linear model on the nearest-neighbour
// upscale of the input: out[c] = w[c]*x[c] + b[c], with w = norm.weight[:3]
// and b = norm.bias[:3]. Its gradient is computed by hand; every other
// parameter gets a zero gradient. The gradient is scaled by a factor that
// depends on the drop-path seed, so that a wrong seed changes the weights.
type fakeNet struct {
	cfg    model.Config
	params []*Param
	w, b   *Param
	steps  int
	onStep func(step int) // called at the end of every Step
	nanAt  int            // Step number returning NaN (0: never)
	seeds  []uint64
}

func newFakeNet(t testing.TB, scale int, seed uint64) *fakeNet {
	t.Helper()
	cfg := tinyConfig(scale)
	sd, err := model.InitStateDict(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNet{cfg: cfg}
	keys := sd.Keys()
	sort.Strings(keys)
	for _, k := range keys {
		tt := sd[k]
		p := &Param{Name: k, Shape: tt.Shape, Data: tt.F32, Grad: make([]float32, len(tt.F32))}
		f.params = append(f.params, p)
		switch k {
		case "norm.weight":
			f.w = p
		case "norm.bias":
			f.b = p
		}
	}
	return f
}

func (f *fakeNet) Config() model.Config { return f.cfg }
func (f *fakeNet) Params() []*Param     { return f.params }

func (f *fakeNet) Step(x, target []float32, n, h, w int, dropRate float64, dropSeed uint64) (float64, error) {
	f.steps++
	f.seeds = append(f.seeds, dropSeed)
	for _, p := range f.params {
		clear(p.Grad)
	}
	s := f.cfg.Scale
	H, W := h*s, w*s
	numel := float64(n * 3 * H * W)
	var loss float64
	for i := range n {
		for c := range 3 {
			wc, bc := f.w.Data[c], f.b.Data[c]
			var gw, gb float64
			for Y := range H {
				for X := range W {
					xv := x[((i*3+c)*h+Y/s)*w+X/s]
					d := wc*xv + bc - target[((i*3+c)*H+Y)*W+X]
					loss += math.Abs(float64(d))
					sg := 0.0
					if d > 0 {
						sg = 1
					} else if d < 0 {
						sg = -1
					}
					gw += sg * float64(xv)
					gb += sg
				}
			}
			k := 1 + dropRate*float64(dropSeed%1000)/1000
			f.w.Grad[c] += float32(gw / numel * k)
			f.b.Grad[c] += float32(gb / numel * k)
		}
	}
	if f.onStep != nil {
		f.onStep(f.steps)
	}
	if f.steps == f.nanAt {
		return math.NaN(), nil
	}
	return loss / numel, nil
}

// writePNG writes a random w x h image (gray when gray) to path.
func writePNG(t testing.TB, path string, w, h int, gray bool, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var img image.Image
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = uint8(r.IntN(256))
		}
		img = g
	} else {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				// Smooth-ish content plus noise.
				v := func(k int) uint8 {
					return uint8(min(255, max(0, 128+int(60*math.Sin(float64(x*k+y)/5))+r.IntN(40)-20)))
				}
				m.SetNRGBA(x, y, color.NRGBA{R: v(1), G: v(2), B: v(3), A: 255})
			}
		}
		img = m
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// makeTrainDir makes a folder of small training images: three RGB, one
// gray, one too small for an 8-pixel patch at x2.
func makeTrainDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "train")
	writePNG(t, filepath.Join(dir, "a.png"), 40, 36, false, 1)
	writePNG(t, filepath.Join(dir, "b.png"), 33, 47, false, 2)
	writePNG(t, filepath.Join(dir, "c.png"), 24, 24, false, 3)
	writePNG(t, filepath.Join(dir, "d_gray.png"), 30, 26, true, 4)
	writePNG(t, filepath.Join(dir, "e_small.png"), 10, 30, false, 5)
	return dir
}

// makeValDir makes a benchmark-like set folder with HR/.
func makeValDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "Val")
	writePNG(t, filepath.Join(dir, "HR", "v1.png"), 24, 20, false, 11)
	writePNG(t, filepath.Join(dir, "HR", "v2.png"), 17, 16, true, 12)
	return dir
}

func loadTestDataset(t testing.TB, dir string, scale, patch int) *Dataset {
	t.Helper()
	ds, err := LoadDataset(context.Background(), []string{dir}, scale, DataOptions{Patch: patch})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}
