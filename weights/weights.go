// Package weights holds the GRFormer weights that ship with grformer,
// embedded in every binary so that upscaling works without a download.
//
// The authors of GRFormer released no trained weights; these were trained
// by this project with `grformer train` on the shared training images
// (BSD200, T91 and 23 wallpapers: far less than the paper's DIV2K), batch 4
// of 64x64 LR patches, on 2 CPU cores (docs/TRAINING.md has every run):
//
//   - x2: 1,500 iterations from scratch (Adam 5e-4), 1,200 more at 2e-4,
//     then 300 at 2e-4 with cosine decay (5% flat patches): 85 minutes.
//   - x3: from the x2 weights (all but the upsampler), 700 iterations at
//     4e-4 with cosine decay: 24 minutes.
//   - x4: from the x2 weights (all but the upsampler), 1,000 iterations at
//     4e-4 with cosine decay (5% flat patches): 72 minutes.
//
// They beat bicubic clearly but are far from what the paper's 500,000
// iterations on DIV2K reach (SwinIR-light: 38.14 / 34.62 / 32.44 dB on
// Set5 at x2 / x3 / x4). PSNR / SSIM on Y, crop = scale, measured with
// `grformer eval` (the reference's plain forward pass):
//
//	light x2: Set5 36.51 / 0.9530, Set14 32.22 / 0.9040, B100 31.23 / 0.8863
//	          (bicubic: 33.67 / 0.9303, 30.23 / 0.8691, 29.56 / 0.8434)
//	light x3: Set5 31.86 / 0.8946, Set14 28.61 / 0.8086, B100 28.03 / 0.7769
//	          (bicubic: 30.40 / 0.8689, 27.54 / 0.7745, 27.21 / 0.7391)
//	light x4: Set5 29.83 / 0.8440, Set14 26.94 / 0.7382, B100 26.66 / 0.7038
//	          (bicubic: 28.43 / 0.8111, 25.99 / 0.7029, 25.96 / 0.6681)
package weights

import (
	_ "embed"
	"fmt"
	"slices"
)

//go:embed grformer_light_x2.safetensors
var lightX2 []byte

//go:embed grformer_light_x3.safetensors
var lightX3 []byte

//go:embed grformer_light_x4.safetensors
var lightX4 []byte

// Info describes a set of shipped weights.
type Info struct {
	Name  string // file name, e.g. "grformer_light_x2.safetensors"
	Scale int
	// Set5, Set14 and B100 are the PSNR (dB, Y channel, crop = scale) of
	// these weights on the benchmark sets, as grformer eval measures them.
	Set5, Set14, B100 float64
}

var shipped = map[int]struct {
	data []byte
	info Info
}{
	2: {lightX2, Info{Name: "grformer_light_x2.safetensors", Scale: 2, Set5: 36.51, Set14: 32.22, B100: 31.23}},
	3: {lightX3, Info{Name: "grformer_light_x3.safetensors", Scale: 3, Set5: 31.86, Set14: 28.61, B100: 28.03}},
	4: {lightX4, Info{Name: "grformer_light_x4.safetensors", Scale: 4, Set5: 29.83, Set14: 26.94, B100: 26.66}},
}

// For returns the safetensors bytes of the shipped weights for scale, or an
// error naming the scales that ship.
func For(scale int) ([]byte, Info, error) {
	w, ok := shipped[scale]
	if !ok {
		return nil, Info{}, fmt.Errorf("weights: no shipped weights for x%d (shipped: %v); give weights trained with grformer train or the reference code", scale, Scales())
	}
	return w.data, w.info, nil
}

// Scales lists the scales with shipped weights.
func Scales() []int {
	var s []int
	for k := range shipped {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}
