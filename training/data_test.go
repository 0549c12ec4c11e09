package training

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/grformer/grformer/eval"
	"github.com/grformer/grformer/metrics"
	"github.com/grformer/grformer/resize"
)

func TestLoadDatasetLRIsDownscale(t *testing.T) {
	dir := makeTrainDir(t)
	for _, scale := range []int{2, 3, 4} {
		var warned []string
		ds, err := LoadDataset(context.Background(), []string{dir}, scale, DataOptions{Patch: 6, Warn: func(m string) { warned = append(warned, m) }})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ds.Pairs {
			img, err := eval.ReadImage(p.Path)
			if err != nil {
				t.Fatal(err)
			}
			hr, err := metrics.ModCrop(img, scale)
			if err != nil {
				t.Fatal(err)
			}
			want, err := resize.Downscale(hr, scale)
			if err != nil {
				t.Fatal(err)
			}
			w := resize.FromImage(want)
			h := resize.FromImage(hr)
			if w.C == 1 { // gray: the dataset replicates it to RGB
				w = &resize.Planar8{W: w.W, H: w.H, C: 3, Pix: slices.Concat(w.Pix, w.Pix, w.Pix)}
				h = &resize.Planar8{W: h.W, H: h.H, C: 3, Pix: slices.Concat(h.Pix, h.Pix, h.Pix)}
			}
			if !reflect.DeepEqual(p.LR, w) {
				t.Errorf("x%d %s: LR differs from resize.Downscale", scale, p.Path)
			}
			if !reflect.DeepEqual(p.HR, h) {
				t.Errorf("x%d %s: HR differs from the mod-cropped image", scale, p.Path)
			}
		}
		// e_small.png (10x30) is below 6*scale in width for every scale.
		if len(warned) == 0 || !strings.Contains(warned[0], "e_small.png") || len(ds.Skipped) != len(warned) {
			t.Errorf("x%d: warnings %q", scale, warned)
		}
	}
}

