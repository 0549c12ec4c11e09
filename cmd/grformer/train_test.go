package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grformer/grformer/training"
)

func trainCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

func trWritePNG(t *testing.T, path string, w, h int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 3))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := func(k int) uint8 {
				return uint8(min(255, max(0, 128+int(70*math.Sin(float64(x*k+2*y)/6))+r.IntN(30)-15)))
			}
			m.SetNRGBA(x, y, color.NRGBA{R: v(1), G: v(2), B: v(3), A: 255})
		}
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, m); err != nil {
		t.Fatal(err)
	}
}

// trainFixture makes training images, a validation set and a config file
// for a tiny model with explicit milestones (so that runs of different
// lengths share a schedule).
func trainFixture(t *testing.T) (data, val, cfg string) {
	t.Helper()
	root := t.TempDir()
	data = filepath.Join(root, "train")
	for i := range 3 {
		trWritePNG(t, filepath.Join(data, "img"+string(rune('a'+i))+".png"), 36+4*i, 32, uint64(i))
	}
	val = filepath.Join(root, "Val")
	trWritePNG(t, filepath.Join(val, "HR", "v.png"), 20, 16, 9)
	cfg = filepath.Join(root, "tiny.yaml")
	os.WriteFile(cfg, []byte(`# tiny model for tests
scale: 2
batch: 4
patch: 8
lr: 1.0e-3
seed: 3
threads: 1
drop_path: 0.1
schedule: {milestones: [4], gamma: 0.5}
model:
  embed_dim: 8
  depths: [2]
  num_heads: [2]
  window: [4, 4]
  img_size: 8
`), 0o644)
	return data, val, cfg
}

