package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grformer/grformer/weights"
)

// Paths from this package's directory.
const (
	testBenchmark = "../../../shared/datasets/benchmark"
	testFixtures  = "../../testdata/eval/bench"
)

// evalCmd runs "grformer eval args..." through the dispatcher and returns
// the exit status, stdout and stderr.
func evalCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"eval"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

type setJSON struct {
	Set        string   `json:"set"`
	Scale      int      `json:"scale"`
	PSNR       *float64 `json:"psnr"`
	SSIM       *float64 `json:"ssim"`
	Images     int      `json:"images"`
	CropBorder int      `json:"crop_border"`
}

func parseJSONLines(t *testing.T, s string) []setJSON {
	t.Helper()
	var out []setJSON
	dec := json.NewDecoder(strings.NewReader(s))
	for dec.More() {
		var v setJSON
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("bad JSON output %q: %v", s, err)
		}
		out = append(out, v)
	}
	return out
}

// TestEvalBicubicManifest runs "grformer eval -model bicubic -json -scale S"
// for S = 2, 3, 4 and compares with the BasicSR-convention figures in
// ../shared/datasets/MANIFEST.md (0.001 dB, 0.0001 SSIM). In -short mode
// B100 is left to the eval package's test of the same figures.
func TestEvalBicubicManifest(t *testing.T) {
	if _, err := os.Stat(testBenchmark); err != nil {
		t.Skipf("benchmark images not found at %s (../shared/datasets beside the repository): %v", testBenchmark, err)
	}
	want := map[string][2]float64{
		"Set5 2": {33.6734, 0.9303}, "Set14 2": {30.2302, 0.8691}, "B100 2": {29.5599, 0.8434},
		"Set5 3": {30.4033, 0.8689}, "Set14 3": {27.5367, 0.7745}, "B100 3": {27.2090, 0.7391},
		"Set5 4": {28.4290, 0.8111}, "Set14 4": {25.9940, 0.7029}, "B100 4": {25.9613, 0.6681},
	}
	images := map[string]int{"Set5": 5, "Set14": 14, "B100": 100}
	sets := "Set5,Set14,B100"
	if testing.Short() {
		sets = "Set5,Set14"
	}
	for _, s := range []int{2, 3, 4} {
		t.Run(fmt.Sprintf("x%d", s), func(t *testing.T) {
			code, out, errs := evalCmd(t, "-model", "bicubic", "-json", "-scale", fmt.Sprint(s), "-data", testBenchmark, "-sets", sets)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errs)
			}
			got := parseJSONLines(t, out)
			if len(got) != len(strings.Split(sets, ",")) {
				t.Fatalf("%d JSON objects:\n%s", len(got), out)
			}
			for _, g := range got {
				w := want[fmt.Sprintf("%s %d", g.Set, s)]
				t.Logf("%s x%d: %.4f/%.4f (MANIFEST %.4f/%.4f)", g.Set, s, *g.PSNR, *g.SSIM, w[0], w[1])
				if g.Scale != s || g.CropBorder != s || g.Images != images[g.Set] {
					t.Errorf("%+v", g)
				}
				if math.Abs(*g.PSNR-w[0]) > 0.001 || math.Abs(*g.SSIM-w[1]) > 0.0001 {
					t.Errorf("%s x%d: %.5f/%.5f, want %.4f/%.4f", g.Set, s, *g.PSNR, *g.SSIM, w[0], w[1])
				}
			}
			if n := strings.Count(errs, "PSNR"); n != 19 && n != 119 {
				t.Errorf("%d progress lines on stderr", n)
			}
		})
	}
}

