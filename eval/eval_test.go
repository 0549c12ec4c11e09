package eval

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grformer/grformer/metrics"
	"github.com/grformer/grformer/resize"
)

var updateFixtures = flag.Bool("update-fixtures", false, "rewrite testdata/eval")

// fixtureBench is a small benchmark tree (see TestWriteFixtures):
//
//	Tiny/HR/{color,gray}.png, Tiny/LR_bicubic/X2/colorx2.png (gray's LR
//	and all X3/X4 are missing: made from HR)
//	Broken/HR/{good,corrupt,mismatch}.png, notes.txt;
//	Broken/LR_bicubic/X2/{mismatchx2,goodx2}.png (mismatchx2 one row short)
const fixtureBench = "../testdata/eval/bench"

func pattern(w, h int, gray bool, seed int) image.Image {
	v := func(x, y, c int) uint8 {
		t := 60 + 3*x + 2*y + 40*c + seed
		if ((x+seed)/6+y/5)%2 == 0 {
			t += 70
		}
		t += int(uint32(x*7919+y*104729+c*15485863+seed)*2654435761>>28) - 8
		return uint8(max(0, min(255, t)))
	}
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				g.SetGray(x, y, color.Gray{v(x, y, 0)})
			}
		}
		return g
	}
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{v(x, y, 0), v(x, y, 1), v(x, y, 2), 255})
		}
	}
	return m
}

func writePNGFile(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
}

func mustLR(t *testing.T, hr image.Image, s int) image.Image {
	t.Helper()
	lr, err := MakeLR(hr, s)
	if err != nil {
		t.Fatal(err)
	}
	return lr
}

