package dwconv

import (
	"fmt"
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

// benchWG runs WeightGrad on every implementation available here and the reference, in one
// run: GFLOP/s = 2*9*h*w*c / time (the FMAs of the weight gradient; the bias sums not counted).
func benchWG(b *testing.B, h, w, c int) {
	ddst, src, dw, db := benchData(h, w, c)
	kerneltest.BenchImpls(b, gflop(h, w, c), "GFLOP/s",
		func() { WeightGradRef(dw, db, ddst, src, h, w, c, 0, h) },
		func() { WeightGrad(dw, db, ddst, src, h, w, c, 0, h) })
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
