package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/grformer/grformer/internal/cpu"
	"github.com/grformer/grformer/internal/kerneltest"
)

func TestToBF16(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	cases := []struct {
		x    float32
		want uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3f80}, {-2, 0xc000},
		{math.Float32frombits(0x3f808000), 0x3f80}, // halfway, even below: down
		{math.Float32frombits(0x3f818000), 0x3f82}, // halfway, odd below: up
		{math.Float32frombits(0x3f808001), 0x3f81}, // above halfway
		{math.Float32frombits(0x3f807fff), 0x3f80}, // below halfway
		{math.MaxFloat32, 0x7f80},                  // rounds up to +Inf
		{inf, 0x7f80}, {-inf, 0xff80},
		{math.Float32frombits(0x00400000), 0}, {math.Float32frombits(0x807fffff), 0x8000}, // denormals
		{math.Float32frombits(0x00800000), 0x0080}, // smallest normal
		{math.Float32frombits(0x7f800001), 0x7fc0}, // signalling NaN: quiet
		{math.Float32frombits(0xffc12345), 0xffc1},
	}
	for _, c := range cases {
		if got := ToBF16(c.x); got != c.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", math.Float32bits(c.x), got, c.want)
		}
	}
	if h := ToBF16(nan); FromBF16(h) == FromBF16(h) {
		t.Errorf("ToBF16(NaN) = %#04x, not a NaN", h)
	}
	for _, v := range []float32{1, -3.5, 0.15625, 65536} {
		if FromBF16(ToBF16(v)) != v {
			t.Errorf("%v does not survive bf16", v)
		}
	}
}

// ConvertBF16 must give ToBF16's bits on every implementation (VCVTNEPS2BF16 on the avx512
// level of a BF16 CPU): special values, halfway cases, random bits, every tail length, odd k
// padded with a zero, strides, guard pages.
func TestConvertBF16(t *testing.T) {
	special := []uint32{0, 0x80000000, 0x3f808000, 0x3f818000, 0x3f808001, 0x7f7fffff, 0xff7fffff,
		0x7f800000, 0xff800000, 0x00400000, 0x807fffff, 0x00800000, 0x7f800001, 0xffc12345, 0x7fffffff}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		kerneltest.ForEachPlacement(t, func(t *testing.T) {
			defer kerneltest.Release()
			rng := rand.New(rand.NewPCG(21, 22))
			for _, k := range []int{1, 2, 3, 15, 16, 17, 20, 31, 32, 33, 47, 60, 61, 540} {
				for _, pad := range []int{0, 2, 7} {
					m, lds := 5, k+pad
					ldd := k + k&1 + pad + pad&1
					src := kerneltest.Floats((m-1)*lds + k)
					for i := range src {
						src[i] = math.Float32frombits(rng.Uint32())
						if rng.IntN(3) == 0 {
							src[i] = math.Float32frombits(special[rng.IntN(len(special))])
						}
					}
					dst := u16view(kerneltest.Floats(((m-1)*ldd + k + k&1) / 2))
					for i := range dst {
						dst[i] = 0xbeef
					}
					ConvertBF16(m, k, src, lds, dst, ldd)
					for i := 0; i < m; i++ {
						for j := 0; j < ldd && i*ldd+j < len(dst); j++ {
							want := uint16(0xbeef)
							if j < k {
								want = ToBF16(src[i*lds+j])
							} else if j == k && k&1 != 0 {
								want = 0
							}
							if got := dst[i*ldd+j]; got != want {
								t.Fatalf("k=%d lds=%d ldd=%d [%d,%d]: %#04x from %#08x, want %#04x",
									k, lds, ldd, i, j, got, math.Float32bits(src[i*lds+j%k]), want)
							}
						}
					}
				}
			}
		})
	})
}

type bcase struct {
	m, n, k       int
	lda, ldb, ldc int
	transA        bool // with how == 0 only
	transB        bool
	bias, acc     bool
	how           int // 0: GemmBF16, 1: packed Mul, 2: packed MulBF16 on ConvertBF16's A
}

