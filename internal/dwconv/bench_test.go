package dwconv

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

// Benchmarks of the model's shape (120 channels), one goroutine, every implementation
// available here and the reference, GFLOP/s = 2*9*h*w*c / time, for the mean and the fastest
// call (on a shared machine the mean mixes in other processes).

// benchData returns random [h, w, c] images a and b and [9][c] weights and c biases.
func benchData(h, w, c int) (a, b, wp, bias []float32) {
	rng := rand.New(rand.NewPCG(uint64(h*w), uint64(c)))
	a, b = make([]float32, h*w*c), make([]float32, h*w*c)
	wp, bias = make([]float32, 9*c), make([]float32, c)
	for _, x := range [][]float32{a, b, wp, bias} {
		fill(rng, x)
	}
	return a, b, wp, bias
}

// gflop is the work of one Conv3x3 or WeightGrad call on [h, w, c], in GFLOP.
func gflop(h, w, c int) float64 { return 2 * 9 * float64(h*w*c) * 1e-9 }

// benchConv runs every implementation available here and the reference, in one run.
func benchConv(b *testing.B, h, w, c int, acc bool) {
	dst, src, wp, bias := benchData(h, w, c)
	kerneltest.BenchImpls(b, gflop(h, w, c), "GFLOP/s",
		func() { Conv3x3Ref(dst, src, h, w, c, wp, bias, 0, h, acc) },
		func() { Conv3x3(dst, src, h, w, c, wp, bias, 0, h, acc) })
}

func BenchmarkConv120_64x64(b *testing.B)    { benchConv(b, 64, 64, 120, false) }
func BenchmarkConv120_192x320(b *testing.B)  { benchConv(b, 192, 320, 120, false) }
func BenchmarkConv120Acc_64x64(b *testing.B) { benchConv(b, 64, 64, 120, true) }

// Other channel counts on 64x64 (tail blocks: 36 = 2x16+4, 100 = 6x16+4).
func BenchmarkConvChannels_64x64(b *testing.B) {
	for _, c := range []int{32, 36, 100, 240} {
		b.Run(fmt.Sprint(c), func(b *testing.B) { benchConv(b, 64, 64, c, false) })
	}
}