// TestWriteFixtures rewrites testdata/eval with -update-fixtures.
func TestWriteFixtures(t *testing.T) {
	if !*updateFixtures {
		t.Skip("run with -update-fixtures to rewrite testdata/eval")
	}
	if err := os.RemoveAll(fixtureBench); err != nil {
		t.Fatal(err)
	}
	col, gray := pattern(40, 37, false, 0), pattern(33, 30, true, 5)
	writePNGFile(t, filepath.Join(fixtureBench, "Tiny/HR/color.png"), col)
	writePNGFile(t, filepath.Join(fixtureBench, "Tiny/HR/gray.png"), gray)
	writePNGFile(t, filepath.Join(fixtureBench, "Tiny/LR_bicubic/X2/colorx2.png"), mustLR(t, col, 2))

	good, mis := pattern(30, 28, false, 11), pattern(32, 30, false, 17)
	writePNGFile(t, filepath.Join(fixtureBench, "Broken/HR/good.png"), good)
	writePNGFile(t, filepath.Join(fixtureBench, "Broken/HR/mismatch.png"), mis)
	writePNGFile(t, filepath.Join(fixtureBench, "Broken/LR_bicubic/X2/goodx2.png"), mustLR(t, good, 2))
	short := mustLR(t, mis, 2).(*image.NRGBA).SubImage(image.Rect(0, 0, 16, 14))
	writePNGFile(t, filepath.Join(fixtureBench, "Broken/LR_bicubic/X2/mismatchx2.png"), short)
	if err := os.WriteFile(filepath.Join(fixtureBench, "Broken/HR/corrupt.png"), []byte("\x89PNG\r\n\x1a\nthis is not a PNG"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fixtureBench, "Broken/HR/notes.txt"), []byte("not an image; eval skips it\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// direct scores one image the long way: crop, downscale, upscale, compare.
func direct(t *testing.T, hrPath string, s, crop int) metrics.Score {
	t.Helper()
	hr, err := ReadImage(hrPath)
	if err != nil {
		t.Fatal(err)
	}
	hrc, err := metrics.ModCrop(hr, s)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := resize.Downscale(hrc, s)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := resize.Upscale(lr, s)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := metrics.Compare(hrc, sr, crop)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestRunTiny(t *testing.T) {
	for _, c := range []struct {
		scale, crop, wantCrop int
	}{{2, -1, 2}, {3, -1, 3}, {4, -1, 4}, {2, 0, 0}, {3, 6, 6}} {
		t.Run(fmt.Sprintf("x%d_crop%d", c.scale, c.crop), func(t *testing.T) {
			var seen []string
			rep, err := Run(context.Background(), Bicubic{}, Config{
				Dir: fixtureBench, Sets: []string{"Tiny"}, Scale: c.scale, CropBorder: c.crop,
				Progress: func(p Progress) { seen = append(seen, fmt.Sprintf("%d/%d %s", p.Index, p.Total, p.Result.Name)) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Err(); err != nil {
				t.Fatal(err)
			}
			if rep.Method != "bicubic" || rep.Scale != c.scale || rep.CropBorder != c.wantCrop || len(rep.Sets) != 1 {
				t.Fatalf("report header %+v", rep)
			}
			if got := strings.Join(seen, ","); got != "1/2 color,2/2 gray" {
				t.Errorf("progress %q", got)
			}
			s := rep.Sets[0]
			if s.Scored != 2 || s.CropBorder != c.wantCrop {
				t.Fatalf("scored %d crop %d", s.Scored, s.CropBorder)
			}
			sum := [2]float64{}
			for i, name := range []string{"color", "gray"} {
				im := s.Images[i]
				want := direct(t, filepath.Join(fixtureBench, "Tiny/HR", name+".png"), c.scale, c.wantCrop)
				if im.Name != name || im.Score != want {
					t.Errorf("%s: %+v, want score %+v", name, im, want)
				}
				if wantGen := !(name == "color" && c.scale == 2); im.LRGenerated != wantGen || (im.LRPath == "") != wantGen {
					t.Errorf("%s: LRGenerated %v LRPath %q", name, im.LRGenerated, im.LRPath)
				}
				if im.Score.Gray != (name == "gray") {
					t.Errorf("%s: Gray %v", name, im.Score.Gray)
				}
				sum[0] += im.Score.PSNR
				sum[1] += im.Score.SSIM
			}
			if s.PSNR != sum[0]/2 || s.SSIM != sum[1]/2 {
				t.Errorf("means %v %v, want %v %v", s.PSNR, s.SSIM, sum[0]/2, sum[1]/2)
			}
		})
	}
}

// failing is a method that fails or misbehaves on chosen images, identified
// by their LR width.
type failing struct {
	errOn, wrongSizeOn, cancelOn int
	cancel                       func()
}

func (failing) Name() string { return "failing" }

func (f failing) SuperResolve(ctx context.Context, lr image.Image, s int) (image.Image, error) {
	switch lr.Bounds().Dx() {
	case f.errOn:
		return nil, errors.New("boom")
	case f.wrongSizeOn:
		return image.NewGray(image.Rect(0, 0, 3, 3)), nil
	case f.cancelOn:
		f.cancel()
		return nil, ctx.Err()
	}
	return resize.Upscale(lr, s)
}

func TestRunFailuresKeepGoing(t *testing.T) {
	save := t.TempDir()
	var progress int
	rep, err := Run(context.Background(), Bicubic{}, Config{
		Dir: fixtureBench, Sets: []string{"Broken", "Missing", "Tiny"}, Scale: 2, CropBorder: -1,
		SaveDir: save, Progress: func(Progress) { progress++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if progress != 5 {
		t.Errorf("progress called %d times, want 5 (3 Broken + 2 Tiny)", progress)
	}
	fails := rep.Failures()
	var msgs []string
	for _, f := range fails {
		msgs = append(msgs, f.Error())
	}
	want := []string{
		"Broken/corrupt (x2): HR: decode",
		"Broken/mismatch (x2): HR/LR size mismatch: LR is 16x14, HR 32x30 (cropped to a multiple of 2) needs 16x15 (LR file ../testdata/eval/bench/Broken/LR_bicubic/X2/mismatchx2.png)",
		"Missing (x2): no HR folder",
	}
	if len(msgs) != len(want) {
		t.Fatalf("failures:\n%s", strings.Join(msgs, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(msgs[i], want[i]) {
			t.Errorf("failure %d = %q, want prefix %q", i, msgs[i], want[i])
		}
	}
	b := rep.Sets[0]
	if b.Scored != 1 || len(b.Images) != 3 || b.Images[2].Name != "mismatch" || b.Images[0].Err == nil || b.Images[1].Err != nil {
		t.Errorf("Broken: scored %d of %d", b.Scored, len(b.Images))
	}
	if b.PSNR != b.Images[1].Score.PSNR || b.SSIM != b.Images[1].Score.SSIM {
		t.Errorf("Broken mean %v is not the one good image", b.PSNR)
	}
	if m := rep.Sets[1]; m.Err == nil || !math.IsNaN(m.PSNR) || m.Scored != 0 {
		t.Errorf("Missing: %+v", m)
	}
	if tiny := rep.Sets[2]; tiny.Scored != 2 || tiny.Err != nil {
		t.Errorf("Tiny after failures: %+v", tiny)
	}
	// Report.Err wraps each failure.
	rerr := rep.Err()
	var fe *FailuresError
	if !errors.As(rerr, &fe) || len(fe.Failures) != 3 || !strings.HasPrefix(rerr.Error(), "3 failures:") {
		t.Errorf("Report.Err = %v", rerr)
	}
	var f Failure
	if !errors.As(rerr, &f) || f.Set != "Broken" {
		t.Errorf("errors.As(Failure) = %+v", f)
	}
	// Saved outputs: only scored images, readable, equal to the bicubic
	// upscale; no temporary files left.
	for _, p := range []string{"Broken/X2/good.png", "Tiny/X2/color.png", "Tiny/X2/gray.png"} {
		img, err := ReadImage(filepath.Join(save, p))
		if err != nil {
			t.Errorf("saved %s: %v", p, err)
			continue
		}
		if strings.Contains(p, "gray") != resize.IsGray(img) {
			t.Errorf("%s: gray %v", p, resize.IsGray(img))
		}
	}
	ents, _ := os.ReadDir(filepath.Join(save, "Broken/X2"))
	if len(ents) != 1 {
		t.Errorf("Broken/X2 holds %d files, want only good.png", len(ents))
	}
	if ir := b.Images[1]; ir.SavedPath != filepath.Join(save, "Broken/X2/good.png") {
		t.Errorf("SavedPath %q", ir.SavedPath)
	}
}

func TestRunMethodFailures(t *testing.T) {
	// Tiny x2: color LR is 20 wide, gray LR 16 wide.
	for _, c := range []struct {
		name string
		m    failing
		want string
	}{
		{"error", failing{errOn: 20}, "Tiny/color (x2): failing: boom"},
		{"wrong size", failing{wrongSizeOn: 16}, "Tiny/gray (x2): failing returned 3x3, want 32x30"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Run(context.Background(), c.m, Config{Dir: fixtureBench, Sets: []string{"Tiny"}, Scale: 2})
			if err != nil {
				t.Fatal(err)
			}
			fs := rep.Failures()
			if len(fs) != 1 || fs[0].Error() != c.want {
				t.Fatalf("failures %v, want %q", fs, c.want)
			}
			if rep.Sets[0].Scored != 1 {
				t.Errorf("scored %d, want 1", rep.Sets[0].Scored)
			}
			if !strings.HasPrefix(rep.Err().Error(), "1 failure: "+c.want) {
				t.Errorf("Err() = %v", rep.Err())
			}
		})
	}
}

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := Run(ctx, failing{cancelOn: 16, cancel: cancel}, Config{Dir: fixtureBench, Sets: []string{"Tiny", "Broken"}, Scale: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if rep == nil || len(rep.Sets) != 1 || rep.Sets[0].Scored != 1 || len(rep.Sets[0].Images) != 1 || len(rep.Failures()) != 0 {
		t.Errorf("partial report %+v", rep)
	}
}

func TestRunConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		m    Method
		cfg  Config
	}{
		{"no method", nil, Config{Dir: fixtureBench, Sets: []string{"Tiny"}, Scale: 2}},
		{"no sets", Bicubic{}, Config{Dir: fixtureBench, Scale: 2}},
		{"scale 0", Bicubic{}, Config{Dir: fixtureBench, Sets: []string{"Tiny"}}},
	} {
		if _, err := Run(context.Background(), c.m, c.cfg); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestSaveDirUnwritable(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Bicubic{}, Config{Dir: fixtureBench, Sets: []string{"Tiny"}, Scale: 2, SaveDir: blocker})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Sets[0]
	if s.Scored != 2 || len(rep.Failures()) != 2 || s.Images[0].SaveErr == nil || !s.Images[0].Failed() {
		t.Errorf("save failures not reported: %v", rep.Failures())
	}
}

func TestEvaluateImage(t *testing.T) {
	hr := pattern(26, 23, false, 3)
	// With lr nil, the LR is made from HR; giving MakeLR's output is the same.
	a, sr, err := EvaluateImage(context.Background(), Bicubic{}, hr, nil, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := EvaluateImage(context.Background(), Bicubic{}, hr, mustLR(t, hr, 2), 2, 2)
	if err != nil || a != b {
		t.Errorf("%+v vs %+v (%v)", a, b, err)
	}
	if sr.Bounds().Dx() != 26 || sr.Bounds().Dy() != 22 {
		t.Errorf("SR size %v", sr.Bounds())
	}
	if _, _, err := EvaluateImage(context.Background(), Bicubic{}, hr, pattern(13, 12, false, 0), 2, 2); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("mismatch: %v", err)
	}
	if _, _, err := EvaluateImage(context.Background(), Bicubic{}, hr, nil, 0, 2); err == nil {
		t.Error("scale 0 accepted")
	}
	// Func adapts a function; identical output scores +Inf and 1.
	ident := Func{MethodName: "oracle", F: func(ctx context.Context, lr image.Image, s int) (image.Image, error) {
		return metrics.ModCrop(hr, s)
	}}
	sc, _, err := EvaluateImage(context.Background(), ident, hr, nil, 2, 2)
	if err != nil || !math.IsInf(sc.PSNR, 1) || sc.SSIM != 1 || ident.Name() != "oracle" {
		t.Errorf("oracle: %+v %v", sc, err)
	}
}

func TestWritePNGAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.png")
	img := pattern(9, 7, false, 1)
	for i := 0; i < 2; i++ { // second write replaces the first
		if err := WritePNG(p, img); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(resize.FromImage(back)) != fmt.Sprint(resize.FromImage(img)) {
		t.Error("PNG round trip changed the image")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d files in the folder, want 1", len(ents))
	}
	if err := WritePNG(filepath.Join(dir, "no/such/dir/x.png"), img); err == nil {
		t.Error("write into a missing folder succeeded")
	}
}

func TestListImages(t *testing.T) {
	got, err := ListImages(filepath.Join(fixtureBench, "Broken/HR"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, ",") != "corrupt.png,good.png,mismatch.png" {
		t.Errorf("ListImages = %v", names)
	}
	if _, err := ListImages(filepath.Join(fixtureBench, "nope")); err == nil {
		t.Error("missing folder listed")
	}
}