func (tc bcase) String() string {
	return fmt.Sprintf("m=%d n=%d k=%d lda=%d ldb=%d ldc=%d transA=%v transB=%v bias=%v acc=%v how=%d",
		tc.m, tc.n, tc.k, tc.lda, tc.ldb, tc.ldc, tc.transA, tc.transB, tc.bias, tc.acc, tc.how)
}

// run checks one case against GemmBF16Ref, on guarded buffers with untouched gaps in C, and
// returns the largest error relative to the scale of the products (the reference on |A|, |B|).
func (tc bcase) run(t *testing.T, rng *rand.Rand) float64 {
	t.Helper()
	defer kerneltest.Release()
	a, b, c, bias := operands(rng, tc.m, tc.n, tc.k, tc.lda, tc.ldb, tc.ldc, tc.transA, tc.transB, tc.bias)
	want := append([]float32(nil), c...)
	GemmBF16Ref(tc.transA, tc.transB, tc.m, tc.n, tc.k, a, tc.lda, b, tc.ldb, want, tc.ldc, bias, tc.acc)
	scale := make([]float32, len(c))
	GemmRef(tc.transA, tc.transB, tc.m, tc.n, tc.k, kerneltest.Abs(a), tc.lda, kerneltest.Abs(b), tc.ldb, scale, tc.ldc, kerneltest.Abs(bias), false)
	for i := range scale {
		scale[i] += 1 // the terms of C and bias, |.| <= 1
	}
	var p *PackedBF16
	if tc.how != 0 {
		if tc.transB {
			p = PackNTBF16(tc.n, tc.k, b, tc.ldb)
		} else {
			p = PackNNBF16(tc.k, tc.n, b, tc.ldb)
		}
	}
	switch tc.how {
	case 0:
		GemmBF16(tc.transA, tc.transB, tc.m, tc.n, tc.k, a, tc.lda, b, tc.ldb, c, tc.ldc, bias, tc.acc)
	case 1:
		p.Mul(tc.m, a, tc.lda, c, tc.ldc, bias, tc.acc)
	case 2:
		kp := tc.k + tc.k&1
		ldh := kp + 2*(tc.lda-tc.k) // even: the guarded uint16 buffer ends on a word
		ah := u16view(kerneltest.Floats(size(tc.m, kp, ldh) / 2))
		ConvertBF16(tc.m, tc.k, a, tc.lda, ah, ldh)
		p.MulBF16(tc.m, ah, ldh, c, tc.ldc, bias, tc.acc)
	}
	// Products of bf16 values are exact in fp32: only the order of the fp32 sums differs.
	return kerneltest.Close(t, tc.String(), c, want, scale, 1e-6*float64(tc.k+3)*4)
}

func (tc *bcase) setStrides(rng *rand.Rand) {
	pad := func() int {
		if rng.IntN(2) == 0 {
			return 0
		}
		return 1 + rng.IntN(40)
	}
	tc.lda = tc.k + pad()
	if tc.transA {
		tc.lda = tc.m + pad()
	}
	if tc.transB {
		tc.ldb = tc.k + pad()
	} else {
		tc.ldb = tc.n + pad()
	}
	tc.ldc = tc.n + pad()
}

func TestBF16SmallShapes(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(23, 24))
		v := 0
		for _, m := range small {
			for _, n := range small {
				for _, k := range small {
					tc := bcase{m: m, n: n, k: k, transB: v&1 != 0, acc: v&2 != 0, bias: v&4 != 0, how: v % 3}
					tc.transA = tc.how == 0 && v&8 != 0
					v = (v*7 + 5) % 1000003
					tc.setStrides(rng)
					tc.run(t, rng)
				}
			}
		}
	})
}

func TestBF16Edges(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		kerneltest.ForEachPlacement(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(25, 26))
			for _, sh := range [][3]int{{13, 33, 11}, {25, 17, 3}, {12, 16, 5}, {7, 48, 2}, {1, 1, 1},
				{36, 64, 1}, {30, 15, 21}, {40, 100, 7}, {14, 60, 541}} {
				for v := 0; v < 32; v++ {
					tc := bcase{m: sh[0], n: sh[1], k: sh[2], transB: v&1 != 0, acc: v&2 != 0, bias: v&4 != 0, how: v / 8 % 3, transA: v >= 24}
					tc.setStrides(rng)
					tc.run(t, rng)
				}
			}
		})
	})
}

