package onnx

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
	pb "github.com/grformer/grformer/onnx/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// opset17 lists the default-domain operators the exporter may use; all are
// in opset 17 with the signatures used here.
var opset17 = map[string]bool{
	"Add": true, "Concat": true, "Conv": true, "DepthToSpace": true, "Div": true, "Equal": true,
	"Erf": true, "Gather": true, "GreaterOrEqual": true, "Identity": true, "LayerNormalization": true,
	"MatMul": true, "Max": true, "Mod": true, "Mul": true, "Range": true, "ReduceL2": true,
	"Relu": true, "Reshape": true, "Shape": true, "Sigmoid": true, "Slice": true, "Softmax": true,
	"Split": true, "Squeeze": true, "Sub": true, "Transpose": true, "Unsqueeze": true, "Where": true,
}

func tinyCase(t testing.TB) (model.Config, checkpoint.StateDict) {
	t.Helper()
	sd, err := checkpoint.Load("../testdata/golden/tiny_x2/weights.pth")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ConfigFrom(sd)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, sd
}

// TestGraphWellFormed checks the model without running it: version, opset,
// the dynamic input and output, topological order (every node input is a
// graph input, an initializer or an earlier node's output), only opset-17
// operators, unique names, and a byte-identical result on a second export.
func TestGraphWellFormed(t *testing.T) {
	cfg, sd := tinyCase(t)
	data, err := Marshal(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.GetIrVersion() != 8 || len(m.OpsetImport) != 1 || m.OpsetImport[0].GetDomain() != "" || m.OpsetImport[0].GetVersion() != 17 {
		t.Fatalf("IR %d, opsets %v: want IR 8 and opset 17 only", m.GetIrVersion(), m.OpsetImport)
	}
	g := m.GetGraph()
	dims := func(v *pb.ValueInfoProto) string {
		var s []string
		for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
			if p := d.GetDimParam(); p != "" {
				s = append(s, p)
			} else {
				s = append(s, string(rune('0'+d.GetDimValue())))
			}
		}
		return v.GetName() + "[" + strings.Join(s, ",") + "]"
	}
	if len(g.Input) != 1 || dims(g.Input[0]) != "input[N,3,H,W]" {
		t.Errorf("inputs %v, want input[N,3,H,W]", g.Input)
	}
	if len(g.Output) != 1 || dims(g.Output[0]) != "output[N,3,H*2,W*2]" {
		t.Errorf("outputs %v, want output[N,3,H*2,W*2]", g.Output)
	}
	defined := map[string]bool{"input": true}
	for _, init := range g.Initializer {
		if defined[init.GetName()] {
			t.Errorf("initializer %s defined twice", init.GetName())
		}
		defined[init.GetName()] = true
	}
	ops := map[string]int{}
	for _, n := range g.Node {
		ops[n.GetOpType()]++
		if n.GetDomain() != "" || !opset17[n.GetOpType()] {
			t.Errorf("node %s: operator %s.%s is not in the list of opset-17 operators", n.GetName(), n.GetDomain(), n.GetOpType())
		}
		for _, in := range n.Input {
			if !defined[in] {
				t.Fatalf("node %s (%s) reads %s before it is defined", n.GetName(), n.GetOpType(), in)
			}
		}
		for _, out := range n.Output {
			if defined[out] {
				t.Errorf("node %s redefines %s", n.GetName(), out)
			}
			defined[out] = true
		}
	}
	if !defined["output"] {
		t.Error("no node writes the graph output")
	}
	// tiny_x2: 2 groups of 2 blocks; one LayerNormalization per branch and
	// one at the end; a softmax per block.
	if ops["LayerNormalization"] != 9 || ops["Softmax"] != 4 || ops["DepthToSpace"] != 1 || ops["Erf"] != 8 {
		t.Errorf("op counts %v", ops)
	}
	again, err := Marshal(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Error("two exports of the same weights differ")
	}
}

// TestBadWeights: weights that model.New refuses are refused with its
// message, and WriteFile then leaves no file behind.
func TestBadWeights(t *testing.T) {
	cases := []struct {
		name string
		edit func(checkpoint.StateDict)
		want string
	}{
		{"missing", func(sd checkpoint.StateDict) { delete(sd, "layers.0.blocks.1.attn.q2.weight") }, "layers.0.blocks.1.attn.q2.weight"},
		{"shape", func(sd checkpoint.StateDict) {
			sd["norm.bias"] = checkpoint.NewF32([]int{3}, make([]float32, 3))
		}, "norm.bias"},
		{"unexpected", func(sd checkpoint.StateDict) {
			sd["extra.weight"] = checkpoint.NewF32([]int{1}, make([]float32, 1))
		}, "extra.weight"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, sd := tinyCase(t)
			c.edit(sd)
			path := filepath.Join(t.TempDir(), "m.onnx")
			err := WriteFile(path, cfg, sd)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %s", err, c.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s exists after a failed export (%v)", path, err)
			}
		})
	}
	cfg, sd := tinyCase(t)
	cfg.Scale = 3
	if _, err := Marshal(cfg, sd); err == nil || !strings.Contains(err.Error(), "upsample.0.weight") {
		t.Errorf("config x3 with x2 weights: error %v, want one naming upsample.0.weight", err)
	}
}

