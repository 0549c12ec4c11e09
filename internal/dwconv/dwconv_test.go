package dwconv

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

type tcase struct {
	h, w, c   int
	y0, y1    int
	bias, acc bool
}

func (tc tcase) String() string {
	return fmt.Sprintf("h=%d w=%d c=%d rows=[%d,%d) bias=%v acc=%v", tc.h, tc.w, tc.c, tc.y0, tc.y1, tc.bias, tc.acc)
}

// fill sets x to values in [-1, 1).
func fill(rng *rand.Rand, x []float32) { kerneltest.Fill(rng, x, -1, 1) }

// run checks one case against Conv3x3Ref: every slice has exactly the length its shape needs,
// rows outside [y0, y1) must keep their sentinel, and every computed value must agree to 1e-5
// relative to the sum of the magnitudes of its terms.
func (tc tcase) run(t *testing.T, rng *rand.Rand) {
	t.Helper()
	defer kerneltest.Release()
	n := tc.h * tc.w * tc.c
	src, dst := kerneltest.Floats(n), kerneltest.Floats(n)
	wp := kerneltest.Floats(9 * tc.c)
	fill(rng, src)
	fill(rng, wp)
	for i := range dst {
		dst[i] = kerneltest.Sentinel
	}
	rowLen := tc.w * tc.c
	fill(rng, dst[tc.y0*rowLen:tc.y1*rowLen])
	var bias []float32
	if tc.bias {
		bias = kerneltest.Floats(tc.c)
		fill(rng, bias)
	}
	want := append([]float32(nil), dst...)
	Conv3x3Ref(want, src, tc.h, tc.w, tc.c, wp, bias, tc.y0, tc.y1, tc.acc)
	// The scale of every output: the same sum on magnitudes.
	scale := kerneltest.Abs(dst)
	Conv3x3Ref(scale, kerneltest.Abs(src), tc.h, tc.w, tc.c, kerneltest.Abs(wp), kerneltest.Abs(bias), tc.y0, tc.y1, tc.acc)
	Conv3x3(dst, src, tc.h, tc.w, tc.c, wp, bias, tc.y0, tc.y1, tc.acc)
	kerneltest.Close(t, tc.String(), dst, want, scale, 1e-5)
}

var testChannels = []int{1, 3, 7, 8, 9, 15, 16, 17, 18, 24, 32, 36, 100, 120, 128, 240}

func cases() []tcase {
	var l []tcase
	sizes := [][2]int{{1, 1}, {1, 2}, {2, 1}, {1, 9}, {2, 2}, {3, 3}, {2, 3}, {3, 2}, {4, 5}, {5, 8}, {3, 13}, {6, 17}, {4, 24}, {3, 31}}
	for _, c := range testChannels {
		for _, s := range sizes {
			h, w := s[0], s[1]
			ranges := [][2]int{{0, h}, {0, 1}, {h - 1, h}, {h / 2, (h + 1) / 2}, {1, max(1, h-1)}}
			for ri, r := range ranges {
				for _, f := range []int{0, 1, 2, 3} {
					if ri > 0 && f != 3 && f != 0 {
						continue
					}
					l = append(l, tcase{h, w, c, r[0], r[1], f&1 != 0, f&2 != 0})
				}
			}
		}
	}
	// Every group remainder of the kernels, wider rows.
	for w := 1; w <= 26; w++ {
		for _, c := range []int{16, 120, 36} {
			l = append(l, tcase{3, w, c, 0, 3, true, true}, tcase{4, w, c, 1, 3, false, false})
		}
	}
	return l
}

func TestConv3x3(t *testing.T) {
	kerneltest.ForEachPlacement(t, func(t *testing.T) {
		kerneltest.ForEachImpl(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for _, tc := range cases() {
				tc.run(t, rng)
			}
		})
	})
}

// TestTiles forces narrow x tiles (every tile boundary inside the row) and wide ones.
func TestTiles(t *testing.T) {
	defer func(v int) { tileBytes = v }(tileBytes)
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, tb := range []int{1, 4 * 120 * 9, 4 * 120 * 16, 1 << 30} {
			tileBytes = tb
			for _, tc := range []tcase{{5, 70, 120, 0, 5, true, true}, {4, 37, 18, 1, 4, true, false}, {3, 29, 240, 0, 3, false, true}, {2, 64, 8, 0, 2, false, false}} {
				tc.run(t, rng)
			}
		}
	})
}

// TestModelShape runs the model's shape (120 channels) on a 64x64 image in one call and split
// into row ranges computed by concurrent goroutines, as the model does.
func TestModelShape(t *testing.T) {
	const h, w, c = 64, 64, 120
	rng := rand.New(rand.NewPCG(5, 6))
	src, wp, bias := make([]float32, h*w*c), make([]float32, 9*c), make([]float32, c)
	fill(rng, src)
	fill(rng, wp)
	fill(rng, bias)
	init := make([]float32, h*w*c)
	fill(rng, init)
	for _, acc := range []bool{false, true} {
		want := append([]float32(nil), init...)
		Conv3x3Ref(want, src, h, w, c, wp, bias, 0, h, acc)
		kerneltest.ForEachImpl(t, func(t *testing.T) {
			for _, parts := range []int{1, 2, 3, 7} {
				got := append([]float32(nil), init...)
				var wg sync.WaitGroup
				for p := 0; p < parts; p++ {
					lo, hi := h*p/parts, h*(p+1)/parts
					wg.Add(1)
					go func() {
						defer wg.Done()
						Conv3x3(got, src, h, w, c, wp, bias, lo, hi, acc)
					}()
				}
				wg.Wait()
				kerneltest.Close(t, fmt.Sprintf("acc=%v parts=%d", acc, parts), got, want, nil, 1e-4)
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	const h, w, c = 9, 21, 120
	src, dst := make([]float32, h*w*c), make([]float32, h*w*c)
	wp, bias := make([]float32, 9*c), make([]float32, c)
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		if n := testing.AllocsPerRun(20, func() {
			Conv3x3(dst, src, h, w, c, wp, bias, 0, h, false)
			Conv3x3(dst, src, h, w, c, wp, nil, 2, 5, true)
		}); n != 0 {
			t.Errorf("%v allocations per run", n)
		}
	})
}

func TestEmptyAndPanics(t *testing.T) {
	Conv3x3(nil, nil, 0, 0, 0, nil, nil, 0, 0, false)
	Conv3x3(nil, nil, 3, 0, 8, make([]float32, 72), nil, 0, 3, false)
	Conv3x3(nil, make([]float32, 24), 3, 1, 8, make([]float32, 72), nil, 1, 1, false)
	s := make([]float32, 2*3*4)
	wp := make([]float32, 9*4)
	kerneltest.MustPanic(t, map[string]func(){
		"short src":     func() { Conv3x3(s, s[:23], 2, 3, 4, wp, nil, 0, 2, false) },
		"short dst":     func() { Conv3x3(make([]float32, 23), s, 2, 3, 4, wp, nil, 0, 2, false) },
		"short weights": func() { Conv3x3(make([]float32, 24), s, 2, 3, 4, wp[:35], nil, 0, 2, false) },
		"short bias":    func() { Conv3x3(make([]float32, 24), s, 2, 3, 4, wp, make([]float32, 3), 0, 2, false) },
		"rows":          func() { Conv3x3(make([]float32, 24), s, 2, 3, 4, wp, nil, 1, 3, false) },
		"reversed rows": func() { Conv3x3(make([]float32, 24), s, 2, 3, 4, wp, nil, 2, 1, false) },
	})
}
