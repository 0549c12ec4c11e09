package main

import (
	"archive/zip"
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/internal/npy"
)

const tinyDir = "../../testdata/golden"

// runCmd runs the grformer command line in-process.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// writePNG writes the first image of a golden NCHW input as a PNG of the
// given depth.
func writeGoldenPNG(t *testing.T, path, npyPath string, depth int) (h, w int) {
	t.Helper()
	a, err := npy.ReadFile(npyPath)
	if err != nil {
		t.Fatal(err)
	}
	h, w = a.Shape[2], a.Shape[3]
	img := imageio.NewImage(w, h, false, false, depth)
	copy(img.Pix, a.Float32()[:3*h*w])
	if err := imageio.WriteFile(path, img, imageio.EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	return h, w
}

// TestUpscalePNG runs 8- and 16-bit PNGs through the command and checks the
// output against the model run in-process (exactly) and, for 16 bits,
// against the reference's float64 output (the 16-bit input differs from the
// float input by at most 1/131070).
func TestUpscalePNG(t *testing.T) {
	for _, tc := range []struct {
		caseName string
		depth    int
	}{{"tiny_x2", 8}, {"tiny_x2", 16}, {"tiny_x3", 8}, {"tiny_x3", 16}} {
		t.Run(tc.caseName+"_"+map[int]string{8: "8bit", 16: "16bit"}[tc.depth], func(t *testing.T) {
			dir := t.TempDir()
			cdir := filepath.Join(tinyDir, tc.caseName)
			in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.png")
			h, w := writeGoldenPNG(t, in, filepath.Join(cdir, "input.npy"), tc.depth)
			weights := filepath.Join(cdir, "weights.pth")
			// -border-context -1: exactly the reference's forward pass.
			if code, _, stderr := runCmd(t, "upscale", "-border-context", "-1", "-weights", weights, in, out); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := grformer.Load(weights)
			if err != nil {
				t.Fatal(err)
			}
			s := m.Scale()
			if b := got.Bounds(); b.Dx() != w*s || b.Dy() != h*s {
				t.Fatalf("output %v, want %dx%d", b, w*s, h*s)
			}
			is16 := false
			switch got.(type) {
			case *image.RGBA64, *image.NRGBA64:
				is16 = true
			}
			if is16 != (tc.depth == 16) {
				t.Fatalf("output is %T for a %d-bit input", got, tc.depth)
			}
			src, err := imageio.ReadFile(in, imageio.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want, err := m.UpscalePlanar(context.Background(), src.Pix, h, w, grformer.Options{BorderContext: grformer.NoBorderContext})
			if err != nil {
				t.Fatal(err)
			}
			levels := float64(255)
			if tc.depth == 16 {
				levels = 65535
			}
			ref, _ := npy.ReadFile(filepath.Join(cdir, "output_f64.npy"))
			oh, ow := h*s, w*s
			worstRef := 0.0
			for c := range 3 {
				for y := range oh {
					for x := range ow {
						r, g, b, _ := got.At(x, y).RGBA()
						v := float64([]uint32{r, g, b}[c]) / 65535
						wv := math.Floor(float64(want[(c*oh+y)*ow+x])*levels+0.5) / levels
						if math.Abs(v-wv) > 1e-9 {
							t.Fatalf("pixel (%d,%d,%d) = %v, in-process model gives %v", x, y, c, v, wv)
						}
						rv := min(max(ref.Data[(c*oh+y)*ow+x], 0), 1)
						worstRef = max(worstRef, math.Abs(v-rv))
					}
				}
			}
			t.Logf("max abs difference from the reference output: %.3g", worstRef)
			if tc.depth == 16 && worstRef > 1e-4 {
				t.Errorf("16-bit output differs from the reference by %.3g > 1e-4", worstRef)
			}
		})
	}
}

// badCheckpoints makes the malformed weights files of the bad-input tests.
func badCheckpoints(t *testing.T, dir string) map[string]string {
	t.Helper()
	good := filepath.Join(tinyDir, "tiny_x2", "weights.pth")
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	put := func(name string, b []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = p
	}
	put("truncated.pth", raw[:len(raw)/2])

	// A zip checkpoint whose pickle asks for os.system.
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for name, body := range map[string]string{
		"archive/data.pkl": "\x80\x02cos\nsystem\nq\x00X\x08\x00\x00\x00echo hi!q\x01\x85q\x02Rq\x03.",
		"archive/version":  "3\n",
	} {
		fw, _ := zw.Create(name)
		fw.Write([]byte(body))
	}
	zw.Close()
	put("evil.pth", zb.Bytes())

	sd, err := checkpoint.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	// Another architecture: SwinIR-style keys.
	other := checkpoint.StateDict{
		"conv_first.weight": checkpoint.NewF32([]int{16, 3, 3, 3}, make([]float32, 16*27)),
		"conv_first.bias":   checkpoint.NewF32([]int{16}, make([]float32, 16)),
		"layers.0.residual_group.blocks.0.attn.qkv.weight": checkpoint.NewF32([]int{48, 16}, make([]float32, 48*16)),
	}
	p := filepath.Join(dir, "swinir.safetensors")
	if err := checkpoint.WriteFile(p, other); err != nil {
		t.Fatal(err)
	}
	files["swinir.safetensors"] = p

	// A wrong shape.
	w := sd["layers.0.blocks.1.mlp.fc1.weight"]
	sd["layers.0.blocks.1.mlp.fc1.weight"] = checkpoint.NewF32([]int{w.Shape[1], w.Shape[0]}, w.F32)
	p = filepath.Join(dir, "wrongshape.safetensors")
	if err := checkpoint.WriteFile(p, sd); err != nil {
		t.Fatal(err)
	}
	files["wrongshape.safetensors"] = p
	return files
}

func TestUpscaleBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := badCheckpoints(t, dir)
	good := filepath.Join(tinyDir, "tiny_x2", "weights.pth")
	in := filepath.Join(dir, "in.png")
	writeGoldenPNG(t, in, filepath.Join(tinyDir, "tiny_x2", "input.npy"), 8)
	corrupt := filepath.Join(dir, "corrupt.png")
	raw, _ := os.ReadFile(in)
	os.WriteFile(corrupt, raw[:len(raw)*2/3], 0o644)
	notPNG := filepath.Join(dir, "text.png")
	os.WriteFile(notPNG, []byte("hello, not an image"), 0o644)

	for _, tc := range []struct {
		name    string
		args    []string
		out     string
		wantErr []string // substrings of stderr
	}{
		{"truncated pth", []string{"-weights", bad["truncated.pth"], in}, "o1.png", []string{"truncated.pth"}},
		{"pickle global", []string{"-weights", bad["evil.pth"], in}, "o2.png", []string{"os", "system", "not allowed"}},
		{"other architecture", []string{"-weights", bad["swinir.safetensors"], in}, "o3.png", []string{"swinir.safetensors", "missing key layers.0.blocks.0", "not a GRFormer checkpoint"}},
		{"wrong shape", []string{"-weights", bad["wrongshape.safetensors"], in}, "o4.png", []string{"layers.0.blocks.1.mlp.fc1.weight", "[16 32]", "[32 16]"}},
		{"missing weights", []string{"-weights", filepath.Join(dir, "nope.pth"), in}, "o5.png", []string{"nope.pth"}},
		{"corrupt png", []string{"-weights", good, corrupt}, "o6.png", []string{"corrupt.png"}},
		{"not an image", []string{"-weights", good, notPNG}, "o7.png", []string{"text.png"}},
		{"scale disagrees", []string{"-weights", good, "-scale", "4", in}, "o8.png", []string{"-scale 4", "x2 model"}},
		{"unwritable output", []string{"-weights", good, in}, "no/such/dir/out.png", []string{"out.png"}},
		{"unknown output format", []string{"-weights", good, in}, "o9.gif", []string{"o9.gif"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.out)
			code, _, stderr := runCmd(t, append(append([]string{"upscale"}, tc.args...), out)...)
			if code == 0 {
				t.Fatalf("exit 0, want an error")
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr %q does not mention %q", stderr, s)
				}
			}
			if strings.Contains(stderr, "panic") {
				t.Errorf("panicked: %s", stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("output %s exists after a failure", out)
			}
		})
	}
	// Nothing but the fixtures may remain: no temporary outputs.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "o") || strings.Contains(n, ".tmp") {
			t.Errorf("left behind: %s", n)
		}
	}
}