// variantCases are configurations beyond the golden ones: every attention
// projection and position bias, a window taller than wide (the shift larger
// than a flipped block's window), img_range 255, heads and depths that
// differ per group, an odd MLP ratio.
type variantCase struct {
	name    string
	cfg     model.Config
	n, h, w int // input size
}

func variantCases() []variantCase {
	base := func(proj model.AttnProj, bias model.PosBias) model.Config {
		return model.Config{InChans: 3, EmbedDim: 12, Depths: []int{4}, NumHeads: []int{3}, Window: [2]int{4, 8},
			MLPRatio: 2, Scale: 2, ImgRange: 1, Mean: model.DIV2KMean, ImgSize: 16, AttnProj: proj, PosBias: bias}
	}
	// Sizes that need padding, sides smaller than the pad (the reflection
	// repeats), a batch of 2, a single pixel.
	sizes := [][3]int{{1, 5, 11}, {2, 9, 3}, {1, 1, 1}, {1, 20, 35}}
	var out []variantCase
	add := func(name string, c model.Config) {
		s := sizes[len(out)%len(sizes)]
		out = append(out, variantCase{name, c, s[0], s[1], s[2]})
	}
	for _, p := range []model.AttnProj{model.ProjGRL, model.ProjQKV} {
		for _, b := range []model.PosBias{model.BiasESRPB, model.BiasCPBLog, model.BiasTable, model.BiasNone} {
			add(string(p)+"_"+string(b), base(p, b))
		}
	}
	// Window [16, 4]: blocks 2, 3 (mod 4) have window (4, 16) and shift
	// (8, 2), so the row slice [-4:-8] is empty and [-8:] overwrites part
	// of [0:-4]; [4, 16] does the same for columns, as the light model's
	// [8, 32] does.
	c := base("", "")
	c.Window, c.Scale = [2]int{16, 4}, 3
	add("window_16x4_x3", c)
	c.Window = [2]int{4, 16}
	add("window_4x16_x3", c)
	c = base("", "")
	c.EmbedDim, c.Depths, c.NumHeads, c.MLPRatio, c.ImgRange, c.Scale = 16, []int{2, 3}, []int{2, 4}, 1.5, 255, 4
	add("groups_range255_x4", c)
	out[len(out)-1].n, out[len(out)-1].h, out[len(out)-1].w = 1, 20, 35
	return out
}

// TestORTVariants runs every variant through ONNX Runtime and model.Forward
// on perturbed random weights.
func TestORTVariants(t *testing.T) {
	o := findORT(t)
	for vi, v := range variantCases() {
		t.Run(v.name, func(t *testing.T) {
			sd, err := model.InitStateDict(v.cfg, uint64(vi+1))
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(uint64(vi), 7))
			for _, k := range sd.Keys() { // sorted: the same weights every run
				ten := sd[k]
				for i := range ten.F32 {
					ten.F32[i] += float32(r.NormFloat64() * 0.1)
				}
			}
			m, err := model.New(v.cfg, sd)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "m.onnx")
			if err := WriteFile(path, v.cfg, sd); err != nil {
				t.Fatal(err)
			}
			n, h, w := v.n, v.h, v.w
			x := make([]float32, n*3*h*w)
			for i := range x {
				x[i] = r.Float32()
			}
			got, _ := o.run(t, path, x, n, 3, h, w, 1, 0)
			want, err := m.Forward(x, n, h, w, model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("ORT gives %d values, Go %d", len(got), len(want))
			}
			d, at := maxAbs(got, func(i int) float64 { return float64(want[i]) })
			t.Logf("%s %dx3x%dx%d: ORT vs Go max abs %.3g (at %d)", v.name, n, h, w, d, at)
			if d > 1e-4 {
				t.Errorf("ORT differs from Go by %.3g (tolerance 1e-4)", d)
			}
		})
	}
}

// TestONNXChecker runs the ONNX project's own checker (full check, strict
// shape and type inference) on exported graphs when python3 with the onnx
// package is there (Debian: python3-onnx); it skips otherwise.
func TestONNXChecker(t *testing.T) {
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import onnx").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("python3 with the onnx package not found (Debian: apt-get install python3-onnx): checker not run")
	}
	cfg, sd := tinyCase(t)
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "tiny_x2.onnx")}
	if err := WriteFile(paths[0], cfg, sd); err != nil {
		t.Fatal(err)
	}
	for _, v := range variantCases() {
		sd, err := model.InitStateDict(v.cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, v.name+".onnx")
		if err := WriteFile(p, v.cfg, sd); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	script := `import sys, onnx
for p in sys.argv[1:]:
    m = onnx.load(p)
    onnx.checker.check_model(m, full_check=True)
    onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
print("ok", len(sys.argv) - 1)`
	out, err := exec.Command(python, append([]string{"-c", script}, paths...)...).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok") {
		t.Fatalf("onnx checker: %v\n%s", err, out)
	}
	t.Logf("onnx checker: %s", bytes.TrimSpace(out))
}