// With a tiny cache budget every panel is its own group.
func TestBF16OnePanelGroups(t *testing.T) {
	defer func(v int) { groupBudget = v }(groupBudget)
	groupBudget = 1
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(27, 28))
		for v := 0; v < 9; v++ {
			tc := bcase{m: 29, n: 100, k: 37, transB: v&1 != 0, bias: true, acc: v&1 == 0, how: v % 3, transA: v%3 == 0 && v >= 3}
			tc.setStrides(rng)
			tc.run(t, rng)
		}
	})
}

// The model's shapes with their strides: Linear layers, im2col convolution, q·k^T and attn·v
// of one window and head (heads are 20-column blocks of 60-column matrices).
var bf16ModelShapes = []bcase{
	{m: 500, n: 60, k: 60, lda: 60, ldb: 60, ldc: 60, transB: true, bias: true, how: 1},
	{m: 500, n: 120, k: 60, lda: 60, ldb: 60, ldc: 120, transB: true, bias: true, how: 1},
	{m: 500, n: 60, k: 120, lda: 120, ldb: 120, ldc: 60, transB: true, acc: true, how: 2},
	{m: 300, n: 60, k: 540, lda: 540, ldb: 540, ldc: 60, transB: true, bias: true, how: 1},
	{m: 500, n: 30, k: 30, lda: 60, ldb: 30, ldc: 60, transB: true, bias: true, how: 2},
	{m: 256, n: 256, k: 20, lda: 60, ldb: 60, ldc: 256, transB: true},
	{m: 256, n: 20, k: 256, lda: 256, ldb: 60, ldc: 60},
	{m: 20, n: 256, k: 256, lda: 60, ldb: 256, ldc: 256, transA: true},         // (attn·v)^T = V^T·P^T
	{m: 60, n: 60, k: 700, lda: 60, ldb: 60, ldc: 60, transA: true, acc: true}, // dW = dY^T·X
	{m: 60, n: 540, k: 301, lda: 60, ldb: 540, ldc: 540, transA: true},         // conv dW
}

func TestBF16ModelShapes(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(29, 30))
		worst := 0.0
		for _, tc := range bf16ModelShapes {
			worst = max(worst, tc.run(t, rng))
		}
		t.Logf("largest |C - GemmBF16Ref| / (|A|·|B| + 1): %.2g (2^%.1f)", worst, math.Log2(worst))
	})
}

// The cost of bf16 against the fp32 product: each operand rounded to 8 significant bits
// (relative error <= 2^-8), so each product is off by at most ~2^-7 of |a·b| and, with errors
// of random sign, the sum by ~2^-8·sqrt(k) of a typical product. The test states the bound
// |C_bf16 - C_fp32| <= 2^-7·(|A|·|B|) + the fp32 summation error, and logs the measured
// error relative to |A|·|B| (max) and to the rms of C (rms).
func TestBF16AccuracyVsFP32(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, sh := range [][3]int{{256, 60, 60}, {256, 60, 120}, {256, 60, 540}, {256, 256, 20}, {256, 20, 256}} {
		m, n, k := sh[0], sh[1], sh[2]
		a, b := make([]float32, m*k), make([]float32, n*k)
		kerneltest.Fill(rng, a, -1, 1)
		kerneltest.Fill(rng, b, -1, 1)
		got, want, scale := make([]float32, m*n), make([]float32, m*n), make([]float32, m*n)
		PackNTBF16(n, k, b, k).Mul(m, a, k, got, n, nil, false)
		NT(m, n, k, a, k, b, k, want, n, false)
		NTRef(m, n, k, kerneltest.Abs(a), k, kerneltest.Abs(b), k, scale, n, false)
		worst := kerneltest.Close(t, fmt.Sprintf("%dx%dx%d", m, n, k), got, want, scale, 1.0/128+4e-6*float64(k+3))
		var se, sc float64
		for i := range got {
			d := float64(got[i] - want[i])
			se += d * d
			sc += float64(want[i]) * float64(want[i])
		}
		t.Logf("M×N×K %d×%d×%d: max |err|/(|A|·|B|) = %.2g (2^%.1f), rms err / rms C = %.2g (2^%.1f)",
			m, n, k, worst, math.Log2(worst), math.Sqrt(se/sc), math.Log2(math.Sqrt(se/sc)))
	}
}

