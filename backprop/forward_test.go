package backprop

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/internal/cpu"
	"github.com/grformer/grformer/model"
)

// TestForwardEqualsInference: the training forward pass without drop path
// computes what the inference model computes, bit for bit, on the golden
// networks and on every attention variant, on batches of several images of
// sizes that need padding, on one and several goroutines, with the assembly
// kernels and with the portable Go ones.
func TestForwardEqualsInference(t *testing.T) {
	type netCase struct {
		name    string
		load    func(t *testing.T) (model.Config, checkpoint.StateDict)
		generic bool // also with the portable kernels (slow for the light networks)
	}
	golden := func(dir, weights string) func(t *testing.T) (model.Config, checkpoint.StateDict) {
		return func(t *testing.T) (model.Config, checkpoint.StateDict) {
			path := filepath.Join(dir, weights)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s not found: ../shared is absent", path)
			}
			return loadStateDict(t, path)
		}
	}
	cases := []netCase{
		{"tiny_x2", golden("../testdata/golden/tiny_x2", "weights.pth"), true},
		{"tiny_x3", golden("../testdata/golden/tiny_x3", "weights.pth"), true},
		{"tiny_x4", golden("../testdata/golden/tiny_x4", "weights.safetensors"), true},
		{"dev_x2", golden(sharedGolden+"/dev_x2", "weights_slim.pth"), false},
		{"dev_x3", golden(sharedGolden+"/dev_x3", "weights_slim.pth"), false},
		{"dev_x4_a", golden(sharedGolden+"/dev_x4_a", "weights_slim.pth"), false},
		{"dev_x4_b", golden(sharedGolden+"/dev_x4_b", "weights_slim.pth"), false},
	}
	for _, proj := range []model.AttnProj{model.ProjGRL, model.ProjQKV} {
		for _, bias := range []model.PosBias{model.BiasESRPB, model.BiasCPBLog, model.BiasTable, model.BiasNone} {
			cases = append(cases, netCase{string(proj) + "_" + string(bias), func(t *testing.T) (model.Config, checkpoint.StateDict) {
				cfg := smallCfg(proj, bias)
				sd, err := model.InitStateDict(cfg, 3)
				if err != nil {
					t.Fatal(err)
				}
				// Random init has zero biases and unit norms: perturb every
				// tensor so that no term of the forward pass is trivial.
				r := rand.New(rand.NewPCG(8, 9))
				for _, v := range sd {
					for i := range v.F32 {
						v.F32[i] += float32(r.NormFloat64() * 0.05)
					}
				}
				return cfg, sd
			}, true})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, sd := tc.load(t)
			m, err := model.New(cfg, sd)
			if err != nil {
				t.Fatal(err)
			}
			n, err := NewNet(cfg, sd)
			if err != nil {
				t.Fatal(err)
			}
			impls := []bool{false}
			if tc.generic {
				impls = append(impls, true)
			}
			r := rand.New(rand.NewPCG(6, 7))
			for _, generic := range impls {
				for _, sz := range []struct{ N, H, W, threads int }{{1, 24, 40, 1}, {3, 13, 19, 3}} {
					name := fmt.Sprintf("generic=%v/%dx%dx%d/threads=%d", generic, sz.N, sz.H, sz.W, sz.threads)
					prev := cpu.SetGeneric(generic)
					x := randSlice(r, sz.N*3*sz.H*sz.W, 1)
					want, err := m.Forward(x, sz.N, sz.H, sz.W, model.Options{Threads: sz.threads})
					if err != nil {
						t.Fatal(err)
					}
					n.Threads = sz.threads
					got, err := n.Forward(x, sz.N, sz.H, sz.W)
					cpu.SetGeneric(prev)
					if err != nil {
						t.Fatal(err)
					}
					if len(got) != len(want) {
						t.Fatalf("%s: %d outputs, want %d", name, len(got), len(want))
					}
					diff, worst := 0, 0.0
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							diff++
							worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
						}
					}
					if diff > 0 {
						t.Errorf("%s: %d of %d values differ (max %.3g)", name, diff, len(want), worst)
					}
				}
			}
		})
	}
}