func TestTrainCommandResumeExact(t *testing.T) {
	data, val, cfg := trainFixture(t)
	root := t.TempDir()
	common := []string{"-config", cfg, "-data", data, "-batch", "2", "-log-every", "2", "-save-every", "3", "-val", val, "-val-every", "3", "-ema", "0.9"}

	full := filepath.Join(root, "full")
	code, out := trainCmd(t, append([]string{"train", "-out", full, "-iters", "6"}, common...)...)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "validation PSNR") || !strings.Contains(out, "iter 6/6") {
		t.Errorf("output:\n%s", out)
	}
	// Flags override the file: batch 2, not the file's 4.
	st, err := training.ReadRun(full)
	if err != nil {
		t.Fatal(err)
	}
	if st.State.Config.Batch != 2 || st.State.Config.Patch != 8 || st.State.Model.EmbedDim != 8 || st.State.Iter != 6 {
		t.Errorf("saved config %+v, model %+v", st.State.Config, st.State.Model)
	}
	for _, f := range []string{"log.jsonl", "plot.png", "last.safetensors", "last_ema.safetensors", "state.json", "checkpoints/iter_3.safetensors", "checkpoints/iter_6_ema.safetensors"} {
		if _, err := os.Stat(filepath.Join(full, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}

	// Three iterations, then a resume to six: the same weights and log.
	half := filepath.Join(root, "half")
	if code, out := trainCmd(t, append([]string{"train", "-out", half, "-iters", "3"}, common...)...); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if code, out := trainCmd(t, "train", "-resume", half, "-iters", "6", "-log-every", "2", "-save-every", "3", "-val-every", "3", "-threads", "1"); code != 0 {
		t.Fatalf("resume: exit %d:\n%s", code, out)
	}
	for _, f := range []string{"last.safetensors", "last_ema.safetensors", "checkpoints/iter_6.safetensors"} {
		a, _ := os.ReadFile(filepath.Join(full, f))
		b, _ := os.ReadFile(filepath.Join(half, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the resumed and the uninterrupted run", f)
		}
	}
	la, _ := training.ReadLog(filepath.Join(full, "log.jsonl"))
	lb, _ := training.ReadLog(filepath.Join(half, "log.jsonl"))
	if len(la) != len(lb) {
		t.Fatalf("log lengths %d and %d", len(la), len(lb))
	}
	for i := range la {
		a, b := la[i], lb[i]
		if a.Iter != b.Iter || a.Loss != b.Loss || a.LR != b.LR || (a.ValPSNR == nil) != (b.ValPSNR == nil) || (a.ValPSNR != nil && *a.ValPSNR != *b.ValPSNR) {
			t.Errorf("log line %d: %+v vs %+v", i, a, b)
		}
	}
}

// Ctrl-C: the run stops cleanly with a resumable state, and the resumed run
// ends with the weights of an uninterrupted one.
func TestTrainCommandInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("sends SIGINT to the test process")
	}
	data, _, cfg := trainFixture(t)
	root := t.TempDir()
	dir := filepath.Join(root, "int")
	common := []string{"-config", cfg, "-data", data, "-log-every", "1", "-save-every", "1000"}
	done := make(chan struct{})
	var code int
	var out string
	go func() {
		defer close(done)
		code, out = trainCmd(t, append([]string{"train", "-out", dir, "-iters", "100000"}, common...)...)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(dir, "log.jsonl")); bytes.Count(b, []byte("\n")) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no log lines")
		}
		time.Sleep(5 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	<-done
	if code != 1 || !strings.Contains(out, "interrupted at iteration") || !strings.Contains(out, "grformer train -resume") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	saved, err := training.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	k := saved.State.Iter
	n := k + 3
	if code, out := trainCmd(t, "train", "-resume", dir, "-iters", strconv.Itoa(n), "-log-every", "1", "-save-every", "1000"); code != 0 {
		t.Fatalf("resume: exit %d:\n%s", code, out)
	}
	full := filepath.Join(root, "full")
	if code, out := trainCmd(t, append([]string{"train", "-out", full, "-iters", "100000"}, append(common, "-iters", strconv.Itoa(n))...)...); code != 0 {
		t.Fatalf("full run: exit %d:\n%s", code, out)
	}
	a, _ := os.ReadFile(filepath.Join(full, "last.safetensors"))
	b, _ := os.ReadFile(filepath.Join(dir, "last.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("interrupted at %d and resumed to %d: weights differ from an uninterrupted run", k, n)
	}
}

func TestTrainInitOtherScale(t *testing.T) {
	data, _, cfg := trainFixture(t)
	root := t.TempDir()
	x2 := filepath.Join(root, "x2")
	if code, out := trainCmd(t, "train", "-config", cfg, "-data", data, "-out", x2, "-iters", "1"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	x4 := filepath.Join(root, "x4")
	code, out := trainCmd(t, "train", "-config", cfg, "-data", data, "-out", x4, "-iters", "1", "-scale", "4", "-patch", "4",
		"-init", filepath.Join(x2, "last.safetensors"))
	if code != 0 || !strings.Contains(out, "upsample.0.bias, upsample.0.weight initialised fresh") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestTrainCommandErrors(t *testing.T) {
	data, _, cfg := trainFixture(t)
	root := t.TempDir()
	empty := filepath.Join(root, "empty")
	os.MkdirAll(empty, 0o755)
	badCfg := filepath.Join(root, "bad.yaml")
	os.WriteFile(badCfg, []byte("batchsize: 3\n"), 0o644)
	badInit := filepath.Join(root, "bad.pth")
	os.WriteFile(badInit, []byte("not a checkpoint"), 0o644)
	run := filepath.Join(root, "run")
	if code, out := trainCmd(t, "train", "-config", cfg, "-data", data, "-out", run, "-iters", "1"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no data", []string{"-scale", "2", "-iters", "1", "-out", filepath.Join(root, "a")}, 1, "need -data"},
		{"no scale", []string{"-data", data, "-iters", "1", "-out", filepath.Join(root, "a")}, 1, "need -scale"},
		{"no out", []string{"-data", data, "-scale", "2", "-iters", "1"}, 1, "need -out"},
		{"no iters", []string{"-data", data, "-scale", "2", "-out", filepath.Join(root, "a")}, 1, "need -iters"},
		{"missing data folder", []string{"-config", cfg, "-data", filepath.Join(root, "nope"), "-iters", "1", "-out", filepath.Join(root, "b")}, 1, "does not exist"},
		{"no images", []string{"-config", cfg, "-data", empty, "-iters", "1", "-out", filepath.Join(root, "c")}, 1, "no images"},
		{"unreadable config", []string{"-config", filepath.Join(root, "none.yaml"), "-data", data, "-iters", "1"}, 1, "none.yaml"},
		{"unknown config field", []string{"-config", badCfg, "-data", data, "-iters", "1"}, 1, "batchsize"},
		{"bad init", []string{"-config", cfg, "-data", data, "-iters", "1", "-out", filepath.Join(root, "d"), "-init", badInit}, 1, "bad.pth"},
		{"resume a plain folder", []string{"-resume", empty, "-iters", "5"}, 1, "not a training run folder"},
		{"resume without iters", []string{"-resume", run}, 1, "-resume needs -iters"},
		{"resume with batch", []string{"-resume", run, "-iters", "5", "-batch", "3"}, 1, "-batch cannot be changed"},
		{"resume a finished run", []string{"-resume", run, "-iters", "1"}, 1, "already at iteration 1"},
		{"over an existing run", []string{"-config", cfg, "-data", data, "-out", run, "-iters", "2"}, 1, "already holds a training run"},
		{"bad flag", []string{"-bogus"}, 2, "flag provided but not defined"},
		{"bad ema", []string{"-config", cfg, "-data", data, "-out", filepath.Join(root, "e"), "-iters", "1", "-ema", "1.5"}, 1, "EMA decay"},
		{"arguments", []string{"-config", cfg, "extra"}, 2, "unexpected arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := trainCmd(t, append([]string{"train"}, c.args...)...)
			if code != c.code || !strings.Contains(out, c.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, c.code, c.want, out)
			}
			if strings.Contains(out, "panic") {
				t.Fatalf("panic:\n%s", out)
			}
		})
	}
	if code, out := trainCmd(t, "train", "-h"); code != 0 || !strings.Contains(out, "drop_path") || !strings.Contains(out, "-resume RUNDIR") {
		t.Errorf("-h: exit %d\n%s", code, out)
	}
}
