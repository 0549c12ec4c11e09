package onnx_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/onnx"
)

// Write a checkpoint's network as an ONNX model file.
func Example() {
	sd, err := checkpoint.Load("../testdata/golden/tiny_x2/weights.pth")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := model.ConfigFrom(sd)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "onnx-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny_x2.onnx")
	if err := onnx.WriteFile(path, cfg, sd); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("wrote %s: opset %d, %s [N, 3, H, W] -> %s [N, 3, %dH, %dW]\n",
		filepath.Base(path), onnx.Opset, onnx.InputName, onnx.OutputName, cfg.Scale, cfg.Scale)
	// Output: wrote tiny_x2.onnx: opset 17, input [N, 3, H, W] -> output [N, 3, 2H, 2W]
}
