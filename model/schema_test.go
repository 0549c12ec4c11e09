package model

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grformer/grformer/checkpoint"
)

// The export of a params-only state dict has exactly the keys, shapes,
// dtypes and buffer values of the reference's full BasicSR checkpoint.
func TestFullStateDictMatchesGolden(t *testing.T) {
	for _, c := range []string{"tiny_x2", "tiny_x3", "tiny_x4"} {
		t.Run(c, func(t *testing.T) {
			path := filepath.Join("..", "testdata", "golden", c, "weights.pth")
			golden, err := checkpoint.Load(path)
			if err != nil {
				t.Skipf("golden checkpoint: %v", err)
			}
			cfg, err := ConfigFrom(golden)
			if err != nil {
				t.Fatal(err)
			}
			params := ParamsOnly(cfg, golden)
			if len(params) >= len(golden) {
				t.Fatalf("ParamsOnly kept %d of %d keys", len(params), len(golden))
			}
			full, err := FullStateDict(cfg, params)
			if err != nil {
				t.Fatal(err)
			}
			compareStateDicts(t, full, golden)
		})
	}
}

func compareStateDicts(t *testing.T, got, want checkpoint.StateDict) {
	t.Helper()
	if g, w := got.Keys(), want.Keys(); !slices.Equal(g, w) {
		t.Fatalf("keys differ:\ngot  %v\nwant %v", g, w)
	}
	for k, w := range want {
		g := got[k]
		if !slices.Equal(g.Shape, w.Shape) || g.DType != w.DType {
			t.Errorf("%s: %s %v, want %s %v", k, g.DType, g.Shape, w.DType, w.Shape)
			continue
		}
		for i := range w.I64 {
			if g.I64[i] != w.I64[i] {
				t.Fatalf("%s[%d] = %d, want %d", k, i, g.I64[i], w.I64[i])
			}
		}
		for i := range w.F32 {
			if d := math.Abs(float64(g.F32[i] - w.F32[i])); d > 1e-6 || math.IsNaN(d) {
				t.Fatalf("%s[%d] = %v, want %v", k, i, g.F32[i], w.F32[i])
			}
		}
	}
}

// The schema agrees with itself and with its users: unique keys, a
// parameter count equal to NumParams and to the initialised state dict,
// buffers exactly IsBuffer's, for every variant.
func TestSchemaConsistent(t *testing.T) {
	for _, proj := range []AttnProj{ProjGRL, ProjQKV} {
		for _, bias := range []PosBias{BiasESRPB, BiasCPBLog, BiasTable, BiasNone} {
			cfg := Light(3)
			cfg.AttnProj, cfg.PosBias = proj, bias
			seen, params := map[string]bool{}, 0
			for _, s := range Schema(cfg) {
				if seen[s.Key] {
					t.Fatalf("%s/%s: key %s twice", proj, bias, s.Key)
				}
				seen[s.Key] = true
				if IsBuffer(cfg, s.Key) != (s.Kind == Buffer) {
					t.Errorf("%s/%s: IsBuffer(%s) disagrees with its kind %s", proj, bias, s.Key, s.Kind)
				}
				if s.Kind == Parameter {
					params += s.Numel()
				} else if v := s.Value(); !slices.Equal(v.Shape, s.Shape) {
					t.Errorf("%s: value shape %v, spec %v", s.Key, v.Shape, s.Shape)
				}
			}
			if params != cfg.NumParams() {
				t.Errorf("%s/%s: schema has %d parameters, NumParams %d", proj, bias, params, cfg.NumParams())
			}
			sd, err := InitStateDict(cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := New(cfg, sd); err != nil {
				t.Errorf("%s/%s: the initial weights do not load: %v", proj, bias, err)
			}
		}
	}
}

// CheckStateDict names the key and both shapes, and refuses non-finite
// weights.
func TestCheckStateDictErrors(t *testing.T) {
	cfg := Light(2)
	good, _ := InitStateDict(cfg, 3)
	clone := func() checkpoint.StateDict {
		sd := checkpoint.StateDict{}
		for k, v := range good {
			sd[k] = v
		}
		return sd
	}
	for _, c := range []struct {
		name string
		edit func(checkpoint.StateDict)
		want string
	}{
		{"missing", func(sd checkpoint.StateDict) { delete(sd, "layers.1.blocks.2.mlp.fc1.bias") }, "missing key layers.1.blocks.2.mlp.fc1.bias (want shape [120])"},
		{"shape", func(sd checkpoint.StateDict) {
			sd["norm.weight"] = checkpoint.NewF32([]int{61}, make([]float32, 61))
		}, "key norm.weight has shape [61] in the checkpoint, the model wants [60]"},
		{"buffer shape", func(sd checkpoint.StateDict) {
			sd["layers.0.blocks.0.attn.relative_position_index"] = checkpoint.NewI64([]int{2, 2}, make([]int64, 4))
		}, "buffer layers.0.blocks.0.attn.relative_position_index has shape [2 2] in the checkpoint, the model wants [256 256]"},
		{"unknown", func(sd checkpoint.StateDict) { sd["extra.weight"] = checkpoint.NewF32([]int{1}, []float32{0}) }, "unexpected keys in the checkpoint: [extra.weight]"},
		{"nan", func(sd checkpoint.StateDict) {
			v := slices.Clone(good["conv_first.weight"].F32)
			v[7] = float32(math.NaN())
			sd["conv_first.weight"] = checkpoint.NewF32([]int{60, 3, 3, 3}, v)
		}, `tensor "conv_first.weight" holds NaN at index 7`},
		{"inf", func(sd checkpoint.StateDict) {
			v := slices.Clone(good["upsample.0.bias"].F32)
			v[0] = float32(math.Inf(-1))
			sd["upsample.0.bias"] = checkpoint.NewF32([]int{12}, v)
		}, `tensor "upsample.0.bias" holds -Inf at index 0`},
	} {
		sd := clone()
		c.edit(sd)
		err := CheckStateDict(cfg, sd)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
