package dwconv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

// wgCase checks WeightGrad on one shape and row range against WeightGradRef: every slice has
// exactly the length its shape needs (against a guard page), and every value agrees to 1e-5
// relative to its scale (the same sums on magnitudes, plus the initial value).
func wgCase(t *testing.T, rng *rand.Rand, h, w, c, y0, y1 int, withDB bool) float64 {
	t.Helper()
	defer kerneltest.Release()
	n := h * w * c
	src, ddst := kerneltest.Floats(n), kerneltest.Floats(y1*w*c)
	fill(rng, src)
	fill(rng, ddst)
	dw := kerneltest.Floats(9 * c)
	fill(rng, dw)
	var db []float32
	if withDB {
		db = kerneltest.Floats(c)
		fill(rng, db)
	}
	wantW, wantB := append([]float32(nil), dw...), append([]float32(nil), db...) // nil for nil
	WeightGradRef(wantW, wantB, ddst, src, h, w, c, y0, y1)
	scaleW, scaleB := kerneltest.Abs(dw), kerneltest.Abs(db)
	WeightGradRef(scaleW, scaleB, kerneltest.Abs(ddst), kerneltest.Abs(src), h, w, c, y0, y1)
	WeightGrad(dw, db, ddst, src, h, w, c, y0, y1)
	name := fmt.Sprintf("h=%d w=%d c=%d rows=[%d,%d) db=%v", h, w, c, y0, y1, withDB)
	worst := kerneltest.Close(t, name+": dw", dw, wantW, scaleW, 1e-5)
	return max(worst, kerneltest.Close(t, name+": db", db, wantB, scaleB, 1e-5))
}

func TestWeightGrad(t *testing.T) {
	kerneltest.ForEachPlacement(t, func(t *testing.T) {
		kerneltest.ForEachImpl(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			var worst float64
			sizes := [][2]int{{1, 1}, {1, 2}, {2, 1}, {1, 9}, {2, 2}, {3, 3}, {2, 3}, {3, 2}, {4, 5}, {5, 8}, {3, 13}, {6, 17}}
			for _, c := range testChannels {
				for _, s := range sizes {
					h, w := s[0], s[1]
					for _, r := range [][2]int{{0, h}, {0, 1}, {h - 1, h}, {h / 2, (h + 1) / 2}, {1, max(1, h-1)}} {
						worst = math.Max(worst, wgCase(t, rng, h, w, c, r[0], r[1], (h+w+c)%2 == 0))
					}
				}
			}
			worst = math.Max(worst, wgCase(t, rng, 64, 64, 120, 0, 64, true))
			t.Logf("max error %.3g of the sum of magnitudes", worst)
		})
	})
}

// TestWeightGradChunks computes the model's shape as fixed row chunks, each in its own goroutine
// with its own zeroed partial sums, added in chunk order: the result does not depend on the
// number of goroutines, and agrees with the reference.
func TestWeightGradChunks(t *testing.T) {
	const h, w, c, chunk = 64, 64, 120, 5
	rng := rand.New(rand.NewPCG(13, 14))
	src, ddst := make([]float32, h*w*c), make([]float32, h*w*c)
	fill(rng, src)
	fill(rng, ddst)
	wantW, wantB := make([]float32, 9*c), make([]float32, c)
	WeightGradRef(wantW, wantB, ddst, src, h, w, c, 0, h)
	scaleW := make([]float32, 9*c)
	WeightGradRef(scaleW, nil, kerneltest.Abs(ddst), kerneltest.Abs(src), h, w, c, 0, h)
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		var first []float32
		for _, threads := range []int{1, 2, 3} {
			nch := (h + chunk - 1) / chunk
			part := make([]float32, nch*10*c)
			var wg sync.WaitGroup
			for th := 0; th < threads; th++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := th; k < nch; k += threads {
						p := part[k*10*c : (k+1)*10*c]
						WeightGrad(p[:9*c], p[9*c:], ddst, src, h, w, c, k*chunk, min(h, (k+1)*chunk))
					}
				}()
			}
			wg.Wait()
			sum := make([]float32, 10*c)
			for k := 0; k < nch; k++ {
				for i, v := range part[k*10*c : (k+1)*10*c] {
					sum[i] += v
				}
			}
			if first == nil {
				first = sum
			}
			for i := range sum {
				if sum[i] != first[i] {
					t.Fatalf("threads=%d: [%d] = %v, with one thread %v", threads, i, sum[i], first[i])
				}
			}
			for i := 0; i < 9*c; i++ {
				if e := math.Abs(float64(sum[i] - wantW[i])); e > 1e-5*float64(scaleW[i]) {
					t.Fatalf("threads=%d: dw[%d] = %v, want %v", threads, i, sum[i], wantW[i])
				}
			}
			for i := 0; i < c; i++ {
				if e := math.Abs(float64(sum[9*c+i] - wantB[i])); e > 1e-5*float64(h*w) {
					t.Fatalf("threads=%d: db[%d] = %v, want %v", threads, i, sum[9*c+i], wantB[i])
				}
			}
		}
	})
}

func TestWeightGradNoAllocs(t *testing.T) {
	const h, w, c = 9, 21, 120
	src, ddst := make([]float32, h*w*c), make([]float32, h*w*c)
	dw, db := make([]float32, 9*c), make([]float32, c)
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		if n := testing.AllocsPerRun(20, func() {
			WeightGrad(dw, db, ddst, src, h, w, c, 0, h)
			WeightGrad(dw, nil, ddst, src, h, w, c, 2, 5)
		}); n != 0 {
			t.Errorf("%v allocations per run", n)
		}
	})
}

func TestWeightGradPanics(t *testing.T) {
	WeightGrad(nil, nil, nil, nil, 0, 0, 0, 0, 0)
	WeightGrad(make([]float32, 72), nil, nil, nil, 3, 0, 8, 0, 3)
	WeightGrad(make([]float32, 72), nil, nil, make([]float32, 24), 3, 1, 8, 1, 1)
	s := make([]float32, 2*3*4)
	dw := make([]float32, 9*4)
	kerneltest.MustPanic(t, map[string]func(){
		"short src":     func() { WeightGrad(dw, nil, s, s[:23], 2, 3, 4, 0, 2) },
		"short ddst":    func() { WeightGrad(dw, nil, s[:23], s, 2, 3, 4, 0, 2) },
		"short dw":      func() { WeightGrad(dw[:35], nil, s, s, 2, 3, 4, 0, 2) },
		"short db":      func() { WeightGrad(dw, make([]float32, 3), s, s, 2, 3, 4, 0, 2) },
		"rows":          func() { WeightGrad(dw, nil, s, s, 2, 3, 4, 1, 3) },
		"reversed rows": func() { WeightGrad(dw, nil, s, s, 2, 3, 4, 2, 1) },
	})
}
