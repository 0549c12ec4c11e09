package training

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
)

func TestParseConfig(t *testing.T) {
	cfg := DefaultConfig()
	yml := `
data: [/a, /b]
scale: 4
iters: 1000
lr: 1.0e-4
ema: 0.999
adam: {beta2: 0.999}
schedule:
  kind: cosine
  warmup: 10
model:
  embed_dim: 48
  depths: [2, 2]
  window: [4, 8]
`
	if err := ParseConfig([]byte(yml), &cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Data, []string{"/a", "/b"}) || cfg.Scale != 4 || cfg.Iters != 1000 || cfg.LR != 1e-4 || cfg.EMA != 0.999 {
		t.Errorf("parsed %+v", cfg)
	}
	// Fields the file does not set keep their defaults, nested ones too.
	if cfg.Batch != 16 || cfg.Patch != 64 || cfg.Adam.Beta1 != 0.9 || cfg.Adam.Beta2 != 0.999 || cfg.Adam.Eps != 1e-8 || cfg.Schedule.Gamma != 0.5 || cfg.Schedule.Kind != SchedCosine || cfg.Schedule.Warmup != 10 {
		t.Errorf("defaults lost: %+v", cfg)
	}
	mc, err := cfg.ModelConfig()
	if err != nil {
		t.Fatal(err)
	}
	if mc.EmbedDim != 48 || !slices.Equal(mc.Depths, []int{2, 2}) || !slices.Equal(mc.NumHeads, []int{3, 3}) || mc.Window != [2]int{4, 8} || mc.Scale != 4 || mc.MLPRatio != 2 {
		t.Errorf("model config %+v", mc)
	}
	// JSON is YAML too.
	c2 := DefaultConfig()
	if err := ParseConfig([]byte(`{"iters": 7, "batch": 4}`), &c2); err != nil || c2.Iters != 7 || c2.Batch != 4 {
		t.Errorf("JSON config: %+v %v", c2, err)
	}
	if err := ParseConfig(nil, &c2); err != nil {
		t.Errorf("empty config: %v", err)
	}

	for _, bad := range []struct{ text, want string }{
		{"iter: 5", "field iter not found"},
		{"batch: sixteen", "cannot unmarshal"},
		{"data: [", "yaml"},
		{"model: {window: [1, 2, 3]}", ""},
	} {
		c := DefaultConfig()
		c.Scale = 2
		err := ParseConfig([]byte(bad.text), &c)
		if err == nil {
			_, err = c.ModelConfig()
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.text, err, bad.want)
		}
	}
	dir := t.TempDir()
	if err := LoadConfigFile(filepath.Join(dir, "missing.yaml"), &cfg); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	if err := LoadConfigFile(dir, &cfg); err == nil {
		t.Error("a folder as config file: no error")
	}
	p := filepath.Join(dir, "bad.yaml")
	os.WriteFile(p, []byte("lr: [1"), 0o644)
	if err := LoadConfigFile(p, &cfg); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("bad file: %v", err)
	}
}