func TestUpscaleFlags(t *testing.T) {
	if code, _, _ := runCmd(t, "upscale"); code == 0 {
		t.Error("no arguments: exit 0")
	}
	if code, _, _ := runCmd(t, "upscale", "-bogus"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	code, stdout, stderr := runCmd(t, "upscale", "-h")
	if code != 0 || !strings.Contains(stdout, "Example:") || !strings.Contains(stdout, "-weights") || stderr != "" {
		t.Errorf("-h: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, _, _ := runCmd(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// TestUpscaleShippedWeights: without -weights the shipped x4 weights run
// (-scale 2: the x2 ones); a scale without shipped weights is a clear
// error.
func TestUpscaleShippedWeights(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.png")
	writeGoldenPNG(t, in, filepath.Join(tinyDir, "tiny_x2", "input.npy"), 8)
	out := filepath.Join(dir, "out.png")
	if code, _, stderr := runCmd(t, "upscale", in, out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	img, err := imageio.ReadFile(out, imageio.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img.W != 76 || img.H != 52 {
		t.Errorf("output %dx%d, want 76x52 (x4)", img.W, img.H)
	}
	out2 := filepath.Join(dir, "out2.png")
	if code, _, stderr := runCmd(t, "upscale", "-scale", "2", in, out2); code != 0 {
		t.Fatalf("-scale 2: exit %d: %s", code, stderr)
	}
	if img, err := imageio.ReadFile(out2, imageio.DecodeOptions{}); err != nil || img.W != 38 || img.H != 26 {
		t.Errorf("-scale 2: %v, want 38x26", err)
	}
	code, _, stderr := runCmd(t, "upscale", "-scale", "5", in, filepath.Join(dir, "out5.png"))
	if code == 0 || !strings.Contains(stderr, "no shipped weights for x5") {
		t.Errorf("-scale 5 without weights: exit %d, %q", code, stderr)
	}
}

// TestUpscaleStreamed: without -outscale the command writes the result as
// it is computed; the file is byte for byte the buffered result written
// by imageio.WriteFile, for PNG (8 and 16 bits, gray, alpha) and JPEG.
// And a budget too small for the whole float32 result but enough for
// the streamed bands works.
func TestUpscaleStreamed(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(tinyDir, "tiny_x2", "weights.pth")
	m, err := grformer.Load(weights)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		gray, alpha bool
		depth       int
		ext         string
	}{
		{"rgb8", false, false, 8, ".png"}, {"rgba16", false, true, 16, ".png"},
		{"gray16", true, false, 16, ".png"}, {"graya8", true, true, 8, ".jpg"}, {"rgb8", false, false, 8, ".jpg"},
	} {
		t.Run(tc.name+tc.ext, func(t *testing.T) {
			img := imageio.NewImage(61, 47, tc.gray, tc.alpha, tc.depth)
			for i := range img.Pix {
				img.Pix[i] = float32((i*7919)%1000) / 999
			}
			for i := range img.Alpha {
				img.Alpha[i] = float32(i%9) / 8
			}
			in, out, ref := filepath.Join(dir, tc.name+".png"), filepath.Join(dir, "out"+tc.ext), filepath.Join(dir, "ref"+tc.ext)
			if err := imageio.WriteFile(in, img, imageio.EncodeOptions{}); err != nil {
				t.Fatal(err)
			}
			if code, _, stderr := runCmd(t, "upscale", "-weights", weights, "-tile", "32", "-tile-overlap", "2", in, out); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			src, err := imageio.ReadFile(in, imageio.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.UpscaleImage(context.Background(), src, grformer.Options{Tile: 32, TileOverlap: 2})
			if err != nil {
				t.Fatal(err)
			}
			if err := imageio.WriteFile(ref, res, imageio.EncodeOptions{}); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(out)
			b, _ := os.ReadFile(ref)
			if !bytes.Equal(a, b) {
				t.Errorf("streamed file (%d bytes) differs from the buffered one (%d bytes)", len(a), len(b))
			}
		})
	}

	t.Run("budget", func(t *testing.T) {
		img := imageio.NewImage(400, 300, false, false, 8)
		for i := range img.Pix {
			img.Pix[i] = float32(i%251) / 250
		}
		in, out := filepath.Join(dir, "big.png"), filepath.Join(dir, "big_x2.png")
		if err := imageio.WriteFile(in, img, imageio.EncodeOptions{}); err != nil {
			t.Fatal(err)
		}
		// The float32 result alone is 5.5 MiB, over 80% of the budget.
		if code, _, stderr := runCmd(t, "upscale", "-weights", weights, "-max-memory", "6MiB", "-tile-overlap", "8", "-threads", "1", in, out); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if cfg, err := imageio.ReadFile(out, imageio.DecodeOptions{}); err != nil || cfg.W != 800 || cfg.H != 600 {
			t.Fatalf("output: %v", err)
		}
	})
}
