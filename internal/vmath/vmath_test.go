package vmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

// step is the stride through float32 bit patterns of the accuracy sweeps (a prime, so that
// all mantissa bits vary); -short takes a coarser one.
func sweepStep() uint32 {
	if testing.Short() {
		return 4099
	}
	return 251
}

var sizes = []int{0, 1, 15, 16, 17, 31, 255, 256, 257, 1000}

func bits(x float32) uint32 { return math.Float32bits(x) }

func sameFloat(a, b float32) bool {
	return a == b && math.Signbit(float64(a)) == math.Signbit(float64(b)) || a != a && b != b
}

// ---------------------------------------------------------------------------------------------
// Exp

// expErr returns the error of y against exp(x): relative where exp(x) is a normal float32,
// in units of the smallest subnormal (2^-149) below; ok reports whether y is acceptable.
func expErr(x, y float32) (rel, sub float64, ok bool) {
	r := math.Exp(float64(x))
	switch {
	case x != x:
		return 0, 0, y != y
	case r > math.MaxFloat32*(1+1e-7):
		return 0, 0, math.IsInf(float64(y), 1)
	case r > math.MaxFloat32*(1-1e-7):
		return 0, 0, y >= math.MaxFloat32*(1-3e-7)
	case r >= 0x1p-126:
		rel = math.Abs(float64(y)-r) / r
		return rel, 0, rel <= 3e-7
	}
	sub = math.Abs(float64(y)-r) / 0x1p-149
	return 0, sub, sub <= 1
}

func TestExpAccuracy(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		// Every step-th float32 in [-110, 110]: both signs, all exponents.
		var src []float32
		step := sweepStep()
		for b := uint32(0); b < 0x42dc0000; b += step {
			src = append(src, math.Float32frombits(b), math.Float32frombits(b|0x80000000))
		}
		dst := make([]float32, len(src))
		Exp(dst, src)
		var maxRel, maxSub float64
		var atRel float32
		bad := 0
		for i, x := range src {
			rel, sub, ok := expErr(x, dst[i])
			if !ok {
				if bad++; bad < 10 {
					t.Errorf("exp(%v) = %v, want %v", x, dst[i], math.Exp(float64(x)))
				}
			}
			if rel > maxRel {
				maxRel, atRel = rel, x
			}
			maxSub = math.Max(maxSub, sub)
		}
		t.Logf("%d values: max relative error %.3g (%.2f ulp of 1) at %v; subnormal results within %.2f * 2^-149",
			len(src), maxRel, maxRel/0x1p-23, atRel, maxSub)
	})
}

func TestExpSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	cases := []struct{ x, want float32 }{
		{0, 1}, {float32(math.Copysign(0, -1)), 1}, {-inf, 0}, {inf, inf}, {-1e9, 0}, {-1e30, 0},
		{-104, 0}, {-200, 0}, {89, inf}, {1e9, inf}, {-math.MaxFloat32, 0}, {math.MaxFloat32, inf},
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		src := make([]float32, 0, len(cases)+1)
		for _, c := range cases {
			src = append(src, c.x)
		}
		src = append(src, nan)
		dst := make([]float32, len(src))
		Exp(dst, src)
		for i, c := range cases {
			if !sameFloat(dst[i], c.want) {
				t.Errorf("exp(%v) = %v, want %v", c.x, dst[i], c.want)
			}
		}
		if y := dst[len(cases)]; y == y {
			t.Errorf("exp(NaN) = %v", y)
		}
	})
}

func TestExpSizes(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, n := range append(sizes, chunk+3, 3*chunk) {
			for _, inPlace := range []bool{false, true} {
				src, dst := kerneltest.Floats(n), kerneltest.Floats(n)
				kerneltest.Fill(rng, src, -90, 90)
				want := make([]float32, n)
				ExpRef(want, src)
				if inPlace {
					dst = src
				}
				Exp(dst, src)
				for i := range want {
					if d := math.Abs(float64(dst[i]-want[i])) / math.Max(float64(want[i]), 0x1p-126); d > 3e-7 && dst[i] != want[i] {
						t.Fatalf("n=%d inPlace=%v: [%d] = %v, want %v", n, inPlace, i, dst[i], want[i])
					}
				}
				kerneltest.Release()
			}
		}
	})
}

// ---------------------------------------------------------------------------------------------
// GELU

func geluExact(x float64) float64 { return 0.5 * x * math.Erfc(-x/math.Sqrt2) }