func TestBF16KZeroAndPanics(t *testing.T) {
	c := []float32{1, 2, 3, 4, 5, 6}
	GemmBF16(false, true, 2, 2, 0, nil, 1, nil, 1, c, 3, []float32{10, 20}, true)
	PackNTBF16(2, 0, nil, 1).Mul(2, nil, 1, c, 3, nil, true)
	if want := []float32{11, 22, 3, 14, 25, 6}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("k=0: got %v want %v", c, want)
	}
	p := PackNTBF16(3, 3, make([]float32, 9), 3)
	kerneltest.MustPanic(t, map[string]func(){
		"short A":         func() { p.Mul(3, make([]float32, 8), 3, make([]float32, 9), 3, nil, false) },
		"short bf16 A":    func() { p.MulBF16(3, make([]uint16, 11), 4, make([]float32, 9), 3, nil, false) },
		"bf16 A stride 3": func() { p.MulBF16(3, make([]uint16, 12), 3, make([]float32, 9), 3, nil, false) },
		"short B": func() {
			GemmBF16(false, true, 3, 3, 3, make([]float32, 9), 3, make([]float32, 8), 3, make([]float32, 9), 3, nil, false)
		},
		"short C": func() {
			GemmBF16(false, false, 3, 3, 3, make([]float32, 9), 3, make([]float32, 9), 3, make([]float32, 8), 3, nil, false)
		},
		"short A^T": func() {
			GemmBF16(true, false, 3, 3, 3, make([]float32, 8), 3, make([]float32, 9), 3, make([]float32, 9), 3, nil, false)
		},
		"short bias": func() { p.Mul(3, make([]float32, 9), 3, make([]float32, 9), 3, make([]float32, 2), false) },
		"bad shape":  func() { PackNNBF16(3, 0, nil, 1) },
		"short dst":  func() { ConvertBF16(2, 3, make([]float32, 6), 3, make([]uint16, 7), 4) },
	})
}

func TestBF16NoAllocs(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		const m, n, k = 64, 37, 29
		a, b, c := make([]float32, m*k), make([]float32, n*m), make([]float32, m*n)
		ah := make([]uint16, m*(k+1))
		ConvertBF16(m, k, a, k, ah, k+1)
		p := PackNTBF16(n, k, b, k)
		GemmBF16(false, true, m, n, k, a, k, b, k, c, n, nil, false) // warm the pool
		GemmBF16(true, false, k, n, m, a, k, b, n, c, n, nil, false)
		allocs := testing.AllocsPerRun(20, func() {
			p.Mul(m, a, k, c, n, nil, false)
			p.MulBF16(m, ah, k+1, c, n, nil, true)
			NTBF16(m, n, k, a, k, b, k, c, n, true)
			NNBF16(m, n, k, a, k, b, n, c, n, true)
			GemmBF16(true, false, k, n, m, a, k, b, n, c, n, nil, true)
		})
		if allocs > 0.5 {
			t.Errorf("%v allocations per run", allocs)
		}
	})
}

func TestBF16Switch(t *testing.T) {
	t.Logf("AVX512_BF16: %v; bf16 products on the BF16 instructions at %s: %v", cpu.HasAVX512BF16, cpu.Impl(), cpu.HasBF16())
}

