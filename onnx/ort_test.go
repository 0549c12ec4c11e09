package onnx

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/internal/npy"
	"github.com/grformer/grformer/model"
)

// The parity tests run the exported graphs with onnxruntime-node through
// testdata/ort/run.js. Install it once with
//
//	ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix onnx/testdata/ort
//
// (or point GRFORMER_ORT_DIR at a folder whose node_modules holds
// onnxruntime-node). Without node or the package the tests skip.

const installHint = "install it with ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix onnx/testdata/ort (or set GRFORMER_ORT_DIR to a folder with node_modules/onnxruntime-node)"

// ort is a usable node + onnxruntime-node.
type ort struct {
	node, script string
	env          []string
}

func findORT(t testing.TB) *ort {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found: the ONNX Runtime parity check needs node and onnxruntime-node: " + installHint)
	}
	script, err := filepath.Abs("testdata/ort/run.js")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(script)
	if d := os.Getenv("GRFORMER_ORT_DIR"); d != "" {
		dir = d
	}
	o := &ort{node: node, script: script,
		env: append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))}
	cmd := exec.Command(node, "-e", "require.resolve('onnxruntime-node')")
	cmd.Env = o.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("onnxruntime-node not installed (%v: %s): %s", err, firstLine(out), installHint)
	}
	return o
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// ortResult is what run.js prints.
type ortResult struct {
	Dims   []int     `json:"dims"`
	Ms     []float64 `json:"ms"`
	CPUMs  []float64 `json:"cpu_ms"`
	LoadMs float64   `json:"load_ms"`
}

// run runs the model file on x [n, c, h, w] repeats times with the given
// intra-op threads (0: ONNX Runtime's default) and returns the output.
func (o *ort) run(t testing.TB, modelPath string, x []float32, n, c, h, w, repeats, threads int) ([]float32, ortResult) {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.f32"), filepath.Join(dir, "out.f32")
	if err := os.WriteFile(in, f32Bytes(x), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{o.script, modelPath, in}
	for _, v := range []int{n, c, h, w} {
		args = append(args, fmt.Sprint(v))
	}
	args = append(args, out, fmt.Sprint(repeats), fmt.Sprint(threads))
	cmd := exec.Command(o.node, args...)
	cmd.Env = o.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("onnxruntime-node: %v\n%s", err, stderr.String())
	}
	var res ortResult
	if err := json.Unmarshal(bytes.TrimSpace(stdout), &res); err != nil {
		t.Fatalf("run.js printed %q: %v", stdout, err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(raw)/4)
	for i := range y {
		y[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return y, res
}

func f32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// goldenCase is one forward case of the reference's golden tensors.
type goldenCase struct {
	name, dir, weights string
	long               bool // skipped with -short
}

const sharedGolden = "../../shared/golden"

var goldenCases = []goldenCase{
	{"tiny_x2", "../testdata/golden/tiny_x2", "weights.pth", false},
	{"tiny_x3", "../testdata/golden/tiny_x3", "weights.pth", false},
	{"tiny_x4", "../testdata/golden/tiny_x4", "weights.safetensors", false},
	{"dev_x2", sharedGolden + "/dev_x2", "weights_slim.safetensors", false},
	{"dev_x3", sharedGolden + "/dev_x3", "weights_slim.pth", true},
	{"dev_x4_a", sharedGolden + "/dev_x4_a", "weights_slim.pth", true},
	{"dev_x4_b", sharedGolden + "/dev_x4_b", "weights_slim.pth", true},
}

// loadCase returns the case's configuration, weights, input and reference
// output (float64), or skips when a shared case is absent.
func loadCase(t testing.TB, c goldenCase) (model.Config, checkpoint.StateDict, *npy.Array, []float64) {
	t.Helper()
	if _, err := os.Stat(c.dir); err != nil {
		t.Skipf("%s absent: %v", c.dir, err)
	}
	sd, err := checkpoint.Load(filepath.Join(c.dir, c.weights))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ConfigFrom(sd)
	if err != nil {
		t.Fatal(err)
	}
	in, err := npy.ReadFile(filepath.Join(c.dir, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(c.dir, "output_f64.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, sd, in, want.Data
}

func maxAbs(got []float32, want func(int) float64) (float64, int) {
	worst, at := 0.0, -1
	for i, g := range got {
		d := math.Abs(float64(g) - want(i))
		if math.IsNaN(d) {
			return math.Inf(1), i
		}
		if d > worst {
			worst, at = d, i
		}
	}
	return worst, at
}

// TestORTGolden exports each golden case's weights, runs the graph in ONNX
// Runtime and compares with the reference's float64 output and with
// model.Forward: max abs <= 1e-4 for both.
func TestORTGolden(t *testing.T) {
	o := findORT(t)
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			if c.long && testing.Short() {
				t.Skip("light case: skipped with -short")
			}
			cfg, sd, in, want := loadCase(t, c)
			path := filepath.Join(t.TempDir(), "model.onnx")
			if err := WriteFile(path, cfg, sd); err != nil {
				t.Fatal(err)
			}
			n, ch, h, w := in.Shape[0], in.Shape[1], in.Shape[2], in.Shape[3]
			x := in.Float32()
			got, res := o.run(t, path, x, n, ch, h, w, 1, 0)
			s := cfg.Scale
			if wantDims := []int{n, ch, h * s, w * s}; fmt.Sprint(res.Dims) != fmt.Sprint(wantDims) {
				t.Fatalf("ORT output dims %v, want %v", res.Dims, wantDims)
			}
			if len(got) != len(want) {
				t.Fatalf("ORT output has %d values, the reference %d", len(got), len(want))
			}
			m, err := model.New(cfg, sd)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := m.Forward(x, n, h, w, model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			dRef, at := maxAbs(got, func(i int) float64 { return want[i] })
			dGo, atGo := maxAbs(got, func(i int) float64 { return float64(ours[i]) })
			t.Logf("%s: %dx%dx%dx%d x%d: ORT vs reference f64 max abs %.3g (at %d), ORT vs Go %.3g (at %d)",
				c.name, n, ch, h, w, s, dRef, at, dGo, atGo)
			if dRef > 1e-4 || dGo > 1e-4 {
				t.Errorf("ORT output differs: vs reference %.3g, vs Go %.3g (tolerance 1e-4)", dRef, dGo)
			}
		})
	}
}