func TestGELUAccuracy(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		// Every step-th float32 with |x| <= 12.
		var src []float32
		step := sweepStep()
		for b := uint32(0); b <= 0x41400000; b += step {
			src = append(src, math.Float32frombits(b), math.Float32frombits(b|0x80000000))
		}
		dst := make([]float32, len(src))
		GELUInto(dst, src)
		var maxAbs, maxRel, maxTail float64
		var atAbs, atRel, atTail float32
		bad := 0
		for i, x := range src {
			y := float64(dst[i])
			r := geluExact(float64(x))
			e := math.Abs(y - r)
			var fail bool
			if math.Abs(r) <= 1 {
				if e > maxAbs {
					maxAbs, atAbs = e, x
				}
				fail = e > 2e-7
			} else {
				if e/math.Abs(r) > maxRel {
					maxRel, atRel = e/math.Abs(r), x
				}
				fail = e/math.Abs(r) > 2e-7
			}
			// Relative error of the small negative results, while they are normal floats.
			if x < -1 && math.Abs(r) > 0x1p-126 {
				if e/math.Abs(r) > maxTail {
					maxTail, atTail = e/math.Abs(r), x
				}
				fail = fail || e/math.Abs(r) > 2e-5
			}
			if fail {
				if bad++; bad < 10 {
					t.Errorf("GELU(%v) = %v, want %v", x, y, r)
				}
			}
		}
		t.Logf("%d values, |x| <= 12: max abs error %.3g at %v (|GELU| <= 1); max rel error %.3g at %v (|GELU| > 1); negative tail max rel error %.3g at %v",
			len(src), maxAbs, atAbs, maxRel, atRel, maxTail, atTail)
	})
}

func TestGELUSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	negz := float32(math.Copysign(0, -1))
	cases := []struct{ x, want float32 }{
		{0, 0}, {negz, negz}, {inf, inf}, {-inf, negz}, {1e30, 1e30}, {-1e30, negz},
		{10, 10}, {5.6, 5.6}, {100, 100}, {-20, negz}, {-30, negz}, {math.MaxFloat32, math.MaxFloat32},
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		x := make([]float32, 0, len(cases)+2)
		for _, c := range cases {
			x = append(x, c.x)
		}
		x = append(x, float32(math.NaN()), -10)
		GELU(x)
		for i, c := range cases {
			if !sameFloat(x[i], c.want) {
				t.Errorf("GELU(%v) = %v, want %v", c.x, x[i], c.want)
			}
		}
		if y := x[len(cases)]; y == y {
			t.Errorf("GELU(NaN) = %v", y)
		}
		if y, r := float64(x[len(cases)+1]), geluExact(-10); math.Abs(y-r) > 1e-6*math.Abs(r) {
			t.Errorf("GELU(-10) = %v, want %v", y, r)
		}
	})
}

func TestGELUSizes(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, n := range append(sizes, chunk+3, 3*chunk) {
			src, dst := kerneltest.Floats(n), kerneltest.Floats(n)
			kerneltest.Fill(rng, src, -8, 8)
			want := append([]float32(nil), src...)
			GELURef(want)
			GELUInto(dst, src)
			for i := range want {
				if d := math.Abs(float64(dst[i]-want[i])) / math.Max(1, math.Abs(float64(want[i]))); d > 3e-7 {
					t.Fatalf("n=%d: GELU(%v) = %v, want %v", n, src[i], dst[i], want[i])
				}
			}
			GELU(src)
			for i := range want {
				if bits(src[i]) != bits(dst[i]) {
					t.Fatalf("n=%d: in place GELU(x)[%d] = %v, out of place %v", n, i, src[i], dst[i])
				}
			}
			kerneltest.Release()
		}
	})
}

// ---------------------------------------------------------------------------------------------
// Softmax

// rowsCase fills an m×n matrix with row stride ld (gaps hold kerneltest.Sentinel).
func rowsCase(rng *rand.Rand, m, n, ld int, lo, hi float64) []float32 {
	if m == 0 || n == 0 {
		return kerneltest.Floats(0)
	}
	x := kerneltest.Floats((m-1)*ld + n)
	for i := range x {
		x[i] = kerneltest.Sentinel
	}
	for i := 0; i < m; i++ {
		kerneltest.Fill(rng, x[i*ld:i*ld+n], lo, hi)
	}
	return x
}

func TestSoftmaxRowsSizes(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, n := range append(sizes, 64, 1024) {
			for _, m := range []int{1, 3, 40} {
				for _, pad := range []int{0, 5} {
					ld := n + pad
					x := rowsCase(rng, m, n, ld, -30, 30)
					want := append([]float32(nil), x...)
					SoftmaxRowsRef(want, ld, m, n)
					SoftmaxRows(x, ld, m, n)
					kerneltest.Close(t, fmt.Sprintf("m=%d n=%d ld=%d", m, n, ld), x, want, nil, 1e-6)
					kerneltest.Release()
				}
			}
		}
	})
}