func TestEvalTableAndFlags(t *testing.T) {
	save := t.TempDir()
	code, out, errs := evalCmd(t, "-model", "bicubic", "-data", testFixtures, "-sets", "Tiny", "-scale", "2,3", "-save", save)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	for _, want := range []string{
		"crop_border = scale",
		"| Set | Scale | PSNR (dB) | SSIM | Images | crop_border |",
		"| Tiny | x2 | 24.7376 | 0.8134 | 2 | 2 |",
		"| Tiny | x3 | ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"crop_border 2 (= scale)", "Tiny [1/2] color: PSNR 27.0251 dB", "Tiny [2/2] gray: PSNR 22.4500 dB", "(gray, 32x30, LR made from HR"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	for _, p := range []string{"Tiny/X2/color.png", "Tiny/X2/gray.png", "Tiny/X3/color.png", "Tiny/X3/gray.png"} {
		if _, err := os.Stat(filepath.Join(save, p)); err != nil {
			t.Errorf("SR output not saved: %v", err)
		}
	}

	// An explicit crop border is used and printed; -quiet drops progress.
	code, out, errs = evalCmd(t, "-model", "bicubic", "-data", testFixtures, "-sets", "Tiny", "-scale", "4", "-crop-border", "0", "-json", "-quiet")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	got := parseJSONLines(t, out)
	if len(got) != 1 || got[0].CropBorder != 0 || got[0].Scale != 4 || got[0].Images != 2 || got[0].Set != "Tiny" {
		t.Errorf("JSON %s", out)
	}
	if !strings.Contains(out, `"crop_border":0`) || !strings.Contains(out, `"set":"Tiny"`) {
		t.Errorf("JSON field names: %s", out)
	}
}

// Bad input: each problem is reported, the other images are scored, and the
// exit status is non-zero.
func TestEvalFailures(t *testing.T) {
	code, out, errs := evalCmd(t, "-model", "bicubic", "-data", testFixtures, "-sets", "Broken,Missing,Tiny", "-scale", "2", "-json")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	got := parseJSONLines(t, out)
	if len(got) != 3 || got[0].Images != 1 || got[1].Images != 0 || got[1].PSNR != nil || got[2].Images != 2 {
		t.Errorf("JSON:\n%s", out)
	}
	for _, want := range []string{
		"Broken [1/3] corrupt: FAILED: HR: decode ../../testdata/eval/bench/Broken/HR/corrupt.png",
		"Failures (3):",
		"Broken/mismatch (x2): HR/LR size mismatch: LR is 16x14, HR 32x30 (cropped to a multiple of 2) needs 16x15 (LR file ../../testdata/eval/bench/Broken/LR_bicubic/X2/mismatchx2.png)",
		"Missing (x2): no HR folder",
		"grformer eval: 2 of 5 images failed, 1 set(s) could not be read (listed above)",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	// The table marks incomplete sets.
	_, out, _ = evalCmd(t, "-model", "bicubic", "-data", testFixtures, "-sets", "Broken,Missing", "-scale", "2", "-quiet")
	for _, want := range []string{"| Broken | x2 | ", " | 1 of 3 | 2 |", "| Missing | x2 | – | – | failed | 2 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"shipped scale", []string{"-data", testFixtures, "-scale", "7"}, 1, "no shipped weights for x7"},
		{"both", []string{"-model", "bicubic", "-weights", "x.pth"}, 1, "not both"},
		{"unknown model", []string{"-model", "lanczos", "-data", testFixtures}, 1, `unknown -model "lanczos"`},
		{"bad scale", []string{"-model", "bicubic", "-scale", "two", "-data", testFixtures}, 1, `invalid -scale "two"`},
		{"bad crop", []string{"-model", "bicubic", "-crop-border", "-2", "-data", testFixtures}, 1, "invalid -crop-border -2"},
		{"missing data", []string{"-model", "bicubic", "-data", missing}, 1, "-data: stat " + missing},
		{"data is a file", []string{"-model", "bicubic", "-data", "eval_test.go"}, 1, "is not a folder"},
		{"empty sets", []string{"-model", "bicubic", "-data", testFixtures, "-sets", " , "}, 1, "-sets is empty"},
		{"missing weights", []string{"-weights", missing + ".pth", "-data", testFixtures}, 1, "nope.pth"},
		{"extra args", []string{"-model", "bicubic", "x"}, 2, "unexpected arguments"},
		{"bad flag", []string{"-frobnicate"}, 2, "flag provided but not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := evalCmd(t, c.args...)
			if code != c.code || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errs, c.code, c.want)
			}
		})
	}
	if code, out, errs := evalCmd(t, "-h"); code != 0 || !strings.Contains(out, "Usage: grformer eval") || errs != "" {
		t.Errorf("-h: exit %d, stdout %q, stderr %q (want the help on stdout)", code, out, errs)
	}
}

