package dwconv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/grformer/grformer/internal/cpu"
)

// Benchmarks of the model's shape (120 channels), one goroutine, every implementation
// available here and the reference, GFLOP/s = 2*9*h*w*c / time.

// benchOne times f on random [h, w, c] images, reporting GFLOP/s = 2*9*h*w*c/time and the
// same for the fastest single call (on a shared machine the mean mixes in other processes).
func benchOne(b *testing.B, h, w, c int, acc bool, f func(dst, src, wp, bias []float32)) {
	rng := rand.New(rand.NewPCG(uint64(h*w), uint64(c)))
	src, dst := make([]float32, h*w*c), make([]float32, h*w*c)
	wp, bias := make([]float32, 9*c), make([]float32, c)
	randFill(rng, src)
	randFill(rng, wp)
	randFill(rng, bias)
	flops := 2 * 9 * h * w * c
	f(dst, src, wp, bias)
	b.SetBytes(int64(4 * h * w * c))
	b.ResetTimer()
	best := time.Duration(math.MaxInt64)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		f(dst, src, wp, bias)
		best = min(best, time.Since(t0))
	}
	b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(flops)/best.Seconds()/1e9, "best-GFLOP/s")
}

// benchConv runs every implementation available here and the reference, in one run.
func benchConv(b *testing.B, h, w, c int, acc bool) {
	for _, name := range cpu.Impls() {
		b.Run(name, func(b *testing.B) {
			prev, _ := cpu.SetImpl(name)
			defer cpu.SetImpl(prev)
			benchOne(b, h, w, c, acc, func(dst, src, wp, bias []float32) {
				Conv3x3(dst, src, h, w, c, wp, bias, 0, h, acc)
			})
		})
	}
	b.Run("ref", func(b *testing.B) {
		benchOne(b, h, w, c, acc, func(dst, src, wp, bias []float32) {
			Conv3x3Ref(dst, src, h, w, c, wp, bias, 0, h, acc)
		})
	})
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