func TestSoftmaxRowsAccuracy(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, spread := range []float64{30, 3} {
			for _, n := range []int{64, 256, 1024} {
				m := 256
				x := rowsCase(rng, m, n, n, -spread, spread)
				want := append([]float32(nil), x...)
				SoftmaxRowsRef(want, n, m, n)
				SoftmaxRows(x, n, m, n)
				mx := kerneltest.Close(t, fmt.Sprintf("n=%d", n), x, want, nil, 1e-6)
				var maxSum, maxRel float64
				for i := 0; i < m; i++ {
					var s float64
					for j, v := range x[i*n : i*n+n] {
						s += float64(v)
						if w := float64(want[i*n+j]); w > 1e-30 {
							maxRel = math.Max(maxRel, math.Abs(float64(v)-w)/w)
						}
					}
					maxSum = math.Max(maxSum, math.Abs(s-1))
				}
				t.Logf("n=%d, values in [-%g, %g]: max abs error %.3g, max rel error %.3g (outputs > 1e-30), max |row sum - 1| %.3g",
					n, spread, spread, mx, maxRel, maxSum)
				kerneltest.Release()
			}
		}
	})
}

func TestSoftmaxRowsSpecial(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, n := range []int{1, 17, 256} {
			// Masked entries give exactly 0, others match the reference.
			x := rowsCase(rng, 4, n, n, -5, 5)
			for i := 0; i < 4; i++ {
				for j := 0; j < n; j++ {
					if (i+j)%3 == 1 && j != i {
						x[i*n+j] = -1e9
					}
				}
			}
			want := append([]float32(nil), x...)
			SoftmaxRowsRef(want, n, 4, n)
			SoftmaxRows(x, n, 4, n)
			kerneltest.Close(t, "masked", x, want, nil, 1e-6)
			for i, v := range want {
				if v == 0 && x[i] != 0 {
					t.Fatalf("n=%d: masked entry %d = %v, want 0", n, i, x[i])
				}
			}
			// A constant row gives 1/n exactly, a single value 1.
			x = make([]float32, n)
			for j := range x {
				x[j] = 7.5
			}
			SoftmaxRows(x, n, 1, n)
			for j, v := range x {
				if v != float32(1/float64(n)) {
					t.Fatalf("n=%d: constant row [%d] = %v, want %v", n, j, v, 1/float64(n))
				}
			}
			// NaN and +Inf anywhere make the row NaN; huge finite values are fine.
			for _, bad := range []float32{nan, inf} {
				x = make([]float32, n)
				x[n/2] = bad
				SoftmaxRows(x, n, 1, n)
				for j, v := range x {
					if v == v {
						t.Fatalf("n=%d: row with %v: [%d] = %v, want NaN", n, bad, j, v)
					}
				}
			}
			x = make([]float32, n)
			x[n-1] = 3e38
			SoftmaxRows(x, n, 1, n)
			if x[n-1] != 1 || (n > 1 && x[0] != 0) {
				t.Fatalf("n=%d: row with 3e38: %v ... %v", n, x[0], x[n-1])
			}
		}
	})
}

// ---------------------------------------------------------------------------------------------
// ScaleBiasSoftmaxRows

func TestScaleBiasSoftmaxRows(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, n := range append(sizes, 64) {
			for _, m := range []int{1, 5, 40} {
				for _, variant := range []struct {
					bias, labels bool
					ldb          int // -1: n + 3
				}{{false, false, 0}, {true, false, -1}, {false, true, 0}, {true, true, -1}, {true, true, 0}} {
					ld := n + 2
					x := rowsCase(rng, m, n, ld, -40, 40)
					var bias []float32
					ldb := 0
					if variant.bias {
						if variant.ldb < 0 {
							ldb = n + 3
						}
						bias = kerneltest.Floats(max(0, (m-1)*ldb+n))
						kerneltest.Fill(rng, bias, -3, 3)
					}
					var rl, cl []int32
					if variant.labels {
						// Row i is token (i+2)%n of a window of n tokens with region
						// labels cl, so that no row is masked whole.
						rl, cl = kerneltest.Int32s(m), kerneltest.Int32s(n)
						for j := range cl {
							cl[j] = int32(rng.IntN(3))
						}
						for i := range rl {
							if n > 0 {
								rl[i] = cl[(i+2)%n]
							}
						}
					}
					scale := float32(0.2236068)
					want := append([]float32(nil), x...)
					ScaleBiasSoftmaxRowsRef(want, ld, m, n, scale, bias, ldb, rl, cl)
					name := fmt.Sprintf("m=%d n=%d bias=%v labels=%v ldb=%d", m, n, variant.bias, variant.labels, ldb)
					ScaleBiasSoftmaxRows(x, ld, m, n, scale, bias, ldb, rl, cl)
					kerneltest.Close(t, name, x, want, nil, 1e-6)
					for i := 0; i < m && rl != nil; i++ {
						for j := 0; j < n; j++ {
							if rl[i] != cl[j] && x[i*ld+j] != 0 {
								t.Fatalf("%s: masked [%d,%d] = %v, want 0", name, i, j, x[i*ld+j])
							}
						}
					}
					kerneltest.Release()
				}
			}
		}
	})
}

