package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

type tcase struct {
	transA, transB bool
	m, n, k        int
	lda, ldb, ldc  int
	bias, acc      bool
	packed         bool // through PackNT/PackNN and PackedB.MulA
}

func (tc tcase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d bias=%v acc=%v packed=%v",
		tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.lda, tc.ldb, tc.ldc, tc.bias, tc.acc, tc.packed)
}

// fill sets x to values in [-1, 1): the tolerance of run assumes |a|, |b| <= 1.
func fill(rng *rand.Rand, x []float32) { kerneltest.Fill(rng, x, -1, 1) }

// operands makes the guarded operands of a case: A [m×k] (or [k×m] with transA) with stride
// lda, B [k×n] (or [n×k] with transB) with stride ldb, C [m×n] with stride ldc whose gaps
// beyond n hold kerneltest.Sentinel, and a bias [n] if withBias; each slice exactly as long as
// its shape needs, values in [-1, 1).
func operands(rng *rand.Rand, m, n, k, lda, ldb, ldc int, transA, transB, withBias bool) (a, b, c, bias []float32) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	a = kerneltest.Floats(size(ar, ac, lda))
	b = kerneltest.Floats(size(br, bc, ldb))
	fill(rng, a)
	fill(rng, b)
	c = kerneltest.Floats(size(m, n, ldc))
	for i := range c {
		c[i] = kerneltest.Sentinel
	}
	for i := 0; i < m; i++ {
		fill(rng, c[i*ldc:i*ldc+n])
	}
	if withBias {
		bias = kerneltest.Floats(n)
		fill(rng, bias)
	}
	return a, b, c, bias
}

// size is the length of a row-major r×c matrix with row stride ld.
func size(r, c, ld int) int {
	if r == 0 || c == 0 {
		return 0
	}
	return (r-1)*ld + c
}

// run checks one case against GemmRef: slices have exactly the length their shape needs, against
// a guard page, and the values of C beyond n in each row (up to the stride) stay untouched.
func (tc tcase) run(t *testing.T, rng *rand.Rand) {
	t.Helper()
	defer kerneltest.Release()
	a, b, c, bias := operands(rng, tc.m, tc.n, tc.k, tc.lda, tc.ldb, tc.ldc, tc.transA, tc.transB, tc.bias)
	want := append([]float32(nil), c...)
	GemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, a, tc.lda, b, tc.ldb, want, tc.ldc, bias, tc.acc)
	if tc.packed {
		var p *PackedB
		if tc.transB {
			p = PackNT(tc.n, tc.k, b, tc.ldb)
		} else {
			p = PackNN(tc.k, tc.n, b, tc.ldb)
		}
		p.MulA(tc.transA, tc.m, a, tc.lda, c, tc.ldc, bias, tc.acc)
	} else {
		Gemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, a, tc.lda, b, tc.ldb, c, tc.ldc, bias, tc.acc)
	}
	// |a|, |b| <= 1: the summation-order error is at most ~k ulps of k.
	kerneltest.Close(t, tc.String(), c, want, nil, 1e-6*float64(tc.k+3)*4)
}

var small = []int{1, 2, 3, 11, 12, 13, 31, 32, 33}

func TestSmallShapes(t *testing.T) { testSmallShapes(t) }

// With a tiny cache budget every 32-column panel is its own group (amd64 kernels).
func TestSmallShapesOnePanelGroups(t *testing.T) {
	defer func(v int) { groupBudget = v }(groupBudget)
	groupBudget = 1
	testSmallShapes(t)
}

func testSmallShapes(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		v := 0
		for _, m := range small {
			for _, n := range small {
				for _, k := range small {
					for rep := 0; rep < 2; rep++ {
						tc := tcase{m: m, n: n, k: k,
							transA: v&1 != 0, transB: v&2 != 0, acc: v&4 != 0, bias: v&8 != 0, packed: v%5 == 0}
						v = v*7 + 3 + rep
						tc.setStrides(rng)
						tc.run(t, rng)
					}
				}
			}
		}
	})
}

// setStrides picks strides equal to the stored width or larger.
func (tc *tcase) setStrides(rng *rand.Rand) {
	pad := func() int {
		if rng.IntN(2) == 0 {
			return 0
		}
		return 1 + rng.IntN(40)
	}
	if tc.transA {
		tc.lda = tc.m + pad()
	} else {
		tc.lda = tc.k + pad()
	}
	if tc.transB {
		tc.ldb = tc.k + pad()
	} else {
		tc.ldb = tc.n + pad()
	}
	tc.ldc = tc.n + pad()
}

func TestAllVariantsEdges(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, sh := range [][3]int{{13, 33, 11}, {25, 17, 3}, {12, 16, 5}, {7, 48, 2}, {1, 1, 1}, {36, 64, 1}} {
			for v := 0; v < 32; v++ {
				tc := tcase{m: sh[0], n: sh[1], k: sh[2],
					transA: v&1 != 0, transB: v&2 != 0, acc: v&4 != 0, bias: v&8 != 0, packed: v&16 != 0}
				tc.setStrides(rng)
				tc.run(t, rng)
			}
		}
	})
}

