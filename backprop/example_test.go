package backprop_test

import (
	"fmt"

	"github.com/grformer/grformer/backprop"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/training"
)

// One training step: forward, mean L1 loss, gradients of every parameter,
// then an Adam update.
func ExampleNet_Step() {
	cfg := model.Config{InChans: 3, EmbedDim: 8, Depths: []int{2}, NumHeads: []int{2}, Window: [2]int{4, 8},
		MLPRatio: 2, Scale: 2, ImgRange: 1, Mean: model.DIV2KMean, ImgSize: 16}
	sd, _ := model.InitStateDict(cfg, 1)
	net, err := backprop.NewNet(cfg, sd)
	if err != nil {
		panic(err)
	}
	adam, _ := training.NewAdam(net.Params(), training.DefaultAdam())
	x := make([]float32, 1*3*8*8)   // LR batch, NCHW
	y := make([]float32, 1*3*16*16) // HR target
	for i := range y {
		y[i] = 0.5
	}
	loss, err := net.Step(x, y, 1, 8, 8, 0, 0)
	if err != nil {
		panic(err)
	}
	adam.Step(2e-4)
	g := net.Param("conv_first.weight").Grad
	fmt.Println(loss > 0, len(g), len(net.Params()), "parameter tensors")
	// Output:
	// true 216 74 parameter tensors
}