// One PackedBF16 repacked with other shapes and layouts (as attention does for every head)
// gives the products of a fresh one, and repacking into enough storage does not allocate.
func TestBF16Repack(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(33, 34))
		var p PackedBF16
		for _, sh := range [][4]int{{40, 256, 20, 1}, {40, 20, 256, 0}, {13, 7, 3, 1}, {50, 100, 61, 0}, {9, 33, 1, 1}} {
			m, n, k, nt := sh[0], sh[1], sh[2], sh[3] == 1
			a, b := make([]float32, m*k), make([]float32, n*k)
			fill(rng, a)
			fill(rng, b)
			got, want := make([]float32, m*n), make([]float32, m*n)
			ldb := n
			if nt {
				ldb = k
				p.PackNT(n, k, b, ldb)
			} else {
				p.PackNN(k, n, b, ldb)
			}
			if p.N() != n || p.K() != k {
				t.Fatalf("repacked to %d×%d, want %d×%d", p.N(), p.K(), n, k)
			}
			p.Mul(m, a, k, got, n, nil, false)
			GemmBF16Ref(false, nt, m, n, k, a, k, b, ldb, want, n, nil, false)
			kerneltest.Close(t, fmt.Sprint(sh), got, want, nil, 1e-6*float64(k+3)*4)
		}
		b := make([]float32, 256*20)
		p.PackNT(256, 20, b, 20)
		if allocs := testing.AllocsPerRun(10, func() { p.PackNT(256, 20, b, 20); p.PackNN(256, 20, b, 20) }); allocs > 0.5 {
			t.Errorf("repacking: %v allocations per run", allocs)
		}
	})
}

// The pair panels of PackNT and PackNN hold exactly ToBF16 of B's values (VCVTNE2PS2BF16 and
// the Go loop alike), zeros past an odd k and past n.
func TestPackBF16Layout(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		kerneltest.ForEachPlacement(t, func(t *testing.T) {
			defer kerneltest.Release()
			rng := rand.New(rand.NewPCG(35, 36))
			for _, n := range []int{1, 15, 16, 17, 20, 32, 33, 60, 100} {
				for _, k := range []int{1, 2, 3, 19, 20, 33, 60} {
					for _, nt := range []bool{false, true} {
						ldb := n + 3
						b := kerneltest.Floats(size(k, n, ldb))
						at := func(kk, j int) float32 { return b[kk*ldb+j] }
						if nt {
							ldb = k + 3
							b = kerneltest.Floats(size(n, k, ldb))
							at = func(kk, j int) float32 { return b[j*ldb+kk] }
						}
						for i := range b {
							b[i] = math.Float32frombits(rng.Uint32())
						}
						var p PackedBF16
						if nt {
							p.PackNT(n, k, b, ldb)
						} else {
							p.PackNN(k, n, b, ldb)
						}
						kh := pairs(k)
						for j := 0; j < (n+31)/32*32; j++ {
							for tt := 0; tt < kh; tt++ {
								var want uint32
								if j < n {
									want = uint32(ToBF16(at(2*tt, j)))
									if 2*tt+1 < k {
										want |= uint32(ToBF16(at(2*tt+1, j))) << 16
									}
								}
								if got := p.data[j/32*32*kh+tt*32+j%32]; got != want {
									t.Fatalf("nt=%v n=%d k=%d: pair %d column %d = %#08x, want %#08x", nt, n, k, tt, j, got, want)
								}
							}
						}
					}
				}
			}
		})
	})
}

// One PackedBF16 and the pooled buffers shared by concurrent Mul, MulBF16 and GemmBF16 calls.
func TestBF16Concurrent(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(37, 38))
		const m, n, k = 97, 60, 61
		a, b := make([]float32, m*k), make([]float32, n*k)
		fill(rng, a)
		fill(rng, b)
		want := make([]float32, m*n)
		GemmBF16Ref(false, true, m, n, k, a, k, b, k, want, n, nil, false)
		ah := make([]uint16, m*(k+1))
		ConvertBF16(m, k, a, k, ah, k+1)
		p := PackNTBF16(n, k, b, k)
		var wg sync.WaitGroup
		errs := make([]float64, 4)
		for g := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := make([]float32, m*n)
				for it := 0; it < 10; it++ {
					p.Mul(m, a, k, c, n, nil, false)
					p.MulBF16(m, ah, k+1, c, n, nil, true)
					NTBF16(m, n, k, a, k, b, k, c, n, true)
				}
				for i := range c {
					errs[g] = max(errs[g], math.Abs(float64(c[i]/3-want[i])))
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