// The -weights path with the tiny random x2 model of the golden cases: the
// scores mean nothing, but the pipeline (scale check, gray images staying
// gray, saving) is exercised.
func TestEvalWeights(t *testing.T) {
	const tiny = "../../testdata/golden/tiny_x2/weights.pth"
	if _, err := os.Stat(tiny); err != nil {
		t.Skipf("tiny weights not found: %v", err)
	}
	save := t.TempDir()
	code, out, errs := evalCmd(t, "-weights", tiny, "-data", testFixtures, "-sets", "Tiny", "-json", "-save", save, "-threads", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	got := parseJSONLines(t, out)
	if len(got) != 1 || got[0].Scale != 2 || got[0].Images != 2 || got[0].CropBorder != 2 || got[0].PSNR == nil {
		t.Errorf("JSON %s", out)
	}
	if !strings.Contains(errs, "eval: weights.pth x2") || !strings.Contains(errs, "gray: PSNR") || !strings.Contains(errs, "(gray, 32x30") {
		t.Errorf("stderr:\n%s", errs)
	}
	for _, p := range []string{"Tiny/X2/color.png", "Tiny/X2/gray.png"} {
		if _, err := os.Stat(filepath.Join(save, p)); err != nil {
			t.Error(err)
		}
	}
	code, _, errs = evalCmd(t, "-weights", tiny, "-data", testFixtures, "-sets", "Tiny", "-scale", "3")
	if code != 1 || !strings.Contains(errs, "-scale 3 does not match the model, which upscales x2") {
		t.Errorf("scale mismatch: exit %d\n%s", code, errs)
	}
	code, _, errs = evalCmd(t, "-weights", tiny, "-data", testFixtures, "-threads", "-1")
	if code != 1 || !strings.Contains(errs, "invalid -threads -1") {
		t.Errorf("bad threads: exit %d\n%s", code, errs)
	}
}

// TestEvalShipped: grformer eval without -weights scores every shipped
// model, and reproduces the PSNR that package weights (and the README)
// state, within 0.01 dB: Set5 always, Set14 and B100 without -short.
func TestEvalShipped(t *testing.T) {
	if _, err := os.Stat(testBenchmark); err != nil {
		t.Skipf("no benchmark sets: %v", err)
	}
	sets := "Set5"
	if !testing.Short() {
		sets = "Set5,Set14,B100"
	}
	code, stdout, stderr := evalCmd(t, "-data", testBenchmark, "-sets", sets, "-json", "-quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := map[string]float64{}
	for _, r := range parseJSONLines(t, stdout) {
		if r.PSNR != nil {
			got[fmt.Sprintf("%s x%d", r.Set, r.Scale)] = *r.PSNR
		}
	}
	for _, s := range weights.Scales() {
		_, info, _ := weights.For(s)
		for _, c := range []struct {
			set  string
			want float64
		}{{"Set5", info.Set5}, {"Set14", info.Set14}, {"B100", info.B100}} {
			if !strings.Contains(sets, c.set) {
				continue
			}
			k := fmt.Sprintf("%s x%d", c.set, s)
			if g, ok := got[k]; !ok || math.Abs(g-c.want) > 0.01 {
				t.Errorf("%s: %.4f dB, weights.Info states %.2f", k, g, c.want)
			}
		}
	}
}
