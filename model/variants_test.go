package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/grformer/grformer/checkpoint"
)

// smallCfg is a fast configuration for variant tests.
func smallCfg(proj AttnProj, bias PosBias) Config {
	return Config{InChans: 3, EmbedDim: 12, Depths: []int{4}, NumHeads: []int{3}, Window: [2]int{4, 8},
		MLPRatio: 2, Scale: 2, ImgRange: 1, Mean: DIV2KMean, ImgSize: 16, AttnProj: proj, PosBias: bias}
}

func randInput(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

func forward(t *testing.T, cfg Config, sd checkpoint.StateDict, h, w int) []float32 {
	t.Helper()
	m, err := New(cfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward(randInput(uint64(h*w), 3*h*w), 1, h, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// perturb makes random-init weights less trivial (biases zero, LayerNorm 1).
func perturb(sd checkpoint.StateDict, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 5))
	for _, t := range sd {
		for i := range t.F32 {
			t.F32[i] += float32(r.NormFloat64() * 0.05)
		}
	}
}

// TestVariantsBuildAndRun: every variant initialises, derives its config
// back from its keys, and runs at several sizes with finite output.
func TestVariantsBuildAndRun(t *testing.T) {
	for _, proj := range []AttnProj{ProjGRL, ProjQKV} {
		for _, bias := range []PosBias{BiasESRPB, BiasCPBLog, BiasTable, BiasNone} {
			cfg := smallCfg(proj, bias)
			sd, err := InitStateDict(cfg, 3)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ConfigFrom(sd)
			if err != nil {
				t.Fatalf("%s/%s: %v", proj, bias, err)
			}
			if got.Proj() != proj || got.Bias() != bias {
				t.Errorf("%s/%s: derived %s/%s", proj, bias, got.Proj(), got.Bias())
			}
			n := 0
			for k, v := range sd {
				if !strings.HasSuffix(k, "relative_position_index") {
					n += len(v.F32)
				}
			}
			if n != cfg.NumParams() {
				t.Errorf("%s/%s: %d parameters, NumParams %d", proj, bias, n, cfg.NumParams())
			}
			for _, sz := range [][2]int{{8, 8}, {13, 19}, {1, 1}, {16, 40}} {
				out := forward(t, got, sd, sz[0], sz[1])
				if len(out) != 3*sz[0]*2*sz[1]*2 {
					t.Fatalf("%s/%s %v: %d outputs", proj, bias, sz, len(out))
				}
				for _, v := range out {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%s/%s %v: non-finite output", proj, bias, sz)
					}
				}
			}
		}
	}
}

// TestQKVIdentity: the qkv form with block-diagonal weights I + W1, I + W2
// (and block-diagonal proj) is GRL exactly, so both give the same output.
func TestQKVIdentity(t *testing.T) {
	grl := smallCfg(ProjGRL, BiasESRPB)
	sd, _ := InitStateDict(grl, 4)
	perturb(sd, 4)
	qkvSD := checkpoint.StateDict{}
	C, half := grl.EmbedDim, grl.EmbedDim/2
	for k, v := range sd {
		qkvSD[k] = v
	}
	for i := range grl.Depths[0] {
		p := fmt.Sprintf("layers.0.blocks.%d.attn.", i)
		w := make([]float32, 3*C*C)
		b := make([]float32, 3*C)
		for part, names := range [][2]string{{"q1", "q2"}, {"k1", "k2"}, {"v1", "v2"}} {
			for hidx, name := range names {
				lw, lb := sd[p+name+".weight"].F32, sd[p+name+".bias"].F32
				for o := range half {
					row := part*C + hidx*half + o
					b[row] = lb[o]
					for j := range half {
						w[row*C+hidx*half+j] = lw[o*half+j]
					}
					w[row*C+hidx*half+o] += 1 // the residual shortcut
				}
				delete(qkvSD, p+name+".weight")
				delete(qkvSD, p+name+".bias")
			}
		}
		pw := make([]float32, C*C)
		pb := make([]float32, C)
		for hidx, name := range []string{"proj1", "proj2"} {
			lw, lb := sd[p+name+".weight"].F32, sd[p+name+".bias"].F32
			for o := range half {
				pb[hidx*half+o] = lb[o]
				for j := range half {
					pw[(hidx*half+o)*C+hidx*half+j] = lw[o*half+j]
				}
			}
			delete(qkvSD, p+name+".weight")
			delete(qkvSD, p+name+".bias")
		}
		qkvSD[p+"qkv.weight"] = checkpoint.NewF32([]int{3 * C, C}, w)
		qkvSD[p+"qkv.bias"] = checkpoint.NewF32([]int{3 * C}, b)
		qkvSD[p+"proj.weight"] = checkpoint.NewF32([]int{C, C}, pw)
		qkvSD[p+"proj.bias"] = checkpoint.NewF32([]int{C}, pb)
	}
	a := forward(t, grl, sd, 13, 19)
	b := forward(t, smallCfg(ProjQKV, BiasESRPB), qkvSD, 13, 19)
	if d := maxDiff(a, b); d > 1e-5 {
		t.Errorf("qkv with GRL-equivalent weights differs from GRL by %.3g", d)
	}
}

// TestBiasIdentities: a learned table equal to ES-RPB's 16*sigmoid(MLP(table))
// gives the ES-RPB model's output; "none" equals an all-zero table; the CPB
// coordinates follow their definition.
func TestBiasIdentities(t *testing.T) {
	es := smallCfg(ProjGRL, BiasESRPB)
	sd, _ := InitStateDict(es, 5)
	perturb(sd, 5)
	tableSD, zeroSD, noneSD := checkpoint.StateDict{}, checkpoint.StateDict{}, checkpoint.StateDict{}
	for k, v := range sd {
		tableSD[k], zeroSD[k], noneSD[k] = v, v, v
	}
	heads := es.NumHeads[0]
	for i := range es.Depths[0] {
		p := fmt.Sprintf("layers.0.blocks.%d.attn.", i)
		wh, ww, _, _ := es.BlockWindow(i)
		mlp := ESRPBMLP(ESRPBTable(wh, ww), sd[p+"ESRPB_MLP.0.weight"].F32, sd[p+"ESRPB_MLP.0.bias"].F32, sd[p+"ESRPB_MLP.2.weight"].F32, heads)
		tbl := make([]float32, len(mlp))
		for j, v := range mlp {
			tbl[j] = float32(16 / (1 + math.Exp(-float64(v))))
		}
		rows := (2*wh - 1) * (2*ww - 1)
		for _, d := range []checkpoint.StateDict{tableSD, zeroSD, noneSD} {
			for _, k := range []string{"ESRPB_MLP.0.weight", "ESRPB_MLP.0.bias", "ESRPB_MLP.2.weight"} {
				delete(d, p+k)
			}
		}
		tableSD[p+"relative_position_bias_table"] = checkpoint.NewF32([]int{rows, heads}, tbl)
		zeroSD[p+"relative_position_bias_table"] = checkpoint.NewF32([]int{rows, heads}, make([]float32, rows*heads))
	}
	if d := maxDiff(forward(t, es, sd, 13, 19), forward(t, smallCfg(ProjGRL, BiasTable), tableSD, 13, 19)); d > 1e-5 {
		t.Errorf("table = ES-RPB bias: outputs differ by %.3g", d)
	}
	if d := maxDiff(forward(t, smallCfg(ProjGRL, BiasNone), noneSD, 13, 19), forward(t, smallCfg(ProjGRL, BiasTable), zeroSD, 13, 19)); d > 1e-6 {
		t.Errorf("none = zero table: outputs differ by %.3g", d)
	}

	// CPB coordinates: 0 at d = 0, odd, log2(9)/3 at d = W-1.
	tb := CPBLogTable(4, 8)
	rowOf := func(dh, dw int) []float32 { r := (dh+3)*15 + dw + 7; return tb[2*r : 2*r+2] }
	if c := rowOf(0, 0); c[0] != 0 || c[1] != 0 {
		t.Errorf("cpb(0,0) = %v", c)
	}
	want := float32(math.Log2(9) / 3)
	if c := rowOf(3, -7); math.Abs(float64(c[0]-want)) > 1e-6 || math.Abs(float64(c[1]+want)) > 1e-6 {
		t.Errorf("cpb(3,-7) = %v, want (%v, %v)", c, want, -want)
	}
}
