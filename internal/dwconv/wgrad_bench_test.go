package dwconv

import (
	"fmt"
	"testing"

	"github.com/grformer/grformer/internal/cpu"
)

// benchWG runs WeightGrad on every implementation available here and the reference, in one
// run: GFLOP/s = 2*9*h*w*c / time (the FMAs of the weight gradient; the bias sums not counted).
func benchWG(b *testing.B, h, w, c int) {
	run := func(b *testing.B, f func(dw, db, ddst, src []float32)) {
		benchOne(b, h, w, c, false, func(ddst, src, dw, db []float32) { f(dw, db, ddst, src) })
	}
	for _, name := range cpu.Impls() {
		b.Run(name, func(b *testing.B) {
			prev, _ := cpu.SetImpl(name)
			defer cpu.SetImpl(prev)
			run(b, func(dw, db, ddst, src []float32) { WeightGrad(dw, db, ddst, src, h, w, c, 0, h) })
		})
	}
	b.Run("ref", func(b *testing.B) {
		run(b, func(dw, db, ddst, src []float32) { WeightGradRef(dw, db, ddst, src, h, w, c, 0, h) })
	})
}

// The model's FFN shape: a 64x64 patch, 120 channels; also chunks of 8 rows (a goroutine's
// share) and other channel counts.
func BenchmarkWeightGrad120_64x64(b *testing.B) { benchWG(b, 64, 64, 120) }
func BenchmarkWeightGrad120_8x64(b *testing.B)  { benchWG(b, 8, 64, 120) }

func BenchmarkWeightGradChannels_64x64(b *testing.B) {
	for _, c := range []int{32, 36, 100, 240} {
		b.Run(fmt.Sprint(c), func(b *testing.B) { benchWG(b, 64, 64, c) })
	}
}
