// Package weights holds the GRFormer weights that ship with grformer,
// embedded in every binary so that upscaling works without a download.
//
// The authors of GRFormer released no trained weights; these were trained
// by this project with `grformer train` on the shared training images
// (BSD200, T91 and 23 wallpapers: far less than the paper's DIV2K), batch 4
// of 64x64 LR patches: 1,500 iterations from scratch with Adam 5e-4, then
// 1,200 more from those weights with 2e-4 (-init), each halving the rate at
// 50%, 80%, 90% and 95% of its iterations: 54 minutes on 2 CPU cores. They
// beat bicubic clearly but are far from what the paper's 500,000 iterations
// on DIV2K reach. Only x2 ships so far.
//
//	light x2: Set5 36.39 dB / 0.9523, Set14 32.16 / 0.9034, B100 31.19 / 0.8858
//	          (bicubic: 33.67 / 0.9303, 30.23 / 0.8691, 29.56 / 0.8434)
//
// measured with `grformer eval` (Y channel, crop = scale, BasicSR's SSIM).
package weights

import (
	_ "embed"
	"fmt"
	"slices"
)

//go:embed grformer_light_x2.safetensors
var lightX2 []byte

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
	2: {lightX2, Info{Name: "grformer_light_x2.safetensors", Scale: 2, Set5: 36.39, Set14: 32.16, B100: 31.19}},
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
