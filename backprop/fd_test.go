package backprop

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
)

func smallCfg(proj model.AttnProj, bias model.PosBias) model.Config {
	return model.Config{InChans: 3, EmbedDim: 8, Depths: []int{2, 2}, NumHeads: []int{2, 2}, Window: [2]int{4, 8},
		MLPRatio: 2, Scale: 2, ImgRange: 1, Mean: model.DIV2KMean, ImgSize: 16, AttnProj: proj, PosBias: bias}
}

func randSlice(r *rand.Rand, n int, scale float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64() * scale)
	}
	return s
}

// TestDirectionalDerivative checks, with the smooth squared loss, the analytic gradient of every variant
// against a central finite difference along a random direction in
// parameter and input space, on an odd input size (so reflect padding and
// cropping are exercised) and with drop path active.
func TestDirectionalDerivative(t *testing.T) {
	for _, tc := range []struct {
		proj model.AttnProj
		bias model.PosBias
		drop float64
	}{
		{model.ProjGRL, model.BiasESRPB, 0},
		{model.ProjGRL, model.BiasESRPB, 0.5},
		{model.ProjQKV, model.BiasTable, 0},
		{model.ProjQKV, model.BiasCPBLog, 0},
		{model.ProjGRL, model.BiasNone, 0},
	} {
		t.Run(string(tc.proj)+"_"+string(tc.bias), func(t *testing.T) {
			cfg := smallCfg(tc.proj, tc.bias)
			sd, err := model.InitStateDict(cfg, 9)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			keys := make([]string, 0, len(sd))
			for k := range sd {
				keys = append(keys, k)
			}
			sort.Strings(keys) // deterministic perturbation
			for _, k := range keys {
				if v := sd[k]; v.DType == checkpoint.F32 {
					for i := range v.F32 {
						v.F32[i] += float32(r.NormFloat64() * 0.1)
					}
				}
			}
			n, err := NewNet(cfg, sd)
			if err != nil {
				t.Fatal(err)
			}
			n.squaredLoss = true
			N, H, W := 2, 5, 11
			x := randSlice(r, N*3*H*W, 1)
			y := randSlice(r, N*3*H*2*W*2, 1)
			if _, err := n.Step(x, y, N, H, W, tc.drop, 7); err != nil {
				t.Fatal(err)
			}
			// Analytic directional derivative along a random direction.
			dirs := map[string][]float32{}
			var analytic float64
			for _, p := range n.Params() {
				d := make([]float32, len(p.Data))
				for i := range d {
					d[i] = float32(r.NormFloat64())
					analytic += float64(d[i]) * float64(p.Grad[i])
				}
				dirs[p.Name] = d
			}
			dx := make([]float32, len(x))
			for i := range dx {
				dx[i] = float32(r.NormFloat64())
				analytic += float64(dx[i]) * float64(n.InputGrad()[i])
			}
			lossAt := func(eps float32) float64 {
				sd2 := checkpoint.StateDict{}
				for _, p := range n.Params() {
					v := make([]float32, len(p.Data))
					for i := range v {
						v[i] = p.Data[i] + eps*dirs[p.Name][i]
					}
					sd2[p.Name] = checkpoint.NewF32(p.Shape, v)
				}
				if tc.bias == model.BiasTable {
					for k, v := range sd {
						if len(k) > 23 && k[len(k)-23:] == "relative_position_index" {
							sd2[k] = v
						}
					}
				}
				m, err := NewNet(cfg, sd2)
				if err != nil {
					t.Fatal(err)
				}
				m.squaredLoss = true
				x2 := make([]float32, len(x))
				for i := range x2 {
					x2[i] = x[i] + eps*dx[i]
				}
				l, err := m.Step(x2, y, N, H, W, tc.drop, 7)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			// A central difference. Its error has two parts: curvature
			// (~eps^2, large with drop path's x2 multipliers) and float32
			// noise of the loss (~1e-8/eps; the vectorised exp and softmax
			// are accurate to ~1e-7 but not smooth at that level): hence the
			// absolute floor of the tolerance.
			const eps = 1e-4
			numeric := (lossAt(eps) - lossAt(-eps)) / (2 * eps)
			t.Logf("directional derivative: analytic %.6g, numeric %.6g", analytic, numeric)
			if math.Abs(analytic-numeric) > 5e-3*math.Abs(numeric)+5e-4 {
				t.Errorf("analytic %.6g vs numeric %.6g", analytic, numeric)
			}
		})
	}
}
