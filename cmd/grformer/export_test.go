package main

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
)

const goldenTinyX2 = "../../testdata/golden/tiny_x2/weights.pth"

// exportCompare checks that got has exactly want's keys, shapes and dtypes,
// and want's values (buffers included).
func exportCompare(t *testing.T, got, want checkpoint.StateDict) {
	t.Helper()
	if g, w := got.Keys(), want.Keys(); !slices.Equal(g, w) {
		t.Fatalf("keys differ:\ngot  %v\nwant %v", g, w)
	}
	for k, w := range want {
		g := got[k]
		if !slices.Equal(g.Shape, w.Shape) || g.DType != w.DType {
			t.Fatalf("%s: %s %v, want %s %v", k, g.DType, g.Shape, w.DType, w.Shape)
		}
		if !slices.Equal(g.I64, w.I64) {
			t.Fatalf("%s: integer values differ", k)
		}
		for i := range w.F32 {
			if d := math.Abs(float64(g.F32[i] - w.F32[i])); d > 1e-6 || math.IsNaN(d) {
				t.Fatalf("%s[%d] = %v, want %v", k, i, g.F32[i], w.F32[i])
			}
		}
	}
}

// Exporting the parameters of the golden tiny_x2 case gives the full
// BasicSR checkpoint of the reference: same keys, shapes, dtypes, values.
func TestExportGoldenParity(t *testing.T) {
	golden, err := checkpoint.Load(goldenTinyX2)
	if err != nil {
		t.Skipf("golden checkpoint: %v", err)
	}
	cfg, err := model.ConfigFrom(golden)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// A params-only file without metadata: the architecture comes from
	// -config.
	paramsOnly := filepath.Join(dir, "params.safetensors")
	if err := checkpoint.WriteFile(paramsOnly, model.ParamsOnly(cfg, golden)); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "tiny.yaml")
	os.WriteFile(conf, []byte("model: {embed_dim: 16, depths: [2, 2], num_heads: [2, 2], window: [4, 8], img_size: 16}\n"), 0o644)
	for _, out := range []string{"x2.pth", "x2.safetensors"} {
		o := filepath.Join(dir, out)
		if code, msg := trainCmd(t, "export", "-weights", paramsOnly, "-config", conf, "-o", o); code != 0 {
			t.Fatalf("exit %d:\n%s", code, msg)
		}
		got, info, err := checkpoint.LoadWithInfo(o)
		if err != nil {
			t.Fatal(err)
		}
		if out == "x2.pth" && (info.Source != checkpoint.SourceParams || !slices.Equal(info.TopKeys, []string{"params"})) {
			t.Errorf(".pth top level %v (%s), want {'params': ...}", info.TopKeys, info.Source)
		}
		exportCompare(t, got, golden)
		if out == "x2.pth" {
			torchLoad(t, o, len(golden))
		}
	}
	// A full checkpoint needs no config: its buffers say the window.
	o := filepath.Join(dir, "again.pth")
	if code, msg := trainCmd(t, "export", "-weights", goldenTinyX2, "-o", o); code != 0 {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	got, _ := checkpoint.Load(o)
	exportCompare(t, got, golden)
	// -params-only drops the buffers.
	if code, msg := trainCmd(t, "export", "-weights", goldenTinyX2, "-params-only", "-o", o); code != 0 {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	got, _ = checkpoint.Load(o)
	exportCompare(t, got, model.ParamsOnly(cfg, golden))
}

// torchLoad checks the file with PyTorch when python3 and torch are there.
func torchLoad(t *testing.T, path string, n int) {
	t.Helper()
	if exec.Command("python3", "-c", "import torch").Run() != nil {
		t.Logf("python3 with torch not available: torch.load of %s not checked", filepath.Base(path))
		return
	}
	script := `import sys, torch
d = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
p = d["params"]
assert len(p) == int(sys.argv[2]), len(p)
for k, v in p.items():
    if k.endswith("relative_position_index"):
        assert v.dtype == torch.int64, k
    else:
        assert v.dtype == torch.float32, k
print("ok")`
	out, err := exec.Command("python3", "-c", script, path, strconv.Itoa(n)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("torch.load: %v\n%s", err, out)
	}
}

// A run folder exports with the configuration its files carry.
func TestExportRunFolder(t *testing.T) {
	data, _, cfg := trainFixture(t)
	run := filepath.Join(t.TempDir(), "run")
	if code, out := trainCmd(t, "train", "-config", cfg, "-data", data, "-out", run, "-iters", "1", "-ema", "0.5"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, ema := range []bool{false, true} {
		o := filepath.Join(t.TempDir(), "m.pth")
		args := []string{"export", "-weights", run, "-o", o}
		if ema {
			args = append(args, "-ema")
		}
		if code, out := trainCmd(t, args...); code != 0 || !strings.Contains(out, "window [4 4]") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		sd, err := checkpoint.Load(o)
		if err != nil {
			t.Fatal(err)
		}
		mcfg := model.Config{InChans: 3, EmbedDim: 8, Depths: []int{2}, NumHeads: []int{2}, Window: [2]int{4, 4}, MLPRatio: 2, Scale: 2, ImgRange: 1, Mean: model.DIV2KMean, ImgSize: 8}
		if _, err := model.New(mcfg, sd); err != nil {
			t.Fatal(err)
		}
		if _, ok := sd["layers.0.blocks.1.attn_mask"]; !ok {
			t.Fatal("no attn_mask buffer")
		}
		// -img-size changes the mask.
		if code, out := trainCmd(t, append(args, "-img-size", "16")...); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		sd, _ = checkpoint.Load(o)
		if s := sd["layers.0.blocks.1.attn_mask"].Shape; s[0] != 16 {
			t.Fatalf("attn_mask shape %v for img_size 16", s)
		}
	}
}

func TestExportErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pth")
	os.WriteFile(junk, []byte("junk"), 0o644)
	notGRF := filepath.Join(dir, "other.safetensors")
	checkpoint.WriteFile(notGRF, checkpoint.StateDict{"fc.weight": checkpoint.NewF32([]int{1}, []float32{1})})
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no flags", nil, 1, "need -weights"},
		{"bad extension", []string{"-weights", goldenTinyX2, "-o", filepath.Join(dir, "x.bin")}, 1, "want a .pth or .safetensors"},
		{"missing weights", []string{"-weights", filepath.Join(dir, "none.pth"), "-o", filepath.Join(dir, "x.pth")}, 1, "none.pth"},
		{"corrupt weights", []string{"-weights", junk, "-o", filepath.Join(dir, "x.pth")}, 1, "junk.pth"},
		{"not GRFormer", []string{"-weights", notGRF, "-o", filepath.Join(dir, "x.pth")}, 1, "not a GRFormer checkpoint"},
		{"ema without run", []string{"-weights", goldenTinyX2, "-ema", "-o", filepath.Join(dir, "x.pth")}, 1, "-ema needs"},
		{"config mismatch", []string{"-weights", goldenTinyX2, "-config", "/nonexistent.yaml", "-o", filepath.Join(dir, "x.pth")}, 1, "nonexistent.yaml"},
		{"bad flag", []string{"-x"}, 2, "not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := trainCmd(t, append([]string{"export"}, c.args...)...)
			if code != c.code || !strings.Contains(out, c.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, c.code, c.want, out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.pth")); err == nil {
		t.Error("an output was written by a failed export")
	}
}

func TestExportGuessWarns(t *testing.T) {
	golden, err := checkpoint.Load(goldenTinyX2)
	if err != nil {
		t.Skipf("golden checkpoint: %v", err)
	}
	cfg, _ := model.ConfigFrom(golden)
	dir := t.TempDir()
	p := filepath.Join(dir, "p.pth")
	checkpoint.WriteFile(p, model.ParamsOnly(cfg, golden))
	code, out := trainCmd(t, "export", "-weights", p, "-o", filepath.Join(dir, "o.pth"))
	if code != 0 || !strings.Contains(out, "assuming [8 32]") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestExportShipped: -weights shipped exports the shipped weights, which
// load back to the same parameters.
func TestExportShipped(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x2.pth")
	if code, _, stderr := runCmd(t, "export", "-weights", "shipped", "-scale", "2", "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := checkpoint.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	want, _, _, err := shippedStateDict(2)
	if err != nil {
		t.Fatal(err)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !slices.Equal(g.F32, w.F32) {
			t.Fatalf("%s differs after export", k)
		}
	}
	if code, _, stderr := runCmd(t, "export", "-weights", "shipped", "-scale", "9", "-o", out+"9.pth"); code == 0 || !strings.Contains(stderr, "no shipped weights for x9") {
		t.Errorf("-scale 9: exit %d, %s", code, stderr)
	}
}