func TestLoadDatasetCache(t *testing.T) {
	dir := makeTrainDir(t)
	cache := filepath.Join(t.TempDir(), "cache")
	a, err := LoadDataset(context.Background(), []string{dir}, 2, DataOptions{Patch: 4, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(cache)
	if len(ents) != 5 {
		t.Fatalf("%d cache files, want 5", len(ents))
	}
	b, err := LoadDataset(context.Background(), []string{dir}, 2, DataOptions{Patch: 4, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Pairs, b.Pairs) {
		t.Fatal("cached dataset differs")
	}
	// A corrupt cache entry is recomputed, not trusted.
	for _, e := range ents {
		os.WriteFile(filepath.Join(cache, e.Name()), []byte("junk"), 0o644)
	}
	c, err := LoadDataset(context.Background(), []string{dir}, 2, DataOptions{Patch: 4, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Pairs, c.Pairs) {
		t.Fatal("dataset from a corrupt cache differs")
	}
}

func TestLoadDatasetErrors(t *testing.T) {
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("x"), 0o644)
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "broken.png"), []byte("not a png"), 0o644)
	small := t.TempDir()
	writePNG(t, filepath.Join(small, "s.png"), 12, 12, false, 1)
	cases := []struct {
		name  string
		dirs  []string
		patch int
		want  string
	}{
		{"no dirs", nil, 8, "no training data folder"},
		{"missing", []string{filepath.Join(empty, "nope")}, 8, "does not exist"},
		{"no images", []string{empty}, 8, "no images"},
		{"corrupt", []string{bad}, 8, "broken.png"},
		{"all too small", []string{small}, 8, "none of the 1 training images"},
		{"bad patch", []string{small}, 0, "invalid patch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadDataset(context.Background(), c.dirs, 2, DataOptions{Patch: c.patch})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// syntheticDataset has one image whose HR is the nearest-neighbour upscale
// of its LR, with every LR value distinct per channel.
func syntheticDataset(scale, w, h int) *Dataset {
	lr := resize.NewPlanar8(w, h, 3)
	for i := range lr.Pix {
		lr.Pix[i] = uint8(i % 251)
	}
	hr := resize.NewPlanar8(w*scale, h*scale, 3)
	for c := range 3 {
		for y := range h * scale {
			for x := range w * scale {
				hr.Pix[(c*h*scale+y)*w*scale+x] = lr.Pix[(c*h+y/scale)*w+x/scale]
			}
		}
	}
	return &Dataset{Scale: scale, Pairs: []Pair{{Path: "synthetic", HR: hr, LR: lr}}}
}

// applyRef applies hflip, vflip, transpose (in that order, as BasicSR's
// augment does) to a p x p plane held as rows.
func applyRef(rows [][]float32, sm Sample) [][]float32 {
	p := len(rows)
	cp := func() [][]float32 {
		out := make([][]float32, p)
		for i := range out {
			out[i] = make([]float32, p)
		}
		return out
	}
	if sm.HFlip {
		o := cp()
		for y := range p {
			for x := range p {
				o[y][x] = rows[y][p-1-x]
			}
		}
		rows = o
	}
	if sm.VFlip {
		o := cp()
		for y := range p {
			o[y] = slices.Clone(rows[p-1-y])
		}
		rows = o
	}
	if sm.Transpose {
		o := cp()
		for y := range p {
			for x := range p {
				o[y][x] = rows[x][y]
			}
		}
		rows = o
	}
	return rows
}

func TestCutFlips(t *testing.T) {
	// A 5x4 image; the 3x3 patch at (top 1, left 2).
	const w, h, p = 5, 4, 3
	pix := make([]uint8, 3*w*h)
	for i := range pix {
		pix[i] = uint8(i * 3)
	}
	for combo := range 8 {
		sm := Sample{Top: 1, Left: 2, HFlip: combo&1 != 0, VFlip: combo&2 != 0, Transpose: combo&4 != 0}
		got := make([]float32, 3*p*p)
		cut(got, pix, w, h, sm.Top, sm.Left, p, sm)
		for c := range 3 {
			rows := make([][]float32, p)
			for y := range p {
				rows[y] = make([]float32, p)
				for x := range p {
					rows[y][x] = float32(pix[(c*h+sm.Top+y)*w+sm.Left+x]) / 255
				}
			}
			want := applyRef(rows, sm)
			for y := range p {
				for x := range p {
					if g := got[(c*p+y)*p+x]; g != want[y][x] {
						t.Fatalf("%+v channel %d (%d,%d): %v want %v", sm, c, y, x, g, want[y][x])
					}
				}
			}
		}
	}
}

func TestBatchAlignedAndDeterministic(t *testing.T) {
	const scale, patch, batch = 3, 4, 6
	ds := syntheticDataset(scale, 11, 9)
	s, err := NewSampler(ds, 42, batch, patch)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[3]bool]bool{}
	ps := patch * scale
	for it := 1; it <= 20; it++ {
		b := s.Batch(it)
		if b.Iter != it || b.N != batch || b.P != patch || len(b.X) != batch*3*patch*patch || len(b.Y) != batch*3*ps*ps {
			t.Fatalf("iteration %d: bad batch shape", it)
		}
		for j, sm := range b.Samples {
			seen[[3]bool{sm.HFlip, sm.VFlip, sm.Transpose}] = true
			if sm.Top < 0 || sm.Left < 0 || sm.Top+patch > 9 || sm.Left+patch > 11 {
				t.Fatalf("sample %+v outside the image", sm)
			}
			// HR is the nearest upscale of LR, whatever the flips: the
			// patches are aligned and flipped together.
			for c := range 3 {
				for y := range ps {
					for x := range ps {
						hv := b.Y[((j*3+c)*ps+y)*ps+x]
						lv := b.X[((j*3+c)*patch+y/scale)*patch+x/scale]
						if hv != lv {
							t.Fatalf("iteration %d sample %d (%+v): HR (%d,%d) = %v, LR = %v", it, j, sm, y, x, hv, lv)
						}
					}
				}
			}
		}
	}
	if len(seen) != 8 {
		t.Errorf("only %d of the 8 flip combinations drawn in 120 samples", len(seen))
	}

	// Same seed: same batches, in any order of calls; another seed differs.
	s2, _ := NewSampler(ds, 42, batch, patch)
	s3, _ := NewSampler(ds, 43, batch, patch)
	for _, it := range []int{7, 1, 3} {
		if !reflect.DeepEqual(s.Batch(it), s2.Batch(it)) {
			t.Fatalf("iteration %d: same seed, different batch", it)
		}
		if reflect.DeepEqual(s.Batch(it).Samples, s3.Batch(it).Samples) {
			t.Fatalf("iteration %d: different seeds, same samples", it)
		}
	}
	if s.Sample(13) != s.Batch(3).Samples[1] {
		t.Fatal("Sample(k) differs from the batch's sample")
	}
}

func TestEpochOrder(t *testing.T) {
	dir := makeTrainDir(t)
	ds := loadTestDataset(t, dir, 2, 4) // 4 usable images
	n := len(ds.Pairs)
	s, err := NewSampler(ds, 7, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []int
	for it := 1; it <= 4*n; it++ {
		for _, sm := range s.Batch(it).Samples {
			imgs = append(imgs, sm.Image)
		}
	}
	// Every epoch visits each image once; epochs are shuffled differently.
	orders := map[string]bool{}
	for e := 0; e+n <= len(imgs); e += n {
		ep := slices.Clone(imgs[e : e+n])
		orders[fmt.Sprint(ep)] = true
		slices.Sort(ep)
		for i, v := range ep {
			if v != i {
				t.Fatalf("epoch %d visits %v", e/n, imgs[e:e+n])
			}
		}
	}
	if len(orders) < 2 {
		t.Error("every epoch has the same order")
	}
}

func TestPrefetchInOrder(t *testing.T) {
	ds := syntheticDataset(2, 10, 10)
	s, _ := NewSampler(ds, 1, 2, 4)
	for _, workers := range []int{1, 3} {
		pf := startPrefetch(context.Background(), s, 5, 40, workers, 3)
		for it := 5; it <= 40; it++ {
			b := pf.next(context.Background())
			if b == nil || !reflect.DeepEqual(b, s.Batch(it)) {
				t.Fatalf("workers %d: batch %d wrong", workers, it)
			}
		}
		if pf.next(context.Background()) != nil {
			t.Fatal("batch past the end")
		}
		pf.stop()
	}
	// Stopping early does not hang.
	ctx, cancel := context.WithCancel(context.Background())
	pf := startPrefetch(ctx, s, 1, 1000, 2, 2)
	pf.next(ctx)
	cancel()
	if b := pf.next(ctx); b != nil && b.Iter != 2 {
		t.Fatal("unexpected batch after cancel")
	}
	pf.stop()
}

// Flat samples: drawn at about the asked rate, uniform LR and HR of the
// drawn colour, and the other samples exactly those of Flat = 0.
func TestFlatSamples(t *testing.T) {
	const scale, patch, batch = 2, 4, 8
	ds := syntheticDataset(scale, 11, 9)
	plain, _ := NewSampler(ds, 7, batch, patch)
	s, _ := NewSampler(ds, 7, batch, patch)
	s.Flat = 0.25
	flat, total := 0, 0
	ps := patch * scale
	for it := 1; it <= 100; it++ {
		b, pb := s.Batch(it), plain.Batch(it)
		for j, sm := range b.Samples {
			total++
			if !sm.Flat {
				if sm != pb.Samples[j] {
					t.Fatalf("iteration %d sample %d: %+v, without flat patches %+v", it, j, sm, pb.Samples[j])
				}
				continue
			}
			flat++
			for c := range 3 {
				want := float32(sm.Color[c]) / 255
				for _, v := range b.X[(j*3+c)*patch*patch : (j*3+c+1)*patch*patch] {
					if v != want {
						t.Fatalf("flat LR value %v, want %v", v, want)
					}
				}
				for _, v := range b.Y[(j*3+c)*ps*ps : (j*3+c+1)*ps*ps] {
					if v != want {
						t.Fatalf("flat HR value %v, want %v", v, want)
					}
				}
			}
		}
	}
	if r := float64(flat) / float64(total); r < 0.18 || r > 0.32 {
		t.Errorf("flat fraction %.3f, want about 0.25", r)
	}
}
