package training

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func testRunConfig(dir string, ds *Dataset, val string) RunConfig {
	c := DefaultConfig()
	c.Dir, c.Dataset, c.Val = dir, ds, val
	c.Iters, c.Batch, c.Patch = 12, 2, 8
	c.LR, c.Seed, c.EMA, c.DropPath = 1e-2, 5, 0.9, 0.1
	c.LogEvery, c.SaveEvery, c.ValEvery = 2, 5, 6
	c.Schedule = Schedule{Kind: SchedMultiStep, Milestones: []int{4, 9}, Gamma: 0.5}
	c.Threads = 2
	return c
}

// comparable log fields (timings excluded).
type logKey struct {
	Iter       int
	Loss, LR   float64
	PSNR, SSIM float64
	Weights    string
}

func logKeys(t *testing.T, dir string) []logKey {
	t.Helper()
	es, err := ReadLog(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []logKey
	for _, e := range es {
		k := logKey{Iter: e.Iter, Loss: e.Loss, LR: e.LR, Weights: e.ValWeights, PSNR: math.NaN(), SSIM: math.NaN()}
		if e.ValPSNR != nil {
			k.PSNR, k.SSIM = *e.ValPSNR, *e.ValSSIM
		}
		out = append(out, k)
	}
	return out
}

// noTempFiles fails when a temporary file is left anywhere under dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// sameRun compares everything two run folders say about the weights.
func sameRun(t *testing.T, a, b string) {
	t.Helper()
	sa, err := ReadRun(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := ReadRun(b)
	if err != nil {
		t.Fatal(err)
	}
	if sa.State.Iter != sb.State.Iter || sa.State.AdamSteps != sb.State.AdamSteps || sa.State.LastLog != sb.State.LastLog ||
		sa.State.LossSum != sb.State.LossSum || sa.State.BestIter != sb.State.BestIter || sa.State.BestPSNR != sb.State.BestPSNR {
		t.Errorf("states differ:\n%+v\n%+v", sa.State, sb.State)
	}
	for _, x := range []struct {
		name   string
		da, db map[string][]float32
	}{{"weights", f32s(sa.Weights), f32s(sb.Weights)}, {"adam m", f32s(sa.M), f32s(sb.M)}, {"adam v", f32s(sa.V), f32s(sb.V)}, {"ema", f32s(sa.EMA), f32s(sb.EMA)}} {
		if len(x.da) == 0 || len(x.da) != len(x.db) {
			t.Fatalf("%s: %d vs %d tensors", x.name, len(x.da), len(x.db))
		}
		for k, va := range x.da {
			vb := x.db[k]
			for i := range va {
				if math.Float32bits(va[i]) != math.Float32bits(vb[i]) {
					t.Fatalf("%s %s[%d]: %v vs %v", x.name, k, i, va[i], vb[i])
				}
			}
		}
	}
	if ka, kb := logKeys(t, a), logKeys(t, b); !reflect.DeepEqual(fmtKeys(ka), fmtKeys(kb)) {
		t.Errorf("logs differ:\n%v\n%v", ka, kb)
	}
	for _, f := range []string{LastFile, LastEMAFile} {
		ba, _ := os.ReadFile(filepath.Join(a, f))
		bb, _ := os.ReadFile(filepath.Join(b, f))
		if len(ba) == 0 || !bytes.Equal(ba, bb) {
			t.Errorf("%s differs", f)
		}
	}
	ca, _ := os.ReadDir(filepath.Join(a, CheckpointDir))
	cb, _ := os.ReadDir(filepath.Join(b, CheckpointDir))
	if len(ca) == 0 || len(ca) != len(cb) {
		t.Fatalf("checkpoints: %d vs %d files", len(ca), len(cb))
	}
	for i := range ca {
		ba, _ := os.ReadFile(filepath.Join(a, CheckpointDir, ca[i].Name()))
		bb, _ := os.ReadFile(filepath.Join(b, CheckpointDir, cb[i].Name()))
		if ca[i].Name() != cb[i].Name() || !bytes.Equal(ba, bb) {
			t.Errorf("checkpoint %s / %s differs", ca[i].Name(), cb[i].Name())
		}
	}
}

// fmtKeys makes NaN comparable.
func fmtKeys(ks []logKey) []string {
	var out []string
	for _, k := range ks {
		out = append(out, strings.ReplaceAll(strings.TrimSpace(strings.Join([]string{
			itoa(k.Iter), ftoa(k.Loss), ftoa(k.LR), ftoa(k.PSNR), ftoa(k.SSIM), k.Weights}, " ")), "  ", " "))
	}
	return out
}

func TestRunResumeExact(t *testing.T) {
	trainDir := makeTrainDir(t)
	ds := loadTestDataset(t, trainDir, 2, 8)
	val := makeValDir(t)
	root := t.TempDir()

	// The uninterrupted run.
	full := filepath.Join(root, "full")
	fa := newFakeNet(t, 2, 1)
	res, err := Run(context.Background(), fa, testRunConfig(full, ds, val), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Iter != 12 || math.IsNaN(res.ValPSNR) || res.BestIter == 0 {
		t.Fatalf("result %+v", res)
	}
	if got := logKeys(t, full); len(got) != 6 || math.IsNaN(got[2].PSNR) || !math.IsNaN(got[3].PSNR) || got[5].Weights != "ema" {
		t.Fatalf("log (every 2, validated at 6 and 12): %v", got)
	}

	cases := []struct {
		name     string
		cancelAt int // Step number that cancels the context
		wantIter int // iteration the interrupted run saved
		wantDone int // last iteration whose validation/log/save completed
	}{
		{"between iterations", 7, 7, 7},
		{"during validation", 6, 6, 5},
		{"on a save iteration", 5, 5, 5},
		{"first iteration", 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, strings.ReplaceAll(c.name, " ", "_"))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fb := newFakeNet(t, 2, 1)
			fb.onStep = func(n int) {
				if n == c.cancelAt {
					cancel()
				}
			}
			_, err := Run(ctx, fb, testRunConfig(dir, ds, val), nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: error %v, want context.Canceled", err)
			}
			noTempFiles(t, dir)
			saved, err := ReadRun(dir)
			if err != nil {
				t.Fatal(err)
			}
			if saved.State.Iter != c.wantIter || saved.State.Done != c.wantDone {
				t.Fatalf("saved at iteration %d (done %d), want %d (%d)", saved.State.Iter, saved.State.Done, c.wantIter, c.wantDone)
			}

			// Resume with a network holding other weights: Run restores them.
			fc := newFakeNet(t, 2, 99)
			rc := testRunConfig(dir, ds, val)
			rc.Resume = true
			rc.Seed, rc.LR = 12345, 1 // ignored on resume: the saved ones rule
			if _, err := Run(context.Background(), fc, rc, nil); err != nil {
				t.Fatal(err)
			}
			sameRun(t, full, dir)
			// The drop-path seeds of both halves are those of the full run.
			if got := slices.Concat(fb.seeds, fc.seeds); !slices.Equal(got, fa.seeds) {
				t.Errorf("drop seeds %v, want %v", got, fa.seeds)
			}
			noTempFiles(t, dir)
		})
	}
}

func TestRunResumeTornLog(t *testing.T) {
	ds := loadTestDataset(t, makeTrainDir(t), 2, 8)
	root := t.TempDir()
	full := filepath.Join(root, "full")
	if _, err := Run(context.Background(), newFakeNet(t, 2, 1), testRunConfig(full, ds, ""), nil); err != nil {
		t.Fatal(err)
	}
	// A run stopped at iteration 7, whose log then got lines past the
	// state (as when a process is killed hard between checkpoints), the
	// last one torn.
	dir := filepath.Join(root, "killed")
	ctx, cancel := context.WithCancel(context.Background())
	f := newFakeNet(t, 2, 1)
	f.onStep = func(n int) {
		if n == 7 {
			cancel()
		}
	}
	if _, err := Run(ctx, f, testRunConfig(dir, ds, ""), nil); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	lf, _ := os.OpenFile(filepath.Join(dir, LogFile), os.O_APPEND|os.O_WRONLY, 0)
	lf.WriteString(`{"iter":8,"loss":0.5,"lr":0.01}` + "\n" + `{"iter":10,"lo`)
	lf.Close()
	cfg := testRunConfig(dir, ds, "")
	cfg.Resume = true
	if _, err := Run(context.Background(), newFakeNet(t, 2, 1), cfg, nil); err != nil {
		t.Fatal(err)
	}
	a, b := logKeys(t, full), logKeys(t, dir)
	if !reflect.DeepEqual(fmtKeys(a), fmtKeys(b)) || len(a) != 6 {
		t.Fatalf("logs differ:\n%v\n%v", a, b)
	}
	sameRun(t, full, dir)
}

func TestRunOutputs(t *testing.T) {
	trainDir := makeTrainDir(t)
	dir := filepath.Join(t.TempDir(), "run")
	cfg := testRunConfig(dir, nil, "")
	cfg.Data = []string{trainDir}
	cfg.Iters, cfg.EMA = 4, 0
	var events []string
	var warnings []string
	_, err := Run(context.Background(), newFakeNet(t, 2, 3), cfg, func(p Progress) {
		events = append(events, p.Event)
		if p.Event == EventWarning {
			warnings = append(warnings, p.Message)
		}
		if p.Event == EventStep && (p.Iters != 4 || p.LR <= 0 || p.Loss <= 0) {
			t.Errorf("bad step progress %+v", p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "e_small.png") {
		t.Errorf("warnings %q", warnings)
	}
	for _, e := range []string{EventLoad, EventStep, EventLog, EventSave} {
		if !slices.Contains(events, e) {
			t.Errorf("no %s event", e)
		}
	}
	for _, f := range []string{LogFile, PlotFile, LastFile, StateFile, StateJSON} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, LastEMAFile)); err == nil {
		t.Error("last_ema written without EMA")
	}
	es, err := ReadLog(filepath.Join(dir, LogFile))
	if err != nil || len(es) != 2 || es[0].Iter != 2 || es[1].Iter != 4 || es[0].Loss <= 0 || es[1].LR != 0.01 || es[0].ElapsedS <= 0 {
		t.Fatalf("log %+v %v", es, err)
	}
	noTempFiles(t, dir)
}

func TestRunErrors(t *testing.T) {
	ds := syntheticDataset(2, 12, 12)
	root := t.TempDir()
	done := filepath.Join(root, "done")
	if _, err := Run(context.Background(), newFakeNet(t, 2, 1), testRunConfig(done, ds, ""), nil); err != nil {
		t.Fatal(err)
	}
	notRun := filepath.Join(root, "plain")
	os.MkdirAll(notRun, 0o755)
	os.WriteFile(filepath.Join(notRun, "x.txt"), nil, 0o644)

	resume := func(dir string, iters int) RunConfig {
		c := testRunConfig(dir, ds, "")
		c.Resume, c.Iters = true, iters
		return c
	}
	cases := []struct {
		name string
		net  Trainable
		cfg  RunConfig
		want string
	}{
		{"fresh run over a run", newFakeNet(t, 2, 1), testRunConfig(done, ds, ""), "already holds a training run"},
		{"resume a plain folder", newFakeNet(t, 2, 1), resume(notRun, 20), "not a training run folder"},
		{"resume a missing folder", newFakeNet(t, 2, 1), resume(filepath.Join(root, "nope"), 20), "does not exist"},
		{"resume a finished run", newFakeNet(t, 2, 1), resume(done, 12), "already at iteration 12"},
		{"resume with another network", newFakeNet(t, 3, 1), resume(done, 20), "configuration differs"},
		{"scale mismatch", newFakeNet(t, 2, 1), func() RunConfig { c := testRunConfig(filepath.Join(root, "s"), ds, ""); c.Scale = 4; return c }(), "scale 4"},
		{"no iterations", newFakeNet(t, 2, 1), func() RunConfig { c := testRunConfig(filepath.Join(root, "i"), ds, ""); c.Iters = 0; return c }(), "iterations 0"},
		{"missing val folder", newFakeNet(t, 2, 1), testRunConfig(filepath.Join(root, "v"), ds, filepath.Join(root, "noval")), "validation folder"},
		{"missing data folder", newFakeNet(t, 2, 1), func() RunConfig {
			c := testRunConfig(filepath.Join(root, "d"), nil, "")
			c.Data = []string{filepath.Join(root, "nodata")}
			return c
		}(), "does not exist"},
		{"no network", nil, testRunConfig(filepath.Join(root, "n"), ds, ""), "no network"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(context.Background(), c.net, c.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}

	// A NaN loss stops the run without touching the last checkpoint.
	dir := filepath.Join(root, "nan")
	f := newFakeNet(t, 2, 1)
	f.nanAt = 7
	_, err := Run(context.Background(), f, testRunConfig(dir, ds, ""), nil)
	if err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN loss: error %v", err)
	}
	s, err := ReadRun(dir)
	if err != nil || s.State.Iter != 5 {
		t.Fatalf("after NaN: state %+v, %v", s, err)
	}
}

func TestRunResumeOtherData(t *testing.T) {
	ds := loadTestDataset(t, makeTrainDir(t), 2, 8)
	dir := filepath.Join(t.TempDir(), "run")
	cfg := testRunConfig(dir, ds, "")
	cfg.Iters = 2
	if _, err := Run(context.Background(), newFakeNet(t, 2, 1), cfg, nil); err != nil {
		t.Fatal(err)
	}
	other := &Dataset{Scale: 2, Pairs: ds.Pairs[1:]}
	cfg.Dataset, cfg.Resume, cfg.Iters = other, true, 3
	var warned []string
	if _, err := Run(context.Background(), newFakeNet(t, 2, 1), cfg, func(p Progress) {
		if p.Event == EventWarning {
			warned = append(warned, p.Message)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "training images differ") {
		t.Fatalf("warnings %q", warned)
	}
	// The same images give the same fingerprint.
	if ds.Fingerprint() != loadTestDataset(t, makeTrainDir(t), 2, 8).Fingerprint() || ds.Fingerprint() == other.Fingerprint() {
		t.Fatal("fingerprint")
	}
}
