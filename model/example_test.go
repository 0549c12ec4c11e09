package model_test

import (
	"fmt"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
)

// The paper's light presets and their size.
func ExampleLight() {
	cfg := model.Light(4)
	fmt.Println(cfg.EmbedDim, cfg.Depths, cfg.NumHeads, cfg.Window, cfg.Hidden())
	fmt.Println(cfg.NumParams(), "parameters")
	fmt.Printf("%.2f GMAC for a 320x180 input\n", float64(cfg.TotalMACs(180, 320, true))/1e9)
	// Output:
	// 60 [6 6 6 6] [3 3 3 3] [8 32] 120
	// 800412 parameters
	// 91.99 GMAC for a 320x180 input
}

// Build a model from a checkpoint and run the raw NCHW forward pass.
func ExampleNew() {
	sd, err := checkpoint.Load("../testdata/golden/tiny_x2/weights.pth")
	if err != nil {
		panic(err)
	}
	cfg, err := model.ConfigFrom(sd) // from the key names and shapes
	if err != nil {
		panic(err)
	}
	m, err := model.New(cfg, sd)
	if err != nil {
		panic(err)
	}
	x := make([]float32, 1*3*10*12) // one 10x12 RGB image, values in [0, 1]
	for i := range x {
		x[i] = 0.5
	}
	y, err := m.Forward(x, 1, 10, 12, model.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println("scale", cfg.Scale, "window", cfg.Window, "output values", len(y), "= 3 x 20 x 24")
	// Output:
	// scale 2 window [4 8] output values 1440 = 3 x 20 x 24
}