// TestScaleBiasMatchesSteps checks the fused kernel against the unfused steps with the same
// kernels: x*scale + bias - 1e9 (in float32, FMA rounding), then SoftmaxRows.
func TestScaleBiasMatchesSteps(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		const n = 256
		x := rowsCase(rng, n, n, n, -20, 20)
		bias := make([]float32, n*n)
		kerneltest.Fill(rng, bias, -2, 2)
		lab := make([]int32, n)
		for j := range lab {
			lab[j] = int32(j / 100)
		}
		y := append([]float32(nil), x...)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				v := float32(float64(y[i*n+j])*0.25 + float64(bias[i*n+j]))
				if lab[i] != lab[j] {
					v += -1e9
				}
				y[i*n+j] = v
			}
		}
		SoftmaxRows(y, n, n, n)
		ScaleBiasSoftmaxRows(x, n, n, n, 0.25, bias, n, lab, lab)
		for i := range x {
			if d := math.Abs(float64(x[i] - y[i])); d > 2e-7 {
				t.Fatalf("[%d,%d] = %v, unfused %v", i/n, i%n, x[i], y[i])
			}
		}
		kerneltest.Release()
	})
}

func TestPanics(t *testing.T) {
	x := make([]float32, 10)
	l := make([]int32, 10)
	kerneltest.MustPanic(t, map[string]func(){
		"exp lengths":   func() { Exp(x[:3], x[:4]) },
		"gelu lengths":  func() { GELUInto(x[:3], x[:4]) },
		"short rows":    func() { SoftmaxRows(x, 4, 3, 4) },
		"small ld":      func() { SoftmaxRows(x, 2, 2, 3) },
		"negative":      func() { SoftmaxRows(x, 2, -1, 3) },
		"short bias":    func() { ScaleBiasSoftmaxRows(x, 5, 2, 5, 1, x[:9], 5, nil, nil) },
		"one label nil": func() { ScaleBiasSoftmaxRows(x, 5, 2, 5, 1, nil, 0, l, nil) },
		"short labels":  func() { ScaleBiasSoftmaxRows(x, 5, 2, 5, 1, nil, 0, l[:1], l) },
	})
	// Empty shapes do nothing.
	SoftmaxRows(nil, 0, 0, 5)
	SoftmaxRows(nil, 0, 5, 0)
	ScaleBiasSoftmaxRows(nil, 0, 0, 0, 1, nil, 0, nil, nil)
	Exp(nil, nil)
	GELU(nil)
}

// TestConstantsMatchAssembly checks that the constants asmgen.go wrote into kernels_amd64.s
// are the float32 roundings of generic.go's.
func TestConstantsMatchAssembly(t *testing.T) {
	src, err := os.ReadFile("kernels_amd64.s")
	if err != nil {
		t.Skip(err)
	}
	want := map[string]float64{
		"explo": expLo, "exphi": expHi, "gp": geluP, "galpha": geluAlpha, "gbeta": geluBeta,
		"gxlo": geluXLo, "gzhi": geluZHi, "log2e": math.Log2E,
	}
	for j := 2; j <= 6; j++ {
		want[fmt.Sprintf("e%d", j)] = expC[j]
	}
	for j, c := range geluS {
		want[fmt.Sprintf("s%d", j)] = c
	}
	got := map[string]uint32{}
	re := regexp.MustCompile(`DATA consts<>\+\d+\(SB\)/4, \$0x([0-9a-f]{8}) // (\w+)`)
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		v, _ := strconv.ParseUint(m[1], 16, 32)
		got[m[2]] = uint32(v)
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("constant %s missing from kernels_amd64.s", name)
		} else if g != math.Float32bits(float32(w)) {
			t.Errorf("constant %s = %v in kernels_amd64.s, want %v", name, math.Float32frombits(g), float32(w))
		}
	}
	if expC[0] != 1 || float32(expC[1]) != 1 {
		t.Error("the kernels assume expC[0] and float32(expC[1]) are 1")
	}
}