func TestLargeShapes(t *testing.T) {
	sizes := []int{64, 256, 540}
	ns := []int{1, 13, 33, 64, 256, 540}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		v := 0
		for _, m := range sizes {
			for _, n := range ns {
				for _, k := range []int{1, 20, 540} {
					if testing.Short() && m*n*k > 1<<22 {
						continue
					}
					tc := tcase{m: m, n: n, k: k,
						transA: v&1 != 0, transB: v&2 != 0, acc: v&4 != 0, bias: v&8 != 0, packed: v%3 == 0}
					v++
					tc.setStrides(rng)
					tc.run(t, rng)
				}
			}
		}
	})
}

// The model's shapes, with their real strides.
func TestModelShapes(t *testing.T) {
	cases := []tcase{
		{m: 500, n: 30, k: 30, lda: 60, ldb: 30, ldc: 60, transB: true, packed: true, bias: true},    // grouped Linear half
		{m: 500, n: 120, k: 60, lda: 60, ldb: 60, ldc: 120, transB: true, packed: true, bias: true},  // 60->120
		{m: 500, n: 60, k: 120, lda: 120, ldb: 120, ldc: 60, transB: true, packed: true, acc: true},  // 120->60 + residual
		{m: 300, n: 60, k: 540, lda: 540, ldb: 540, ldc: 60, transB: true, packed: true, bias: true}, // conv im2col
		{m: 256, n: 256, k: 20, lda: 60, ldb: 60, ldc: 256, transB: true},                            // q.k^T, one head
		{m: 256, n: 20, k: 256, lda: 256, ldb: 60, ldc: 60},                                          // attn.v, NN
		{m: 20, n: 256, k: 256, lda: 60, ldb: 256, ldc: 256, transA: true},                           // (attn.v)^T = V^T·P^T
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, tc := range cases {
			tc.run(t, rng)
		}
	})
}

func TestKZeroAndEmpty(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		c := []float32{1, 2, 3, 4, 5, 6}
		Gemm(false, true, 2, 2, 0, nil, 1, nil, 1, c, 3, []float32{10, 20}, true)
		want := []float32{11, 22, 3, 14, 25, 6}
		for i := range c {
			if c[i] != want[i] {
				t.Fatalf("k=0: got %v want %v", c, want)
			}
		}
		NT(0, 5, 5, nil, 5, nil, 5, nil, 5, false)
		NN(5, 0, 5, nil, 5, nil, 5, nil, 5, false)
	})
}

func TestShortSlicePanics(t *testing.T) {
	kerneltest.MustPanic(t, map[string]func(){
		"short A": func() { NT(3, 3, 3, make([]float32, 8), 3, make([]float32, 9), 3, make([]float32, 9), 3, false) },
	})
}

func TestConcurrentPackedMul(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		const m, n, k = 97, 60, 60
		a, b := make([]float32, m*k), make([]float32, n*k)
		fill(rng, a)
		fill(rng, b)
		want := make([]float32, m*n)
		NTRef(m, n, k, a, k, b, k, want, n, false)
		p := PackNT(n, k, b, k)
		var wg sync.WaitGroup
		errs := make([]float64, 4)
		for g := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := make([]float32, m*n)
				for it := 0; it < 20; it++ {
					p.Mul(m, a, k, c, n, nil, false)
					NT(m, n, k, a, k, b, k, c, n, true)
				}
				for i := range c {
					errs[g] = max(errs[g], math.Abs(float64(c[i]/2-want[i])))
				}
			}()
		}
		wg.Wait()
		for g, e := range errs {
			if e > 1e-4 {
				t.Errorf("goroutine %d: max error %g", g, e)
			}
		}
	})
}

func TestNoAllocs(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		const m, n, k = 64, 37, 29
		a, b, c := make([]float32, m*k), make([]float32, n*k), make([]float32, m*n)
		p := PackNT(n, k, b, k)
		NT(m, n, k, a, k, b, k, c, n, false) // warm the pool
		allocs := testing.AllocsPerRun(20, func() {
			p.Mul(m, a, k, c, n, nil, false)
			NN(m, n, k, a, k, b, n, c, n, false)
			NT(m, n, k, a, k, b, k, c, n, true)
		})
		if allocs > 0.5 {
			t.Errorf("%v allocations per run", allocs)
		}
	})
}

// packNT with the AVX-512 transposing copy must give exactly what the Go loop gives.
func TestPackNT(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, n := range []int{1, 16, 31, 32, 33, 64, 100, 256} {
			for _, k := range []int{1, 2, 15, 16, 17, 20, 32, 60, 61} {
				for _, pad := range []int{0, 3} {
					ldb := k + pad
					b := kerneltest.Floats((n-1)*ldb + k)
					fill(rng, b)
					got := make([]float32, packedLen(n, k))
					for i := range got {
						got[i] = kerneltest.Sentinel
					}
					packNT(got, n, k, b, ldb)
					for p0 := 0; p0 < n; p0 += panelW {
						for kk := 0; kk < k; kk++ {
							for j := 0; j < panelW; j++ {
								var want float32
								if p0+j < n {
									want = b[(p0+j)*ldb+kk]
								}
								if g := got[p0*k+kk*panelW+j]; g != want {
									t.Fatalf("n=%d k=%d ldb=%d: panel %d kk %d j %d = %v, want %v", n, k, ldb, p0/panelW, kk, j, g, want)
								}
							}
						}
					}
					kerneltest.Release()
				}
			}
		}
	})
}
