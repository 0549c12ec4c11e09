package dwconv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/grformer/grformer/internal/cpu"
)

// forEachImpl runs f once per implementation this machine supports, forcing it.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	for _, name := range cpu.Impls() {
		t.Run(name, func(t *testing.T) {
			prev, err := cpu.SetImpl(name)
			if err != nil {
				t.Fatal(err)
			}
			defer cpu.SetImpl(prev)
			if cpu.Impl() != name {
				t.Fatalf("cpu.Impl() = %q after cpu.SetImpl(%q)", cpu.Impl(), name)
			}
			f(t)
		})
	}
}

// alloc returns a slice of n floats; on Linux the tests replace it with one placed against a
// guard page (guard_linux_test.go), after the slice or, with guardFront, before it.
var alloc = func(n int) []float32 { return make([]float32, n) }

// release frees what alloc handed out so far.
var release = func() {}

var guarded, guardFront bool

type tcase struct {
	h, w, c   int
	y0, y1    int
	bias, acc bool
}

func (tc tcase) String() string {
	return fmt.Sprintf("h=%d w=%d c=%d rows=[%d,%d) bias=%v acc=%v", tc.h, tc.w, tc.c, tc.y0, tc.y1, tc.bias, tc.acc)
}

const sentinel = 1234.5

func randFill(rng *rand.Rand, x []float32) {
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
}

func abs(x []float32) []float32 {
	a := make([]float32, len(x))
	for i, v := range x {
		a[i] = float32(math.Abs(float64(v)))
	}
	return a
}

// run checks one case against Conv3x3Ref: every slice has exactly the length its shape needs,
// rows outside [y0, y1) must keep their sentinel, and every computed value must agree to 1e-5
// relative to the sum of the magnitudes of its terms.
func (tc tcase) run(t *testing.T, rng *rand.Rand) {
	t.Helper()
	defer release()
	n := tc.h * tc.w * tc.c
	src, dst := alloc(n), alloc(n)
	wp := alloc(9 * tc.c)
	randFill(rng, src)
	randFill(rng, wp)
	for i := range dst {
		dst[i] = sentinel
	}
	rowLen := tc.w * tc.c
	randFill(rng, dst[tc.y0*rowLen:tc.y1*rowLen])
	var bias []float32
	if tc.bias {
		bias = alloc(tc.c)
		randFill(rng, bias)
	}
	want := append([]float32(nil), dst...)
	Conv3x3Ref(want, src, tc.h, tc.w, tc.c, wp, bias, tc.y0, tc.y1, tc.acc)
	// The scale of every output: the same sum on magnitudes.
	scale := abs(dst)
	var ab []float32
	if bias != nil {
		ab = abs(bias)
	}
	Conv3x3Ref(scale, abs(src), tc.h, tc.w, tc.c, abs(wp), ab, tc.y0, tc.y1, tc.acc)
	Conv3x3(dst, src, tc.h, tc.w, tc.c, wp, bias, tc.y0, tc.y1, tc.acc)
	bad := 0
	for i, got := range dst {
		y := i / max(rowLen, 1)
		if y < tc.y0 || y >= tc.y1 {
			if got != sentinel {
				t.Errorf("%v: row %d outside the range overwritten at %d: %v", tc, y, i, got)
				bad++
			}
		} else if d := math.Abs(float64(got - want[i])); !(d <= 1e-5*float64(scale[i])+1e-30) {
			p := i / tc.c
			t.Errorf("%v: pixel (%d, %d) ch %d = %v, want %v (|diff| %.3g, scale %.3g)",
				tc, p/tc.w, p%tc.w, i%tc.c, got, want[i], d, scale[i])
			bad++
		}
		if bad > 5 {
			t.FailNow()
		}
	}
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
	defer func() { guardFront = false }()
	for _, front := range []bool{false, true} {
		if front && !guarded {
			continue
		}
		guardFront = front
		t.Run(fmt.Sprintf("guardFront=%v", front), func(t *testing.T) {
			forEachImpl(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 2))
				for _, tc := range cases() {
					tc.run(t, rng)
				}
			})
		})
	}
}

// TestTiles forces narrow x tiles (every tile boundary inside the row) and wide ones.
func TestTiles(t *testing.T) {
	defer func(v int) { tileBytes = v }(tileBytes)
	forEachImpl(t, func(t *testing.T) {
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
	randFill(rng, src)
	randFill(rng, wp)
	randFill(rng, bias)
	init := make([]float32, h*w*c)
	randFill(rng, init)
	for _, acc := range []bool{false, true} {
		want := append([]float32(nil), init...)
		Conv3x3Ref(want, src, h, w, c, wp, bias, 0, h, acc)
		forEachImpl(t, func(t *testing.T) {
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
				for i := range got {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*10 {
						t.Fatalf("acc=%v parts=%d: [%d] = %v, want %v", acc, parts, i, got[i], want[i])
					}
				}
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	const h, w, c = 9, 21, 120
	src, dst := make([]float32, h*w*c), make([]float32, h*w*c)
	wp, bias := make([]float32, 9*c), make([]float32, c)
	forEachImpl(t, func(t *testing.T) {
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
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	s := make([]float32, 2*3*4)
	wp := make([]float32, 9*4)
	mustPanic("short src", func() { Conv3x3(s, s[:23], 2, 3, 4, wp, nil, 0, 2, false) })
	mustPanic("short dst", func() { Conv3x3(make([]float32, 23), s, 2, 3, 4, wp, nil, 0, 2, false) })
	mustPanic("short weights", func() { Conv3x3(make([]float32, 24), s, 2, 3, 4, wp[:35], nil, 0, 2, false) })
	mustPanic("short bias", func() { Conv3x3(make([]float32, 24), s, 2, 3, 4, wp, make([]float32, 3), 0, 2, false) })
	mustPanic("rows", func() { Conv3x3(make([]float32, 24), s, 2, 3, 4, wp, nil, 1, 3, false) })
	mustPanic("reversed rows", func() { Conv3x3(make([]float32, 24), s, 2, 3, 4, wp, nil, 2, 1, false) })
}