func TestWriteWeightsRoundTrip(t *testing.T) {
	f := newFakeNet(t, 2, 4)
	dir := t.TempDir()
	for _, name := range []string{"w.safetensors", "w.pth"} {
		p := filepath.Join(dir, name)
		if err := WriteWeights(p, f.cfg, f.params, nil); err != nil {
			t.Fatal(err)
		}
		sd, info, err := checkpoint.LoadWithInfo(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(sd) != len(f.params) {
			t.Fatalf("%s: %d tensors", name, len(sd))
		}
		for _, q := range f.params {
			if !reflect.DeepEqual(sd[q.Name].F32, q.Data) {
				t.Fatalf("%s: %s differs", name, q.Name)
			}
		}
		if name == "w.safetensors" && !strings.Contains(info.Metadata[ConfigMetaKey], `"EmbedDim":8`) {
			t.Errorf("metadata %v", info.Metadata)
		}
		if name == "w.pth" && info.Source != checkpoint.SourceParams {
			t.Errorf(".pth source %s", info.Source)
		}
	}
}

func TestInitWeights(t *testing.T) {
	c2, c4 := tinyConfig(2), tinyConfig(4)
	x2, err := model.InitStateDict(c2, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Fine-tune at the same scale: every parameter from init.
	sd, fresh, err := InitWeights(c2, 9, x2)
	if err != nil || len(fresh) != 0 {
		t.Fatalf("same scale: fresh %v, %v", fresh, err)
	}
	for k, v := range x2 {
		if !reflect.DeepEqual(sd[k].F32, v.F32) {
			t.Fatalf("%s not taken from init", k)
		}
	}
	// x2 -> x4: all but the upsampler.
	own, _ := model.InitStateDict(c4, 9)
	sd, fresh, err = InitWeights(c4, 9, x2)
	if err != nil || !slices.Equal(fresh, []string{"upsample.0.bias", "upsample.0.weight"}) {
		t.Fatalf("x2 -> x4: fresh %v, %v", fresh, err)
	}
	for k, v := range sd {
		want := x2[k]
		if strings.HasPrefix(k, "upsample.") {
			want = own[k]
		}
		if !reflect.DeepEqual(v.F32, want.F32) || !reflect.DeepEqual(v.Shape, want.Shape) {
			t.Fatalf("%s: wrong source", k)
		}
	}
	if _, err := model.New(c4, sd); err != nil {
		t.Fatal(err)
	}
	// Buffers in the init weights are fine.
	bufs, _ := model.Buffers(c2)
	withBufs := checkpoint.StateDict{}
	for k, v := range x2 {
		withBufs[k] = v
	}
	for k, v := range bufs {
		withBufs[k] = v
	}
	if _, _, err := InitWeights(c2, 9, withBufs); err != nil {
		t.Fatal(err)
	}
	// Mismatches are errors naming the key.
	wide := c2
	wide.EmbedDim = 16
	if _, _, err := InitWeights(wide, 1, x2); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("wider model: %v", err)
	}
	extra := checkpoint.StateDict{"bogus.weight": checkpoint.NewF32([]int{1}, []float32{1})}
	for k, v := range x2 {
		extra[k] = v
	}
	if _, _, err := InitWeights(c2, 1, extra); err == nil || !strings.Contains(err.Error(), "bogus.weight") {
		t.Errorf("unknown key: %v", err)
	}
	missing := checkpoint.StateDict{}
	for k, v := range x2 {
		if k != "norm.weight" {
			missing[k] = v
		}
	}
	if _, _, err := InitWeights(c2, 1, missing); err == nil || !strings.Contains(err.Error(), "norm.weight") {
		t.Errorf("missing key: %v", err)
	}
	otherWin := c2
	otherWin.Window = [2]int{4, 8}
	if _, _, err := InitWeights(otherWin, 1, withBufs); err == nil || !strings.Contains(err.Error(), "window") {
		t.Errorf("other window: %v", err)
	}
}

func TestWritePlot(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "plot.png")
	v := 30.5
	for _, entries := range [][]LogEntry{
		nil,
		{{Iter: 1, Loss: 0.1}},
		{{Iter: 1, Loss: 0.1}, {Iter: 2, Loss: 0.05, ValPSNR: &v}},
		{{Iter: 1, Loss: 0.1}, {Iter: 2, Loss: 0.05, ValPSNR: &v}, {Iter: 3, Loss: 0.04}, {Iter: 4, Loss: 0.03, ValPSNR: new(float64)}},
	} {
		if err := WritePlot(p, entries, "test"); err != nil {
			t.Fatalf("%d entries: %v", len(entries), err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Fatalf("plot: %v", err)
		}
	}
	noTempFiles(t, dir)
}

func TestValSet(t *testing.T) {
	val := makeValDir(t)
	vs, err := LoadValSet(val, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Images) != 2 {
		t.Fatalf("%d images", len(vs.Images))
	}
	f := newFakeNet(t, 2, 1)
	m, err := InferenceModel(f.cfg, f.params, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := vs.Evaluate(context.Background(), m, 1)
	if err != nil || res.Images != 2 || !(res.PSNR > 0) || !(res.SSIM > -1 && res.SSIM <= 1) {
		t.Fatalf("%+v %v", res, err)
	}
	// A plain folder of images works too.
	plain, err := LoadValSet(filepath.Join(val, "HR"), 2)
	if err != nil || len(plain.Images) != 2 {
		t.Fatalf("plain folder: %v", err)
	}
	if _, err := LoadValSet(t.TempDir(), 2); err == nil || !strings.Contains(err.Error(), "no PNG or JPEG") {
		t.Errorf("empty: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := vs.Evaluate(ctx, m, 1); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

func TestLogTicker(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (logTicker{}).Ticks(lo, hi) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	if got := labels(0.015, 0.4); !slices.Equal(got, []string{"0.02", "0.05", "0.1", "0.2"}) {
		t.Errorf("0.015..0.4: %v", got)
	}
	if got := labels(0.21, 0.37); len(got) < 2 {
		t.Errorf("0.21..0.37: %v", got)
	}
	if got := (logTicker{}).Ticks(0, 1); got != nil {
		t.Errorf("zero range start: %v", got)
	}
}
