package backprop

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/grformer/grformer/model"
)

// BenchmarkStep times one training step (forward + backward) of the light
// x4 model on batch 16 of 64x64 LR patches, the reference point.
func BenchmarkStep(b *testing.B) {
	for _, batch := range []int{4, 16} {
		b.Run(fmt.Sprintf("x4_batch%d_64x64", batch), func(b *testing.B) {
			cfg := model.Light(4)
			sd, _ := model.InitStateDict(cfg, 1)
			n, err := NewNet(cfg, sd)
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 1))
			x := randSlice(r, batch*3*64*64, 1)
			y := randSlice(r, batch*3*256*256, 1)
			// One untimed step allocates (and faults in) the activations.
			if _, err := n.Step(x, y, batch, 64, 64, 0.1, 0); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := n.Step(x, y, batch, 64, 64, 0.1, uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
