package backprop

import (
	"math/rand/v2"
	"testing"

	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/training"
)

// TestVariantsTrain: every attention variant trains: a few Adam steps on a
// fixed batch lower the loss.
func TestVariantsTrain(t *testing.T) {
	for _, tc := range []struct {
		proj model.AttnProj
		bias model.PosBias
	}{
		{model.ProjGRL, model.BiasESRPB},
		{model.ProjGRL, model.BiasCPBLog},
		{model.ProjGRL, model.BiasTable},
		{model.ProjGRL, model.BiasNone},
		{model.ProjQKV, model.BiasESRPB},
		{model.ProjQKV, model.BiasTable},
		{model.ProjQKV, model.BiasCPBLog},
	} {
		t.Run(string(tc.proj)+"_"+string(tc.bias), func(t *testing.T) {
			cfg := smallCfg(tc.proj, tc.bias)
			sd, err := model.InitStateDict(cfg, 3)
			if err != nil {
				t.Fatal(err)
			}
			n, err := NewNet(cfg, sd)
			if err != nil {
				t.Fatal(err)
			}
			adam, err := training.NewAdam(n.Params(), training.DefaultAdam())
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(4, 5))
			N, H, W := 2, 16, 16
			x := randSlice(r, N*3*H*W, 1)
			y := make([]float32, N*3*2*H*2*W)
			for i := range y { // a smooth target: nearest-neighbour upscale of x
				img, rest := i/(3*4*H*W), i%(3*4*H*W)
				c, yy, xx := rest/(4*H*W), rest%(4*H*W)/(2*W), rest%(2*W)
				y[i] = x[((img*3+c)*H+yy/2)*W+xx/2]
			}
			var first, last float64
			for step := range 8 {
				loss, err := n.Step(x, y, N, H, W, 0.1, uint64(step))
				if err != nil {
					t.Fatal(err)
				}
				if step == 0 {
					first = loss
				}
				last = loss
				adam.Step(2e-3)
			}
			t.Logf("loss %.4f -> %.4f", first, last)
			if !(last < 0.9*first) {
				t.Errorf("loss did not fall: %.4f -> %.4f", first, last)
			}
		})
	}
}
