package vmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/grformer/grformer/internal/cpu"
	"github.com/grformer/grformer/internal/kerneltest"
)

// Tests of grad.go: every implementation against the float64 references, every slice against a
// guard page (alloc), the sizes of the model (rows of 60, heads of 20, ...) and the edges
// (tails of 1..15 lanes, several blocks, several assembly calls per slice).

// lnWidths are LayerNorm row lengths: the model's (8, 12, 16, 60, 120) and tails of every kind.
var lnWidths = []int{1, 3, 8, 12, 15, 16, 17, 31, 60, 120, 257}

func randSlice(rng *rand.Rand, n int, lo, hi float64) []float32 {
	x := kerneltest.Floats(n)
	kerneltest.Fill(rng, x, lo, hi)
	return x
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

// lnData returns m rows of c values around off with spread s (each row its own offset and
// spread, up to off and s), gamma and beta.
func lnData(rng *rand.Rand, m, c int, off, s float64) (x, gamma, beta []float32) {
	x = kerneltest.Floats(m * c)
	for i := 0; i < m; i++ {
		o, w := off*(2*rng.Float64()-1), s*(0.1+rng.Float64())
		kerneltest.Fill(rng, x[i*c:(i+1)*c], o-w, o+w)
	}
	return x, randSlice(rng, c, -2, 2), randSlice(rng, c, -1, 1)
}

// lnScale is the magnitude an error of LayerNorm output j of row i is measured against:
// |gamma|*(1 + |xhat|) + |beta|, in float64 from the reference statistics. The 1 is the
// resolution of the mean: no float32 computation places x - mean closer than about 1e-7 of
// the row's standard deviation (xhat ~ 1), so a value of xhat near 0 has that absolute error.
func lnScale(x []float32, i, c, j int, gamma, beta []float32, eps float32) float64 {
	mn, rs := lnStatsRef(x[i*c:i*c+c], eps)
	return math.Abs(float64(gamma[j]))*(1+math.Abs((float64(x[i*c+j])-mn)*rs)) + math.Abs(float64(beta[j]))
}

func TestLayerNormRows(t *testing.T) {
	const eps = 1e-5
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		var worst, worstStat float64
		for _, c := range lnWidths {
			for _, m := range []int{1, 3, 37} {
				for _, data := range [][2]float64{{0, 1}, {3, 0.01}, {100, 1}} {
					for _, variant := range []string{"stats", "nil", "inplace"} {
						x, gamma, beta := lnData(rng, m, c, data[0], data[1])
						want, wm, wr := make([]float32, m*c), make([]float32, m), make([]float32, m)
						LayerNormRowsRef(want, x, m, c, gamma, beta, eps, wm, wr)
						dst := kerneltest.Floats(m * c)
						var mean, rstd []float32
						switch variant {
						case "stats":
							mean, rstd = kerneltest.Floats(m), kerneltest.Floats(m)
						case "inplace":
							dst = clone(x)
						}
						src := x
						if variant == "inplace" {
							src = dst
						}
						LayerNormRows(dst, src, m, c, gamma, beta, eps, mean, rstd)
						name := fmt.Sprintf("c=%d m=%d data=%v %s", c, m, data, variant)
						for i := 0; i < m*c; i++ {
							e := math.Abs(float64(dst[i])-float64(want[i])) / lnScale(x, i/c, c, i%c, gamma, beta, eps)
							worst = math.Max(worst, e)
							if !(e <= 1e-6) {
								t.Fatalf("%s: [%d] = %v, want %v (error %.3g)", name, i, dst[i], want[i], e)
							}
						}
						for i := range mean {
							_, rs := lnStatsRef(x[i*c:i*c+c], eps)
							// In units of the row's std, beyond one float32 ulp of the mean.
							em := math.Max(0, math.Abs(float64(mean[i]-wm[i]))-1.2e-7*math.Abs(float64(wm[i]))) * rs
							er := math.Abs(float64(rstd[i]-wr[i])) / float64(wr[i])
							worstStat = math.Max(worstStat, math.Max(em, er))
							if !(em <= 1e-6 && er <= 1e-6) {
								t.Fatalf("%s: row %d: mean, rstd = %v, %v, want %v, %v", name, i, mean[i], rstd[i], wm[i], wr[i])
							}
						}
						kerneltest.Release()
					}
				}
			}
		}
		t.Logf("max error %.3g of |gamma|*(1 + |xhat|) + |beta|; statistics: %.3g (mean in units of std, rstd relative)", worst, worstStat)
	})
}

// TestLayerNormRowsSpecial: constant rows give beta (xhat = 0, rstd = 1/sqrt(eps)), a NaN makes
// its row NaN, chunks of many rows.
func TestLayerNormRowsSpecial(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		const c = 60
		gamma, beta := make([]float32, c), make([]float32, c)
		for j := range gamma {
			gamma[j], beta[j] = float32(j)+1, float32(j)*0.5
		}
		x := make([]float32, 2*c)
		for j := range x {
			x[j] = 0.1
		}
		x[c+7] = float32(math.NaN())
		dst, mean, rstd := make([]float32, 2*c), make([]float32, 2), make([]float32, 2)
		LayerNormRows(dst, x, 2, c, gamma, beta, 1e-5, mean, rstd)
		for j := 0; j < c; j++ {
			if math.Abs(float64(dst[j]-beta[j])) > 1e-5 {
				t.Fatalf("constant row: [%d] = %v, want %v", j, dst[j], beta[j])
			}
			if v := dst[c+j]; v == v {
				t.Fatalf("row with NaN: [%d] = %v", j, v)
			}
		}
		if math.Abs(float64(mean[0])-0.1) > 1e-8 || math.Abs(float64(rstd[0])-1/math.Sqrt(1e-5))/316.2 > 1e-6 {
			t.Fatalf("constant row: mean %v rstd %v", mean[0], rstd[0])
		}
		// More rows than one assembly call takes.
		rng := rand.New(rand.NewPCG(23, 24))
		m := 2*rowsPerCall(c) + 5
		x, gamma, beta = lnData(rng, m, c, 1, 1)
		want, got := make([]float32, m*c), make([]float32, m*c)
		wm, wr, gm, gr := make([]float32, m), make([]float32, m), make([]float32, m), make([]float32, m)
		LayerNormRowsRef(want, x, m, c, gamma, beta, 1e-5, wm, wr)
		LayerNormRows(got, x, m, c, gamma, beta, 1e-5, gm, gr)
		for i := range want {
			if e := math.Abs(float64(got[i]-want[i])) / lnScale(x, i/c, c, i%c, gamma, beta, 1e-5); e > 1e-6 {
				t.Fatalf("m=%d: [%d] = %v, want %v", m, i, got[i], want[i])
			}
		}
		for i := range wm {
			if math.Abs(float64(gr[i]-wr[i])) > 1e-6*float64(wr[i]) {
				t.Fatalf("m=%d: rstd[%d] = %v, want %v", m, i, gr[i], wr[i])
			}
		}
		kerneltest.Release()
	})
}

func TestLayerNormAddRows(t *testing.T) {
	const eps = 1e-5
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(25, 26))
		var worst float64
		for _, c := range lnWidths {
			for _, m := range []int{1, 5, 2*rowsPerCall(c) + 1} {
				for _, mul := range []float32{1, 0.75} {
					x, gamma, beta := lnData(rng, m, c, 2, 1)
					x0 := clone(x)
					tt := randSlice(rng, m*c, -3, 3)
					want := clone(tt)
					LayerNormAddRowsRef(want, x, m, c, gamma, beta, eps, mul)
					t0 := clone(tt)
					mean, rstd := make([]float32, m), make([]float32, m)
					LayerNormAddRows(tt, x, m, c, gamma, beta, eps, mul, mean, rstd)
					for i := range want {
						sc := math.Abs(float64(t0[i])) + float64(mul)*lnScale(x, i/c, c, i%c, gamma, beta, eps)
						e := math.Abs(float64(tt[i])-float64(want[i])) / sc
						worst = math.Max(worst, e)
						if !(e <= 1e-6) {
							t.Fatalf("c=%d m=%d mul=%v: [%d] = %v, want %v", c, m, mul, i, tt[i], want[i])
						}
						if x[i] != x0[i] {
							t.Fatalf("c=%d m=%d: src changed", c, m)
						}
					}
					// The statistics are those LayerNormRows stores, bit for bit.
					y, wm, wr := make([]float32, m*c), make([]float32, m), make([]float32, m)
					LayerNormRows(y, x, m, c, gamma, beta, eps, wm, wr)
					for i := range m {
						if mean[i] != wm[i] || rstd[i] != wr[i] {
							t.Fatalf("c=%d m=%d: row %d statistics %v, %v; LayerNormRows %v, %v", c, m, i, mean[i], rstd[i], wm[i], wr[i])
						}
					}
					// With mul = 1, the assembly kernels add the value LayerNormRows stores.
					if mul == 1 && cpu.Impl() != "generic" {
						for i := range y {
							if y[i]+t0[i] != tt[i] {
								t.Fatalf("c=%d m=%d: [%d] = %v, LayerNormRows + t = %v", c, m, i, tt[i], y[i]+t0[i])
							}
						}
					}
					kerneltest.Release()
				}
			}
		}
		t.Logf("max error %.3g of |t| + |mul|*(|gamma|*(1 + |xhat|) + |beta|)", worst)
	})
}

func TestLayerNormBackwardRows(t *testing.T) {
	const eps = 1e-5
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(27, 28))
		var worst float64
		for _, c := range lnWidths {
			for _, m := range []int{1, 4, 2*rowsPerCall(c) + 3} {
				for _, variant := range []string{"store", "acc", "alias", "alias-acc"} {
					x, gamma, _ := lnData(rng, m, c, 1, 2)
					mean, rstd := kerneltest.Floats(m), kerneltest.Floats(m)
					LayerNormRowsRef(make([]float32, m*c), x, m, c, gamma, gamma, eps, mean, rstd)
					dy := randSlice(rng, m*c, -1, 1)
					dx := randSlice(rng, m*c, -1, 1)
					acc := variant == "acc" || variant == "alias-acc"
					if variant == "alias" || variant == "alias-acc" {
						dx = dy
					}
					dy0, dx0 := clone(dy), clone(dx)
					want := clone(dx)
					LayerNormBackwardRowsRef(want, dy0, x, m, c, gamma, mean, rstd, acc)
					LayerNormBackwardRows(dx, dy, x, m, c, gamma, mean, rstd, acc)
					for i := 0; i < m; i++ {
						// Scale: rstd*(|g| + mean|g| + |xhat|*mean|g*xhat|) (+ |dx| before).
						var ag, agx float64
						for j := 0; j < c; j++ {
							g := float64(dy0[i*c+j] * gamma[j])
							xh := (float64(x[i*c+j]) - float64(mean[i])) * float64(rstd[i])
							ag += math.Abs(g) / float64(c)
							agx += math.Abs(g*xh) / float64(c)
						}
						for j := 0; j < c; j++ {
							k := i*c + j
							xh := (float64(x[k]) - float64(mean[i])) * float64(rstd[i])
							sc := float64(rstd[i])*(math.Abs(float64(dy0[k]*gamma[j]))+ag+math.Abs(xh)*agx) + 1e-30
							if acc {
								sc += math.Abs(float64(dx0[k]))
							}
							e := math.Abs(float64(dx[k])-float64(want[k])) / sc
							worst = math.Max(worst, e)
							if !(e <= 1e-6) {
								t.Fatalf("c=%d m=%d %s: [%d,%d] = %v, want %v (error %.3g)", c, m, variant, i, j, dx[k], want[k], e)
							}
						}
					}
					kerneltest.Release()
				}
			}
		}
		t.Logf("max error %.3g of rstd*(|g| + mean|g| + |xhat|*mean|g*xhat|) (+ |dx| when accumulating)", worst)
	})
}

// TestLayerNormParamGrad: every implementation gives the bits of the generic one (float64
// sums in the same order), for every split of the columns, within 1e-6 of the reference.
func TestLayerNormParamGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for _, n := range []int{1, 7, 8, 12, 20, 21, 60, 65, 120, 130, 180} {
		for _, m := range []int{1, 9, 2*rowsPerCall(n) + 7} {
			ld := n + 3
			dy := rowsCase(rng, m, n, ld, -1, 1)
			x := rowsCase(rng, m, n, ld, -3, 3)
			mean, rstd := randSlice(rng, m, -0.5, 0.5), randSlice(rng, m, 0.5, 2)
			dg0, db0 := randSlice(rng, n, -1, 1), randSlice(rng, n, -1, 1)
			wg, wb := clone(dg0), clone(db0)
			LayerNormParamGradColsRef(wg, wb, dy, x, ld, m, n, mean, rstd)
			var gen []float32
			kerneltest.ForEachImpl(t, func(t *testing.T) {
				dg, db := clone(dg0), clone(db0)
				LayerNormParamGradCols(dg, db, dy, x, ld, m, n, mean, rstd)
				var sg, sb []float32 // split in column ranges of 13, dbeta nil on the second pass
				for j0 := 0; j0 < n; j0 += 13 {
					j1 := min(n, j0+13)
					g, b := clone(dg0[j0:j1]), clone(db0[j0:j1])
					LayerNormParamGradCols(g, b, dy[j0:], x[j0:], ld, m, j1-j0, mean, rstd)
					g2 := clone(dg0[j0:j1])
					LayerNormParamGradCols(g2, nil, dy[j0:], x[j0:], ld, m, j1-j0, mean, rstd)
					for j := range g {
						if g[j] != g2[j] {
							t.Fatalf("n=%d m=%d: dgamma[%d] with dbeta nil %v, with dbeta %v", n, m, j0+j, g2[j], g[j])
						}
					}
					sg, sb = append(sg, g...), append(sb, b...)
				}
				if gen == nil {
					gen = append(clone(dg), db...)
				}
				for j := 0; j < n; j++ {
					if dg[j] != sg[j] || db[j] != sb[j] {
						t.Fatalf("n=%d m=%d: column %d split: %v %v, whole: %v %v", n, m, j, sg[j], sb[j], dg[j], db[j])
					}
					if dg[j] != gen[j] || db[j] != gen[n+j] {
						t.Fatalf("n=%d m=%d: column %d: %v %v, first implementation %v %v", n, m, j, dg[j], db[j], gen[j], gen[n+j])
					}
					if math.Abs(float64(dg[j]-wg[j])) > 1e-6*(math.Abs(float64(wg[j]))+1) ||
						math.Abs(float64(db[j]-wb[j])) > 1e-6*(math.Abs(float64(wb[j]))+1) {
						t.Fatalf("n=%d m=%d: column %d: %v %v, want %v %v", n, m, j, dg[j], db[j], wg[j], wb[j])
					}
				}
			})
			// LayerNormParamGrad is the contiguous case.
			if m > 0 {
				dyc, xc := make([]float32, m*n), make([]float32, m*n)
				for i := 0; i < m; i++ {
					copy(dyc[i*n:(i+1)*n], dy[i*ld:])
					copy(xc[i*n:(i+1)*n], x[i*ld:])
				}
				dg, db := clone(dg0), clone(db0)
				LayerNormParamGrad(dg, db, dyc, xc, m, n, mean, rstd)
				for j := 0; j < n; j++ {
					if dg[j] != gen[j] || db[j] != gen[n+j] {
						t.Fatalf("n=%d m=%d: LayerNormParamGrad column %d: %v %v, want %v %v", n, m, j, dg[j], db[j], gen[j], gen[n+j])
					}
				}
			}
			kerneltest.Release()
		}
	}
}

func TestGELUBackwardAccuracy(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		// Every step-th float32 with |x| <= 14, dx = 1.
		var x []float32
		for b := uint32(0); b <= 0x41600000; b += sweepStep() {
			x = append(x, math.Float32frombits(b), math.Float32frombits(b|0x80000000))
		}
		dx := make([]float32, len(x))
		for i := range dx {
			dx[i] = 1
		}
		GELUBackward(dx, x)
		var maxAbs, maxRel float64
		var atAbs, atRel float32
		bad := 0
		for i, v := range x {
			r := GELUGradRef(float64(v))
			e := math.Abs(float64(dx[i]) - r)
			fail := false
			if math.Abs(r) <= 1 {
				if e > maxAbs {
					maxAbs, atAbs = e, v
				}
				fail = e > 2e-7
			} else {
				if e/r > maxRel {
					maxRel, atRel = e/r, v
				}
				fail = e/r > 2e-7
			}
			if fail {
				if bad++; bad < 10 {
					t.Errorf("GELU'(%v) = %v, want %v", v, dx[i], r)
				}
			}
		}
		t.Logf("%d values, |x| <= 14: max abs error %.3g at %v (|GELU'| <= 1), max rel error %.3g at %v (above)",
			len(x), maxAbs, atAbs, maxRel, atRel)
	})
}

func TestGELUBackwardSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct{ x, dx, want float32 }{
		{0, 2, 1}, {float32(math.Copysign(0, -1)), 2, 1}, {inf, 3, 3}, {-inf, 3, 0}, {30, 2, 2}, {-30, 2, 0},
		{1e30, -1, -1}, {-1e30, 1, 0},
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		x, dx := make([]float32, 0, len(cases)+2), make([]float32, 0, len(cases)+2)
		for _, c := range cases {
			x, dx = append(x, c.x), append(dx, c.dx)
		}
		x, dx = append(x, float32(math.NaN()), 1), append(dx, 1, float32(math.NaN()))
		GELUBackward(dx, x)
		for i, c := range cases {
			if dx[i] != c.want {
				t.Errorf("%v * GELU'(%v) = %v, want %v", c.dx, c.x, dx[i], c.want)
			}
		}
		if v := dx[len(cases)]; v == v {
			t.Errorf("GELU'(NaN) = %v", v)
		}
		if v := dx[len(cases)+1]; v == v {
			t.Errorf("NaN * GELU'(1) = %v", v)
		}
	})
}

func TestGELUBackwardSizes(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(31, 32))
		for _, n := range append(sizes, chunk+3, 3*chunk) {
			x, dx := randSlice(rng, n, -8, 8), randSlice(rng, n, -2, 2)
			want := clone(dx)
			GELUBackwardRef(want, x)
			dx0 := clone(dx)
			GELUBackward(dx, x)
			for i := range want {
				if e := math.Abs(float64(dx[i]-want[i])) / math.Max(math.Abs(float64(dx0[i])), 1e-30); e > 3e-7 {
					t.Fatalf("n=%d: %v * GELU'(%v) = %v, want %v", n, dx0[i], x[i], dx[i], want[i])
				}
			}
			kerneltest.Release()
		}
	})
}

// TestColSums: every implementation gives the bits of the reference.
func TestColSums(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(33, 34))
		for _, n := range []int{1, 3, 4, 7, 8, 9, 30, 47, 48, 49, 60, 120, 127, 128, 129, 180, 300} {
			for _, m := range []int{1, 5, 2*rowsPerCall(n) + 9} {
				for _, pad := range []int{0, 3} {
					ld := n + pad
					src := rowsCase(rng, m, n, ld, -5, 5)
					dst := randSlice(rng, n, -100, 100)
					want := clone(dst)
					ColSumsRef(want, src, ld, m, n)
					ColSums(dst, src, ld, m, n)
					for j := range want {
						if dst[j] != want[j] {
							t.Fatalf("n=%d m=%d ld=%d: [%d] = %v, want %v", n, m, ld, j, dst[j], want[j])
						}
					}
					kerneltest.Release()
				}
			}
		}
		// Exact where a float32 running sum is not: 2^24 + 1 + 1 ...
		src := []float32{1 << 24, 1, 1, 1, 1}
		dst := []float32{0}
		ColSums(dst, src, 1, 5, 1)
		if dst[0] != 1<<24+4 {
			t.Fatalf("sum of 2^24, 1, 1, 1, 1 = %v", dst[0])
		}
	})
}

func TestL2NormalizeHeads(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(35, 36))
		var worst, worstN float64
		for _, d := range []int{1, 4, 8, 15, 16, 17, 20, 33} {
			for _, nh := range []int{1, 3} {
				for _, m := range []int{1, 7, 2*rowsPerCall(d*nh) + 1} {
					for _, withNorms := range []bool{false, true} {
						C := d * nh
						ld := C + 5
						x := rowsCase(rng, m, C, ld, -2, 2)
						if m > 3 {
							for j := 0; j < d; j++ {
								x[3*ld+j] = 0 // a zero slice stays 0, norm 0
							}
						}
						want := clone(x)
						wn := make([]float32, m*nh)
						L2NormalizeHeadsRef(want, ld, m, C, d, wn)
						var norms []float32
						if withNorms {
							norms = kerneltest.Floats(m * nh)
						}
						L2NormalizeHeads(x, ld, m, C, d, norms)
						worst = math.Max(worst, kerneltest.Close(t, fmt.Sprintf("d=%d nh=%d m=%d", d, nh, m), x, want, nil, 4e-7))
						for i := range norms {
							e := math.Abs(float64(norms[i]-wn[i])) / math.Max(float64(wn[i]), 1e-30)
							worstN = math.Max(worstN, e)
							if e > 3e-7 {
								t.Fatalf("d=%d nh=%d m=%d: norm %d = %v, want %v", d, nh, m, i, norms[i], wn[i])
							}
						}
						kerneltest.Release()
					}
				}
			}
		}
		t.Logf("max abs error %.3g (unit vectors); norms max rel error %.3g", worst, worstN)
	})
}

// TestSoftmaxBackward: the assembly kernels give the bits of the plain float32 loop (the
// generic version), and all come within rounding of the float64 reference.
func TestSoftmaxBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	for _, n := range append(sizes[1:], 64) {
		for _, m := range []int{1, 6, 2*rowsPerCall(n) + 1} {
			for _, variant := range []string{"plain", "alias", "acc", "acc0"} {
				ld := n + 2
				p := rowsCase(rng, m, n, ld, 0, 1)
				dp := rowsCase(rng, m, n, ld, -1, 1)
				D := randSlice(rng, m, -0.5, 0.5)
				var acc []float32
				ldacc := 0
				switch variant {
				case "acc":
					ldacc = n + 1
					acc = rowsCase(rng, m, n, ldacc, -1, 1)
				case "acc0":
					acc = randSlice(rng, n, -1, 1)
				}
				wantDs := rowsCase(rng, m, n, ld, 0, 0)
				wantAcc := clone(acc)
				SoftmaxBackwardAccRowsRef(wantDs, p, dp, ld, m, n, D, wantAcc, ldacc)
				var gen []float32
				kerneltest.ForEachImpl(t, func(t *testing.T) {
					dpc := clone(dp)
					ds := rowsCase(rng, m, n, ld, 0, 0)
					if variant == "alias" {
						ds = dpc
					}
					a := clone(acc)
					if acc == nil {
						SoftmaxBackwardRows(ds, p, dpc, ld, m, n, D)
					} else {
						SoftmaxBackwardAccRows(ds, p, dpc, ld, m, n, D, a, ldacc)
					}
					name := fmt.Sprintf("n=%d m=%d %s", n, m, variant)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							k := i*ld + j
							r := float64(p[k]) * (float64(dp[k]) - float64(D[i]))
							if e := math.Abs(float64(ds[k]) - r); e > 2.5e-7*math.Abs(r)+1e-30 {
								t.Fatalf("%s: ds[%d,%d] = %v, want %v", name, i, j, ds[k], wantDs[k])
							}
						}
					}
					if acc != nil && ldacc > 0 {
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								k := i*ldacc + j
								if e := math.Abs(float64(a[k] - wantAcc[k])); e > 2.5e-7*(math.Abs(float64(acc[k]))+1) {
									t.Fatalf("%s: acc[%d,%d] = %v, want %v", name, i, j, a[k], wantAcc[k])
								}
							}
						}
					}
					got := append(clone(ds), a...)
					if gen == nil {
						gen = got
						return
					}
					for k := range got {
						if !sameFloat(got[k], gen[k]) {
							t.Fatalf("%s: [%d] = %v, first implementation %v", name, k, got[k], gen[k])
						}
					}
				})
				kerneltest.Release()
			}
		}
	}
}

func TestRowDots(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(39, 40))
		var worst float64
		for _, d := range []int{0, 1, 4, 15, 16, 17, 20, 60, 100} {
			for _, m := range []int{1, 3, 2*rowsPerCall(d) + 1} {
				lda, ldb := d+3, 3*d+1
				a, b := rowsCase(rng, m, d, lda, -1, 1), rowsCase(rng, m, d, ldb, -1, 1)
				want, got := make([]float32, m), kerneltest.Floats(m)
				for i := range got {
					got[i] = kerneltest.Sentinel
				}
				RowDotsRef(want, a, b, lda, ldb, m, d)
				RowDots(got, a, b, lda, ldb, m, d)
				for i := range want {
					var s float64
					for c := 0; c < d; c++ {
						s += math.Abs(float64(a[i*lda+c]) * float64(b[i*ldb+c]))
					}
					e := math.Abs(float64(got[i]-want[i])) / math.Max(s, 1e-30)
					worst = math.Max(worst, e)
					if !(e <= 1e-6) {
						t.Fatalf("d=%d m=%d: D[%d] = %v, want %v", d, m, i, got[i], want[i])
					}
				}
				kerneltest.Release()
			}
		}
		t.Logf("max error %.3g of sum |a*b|", worst)
	})
}

func TestGradPanics(t *testing.T) {
	x := make([]float32, 100)
	kerneltest.MustPanic(t, map[string]func(){
		"ln short dst":     func() { LayerNormRows(x[:10], x, 2, 6, x, x, 1e-5, nil, nil) },
		"ln short gamma":   func() { LayerNormRows(x, x, 2, 6, x[:5], x, 1e-5, nil, nil) },
		"ln one stat":      func() { LayerNormRows(x, x, 2, 6, x, x, 1e-5, x, nil) },
		"ln short stats":   func() { LayerNormRows(x, x, 2, 6, x, x, 1e-5, x[:1], x[:1]) },
		"ln negative":      func() { LayerNormRows(x, x, -1, 6, x, x, 1e-5, nil, nil) },
		"lnadd short":      func() { LayerNormAddRows(x[:5], x, 2, 6, x, x, 1e-5, 1, nil, nil) },
		"lnadd one stat":   func() { LayerNormAddRows(x, x[50:], 2, 6, x, x, 1e-5, 1, x, nil) },
		"lnbwd short rstd": func() { LayerNormBackwardRows(x, x, x, 4, 6, x, x, x[:3], false) },
		"lnpg short":       func() { LayerNormParamGrad(x[:3], x, x, x, 4, 6, x, x) },
		"lnpg dbeta":       func() { LayerNormParamGradCols(x, x[:3], x, x, 8, 4, 6, x, x) },
		"gelubwd lengths":  func() { GELUBackward(x[:3], x[:4]) },
		"colsums ld":       func() { ColSums(x, x, 3, 4, 5) },
		"colsums dst":      func() { ColSums(x[:4], x, 5, 4, 5) },
		"l2 d":             func() { L2NormalizeHeads(x, 10, 2, 10, 3, nil) },
		"l2 norms":         func() { L2NormalizeHeads(x, 10, 2, 10, 5, x[:3]) },
		"smbwd D":          func() { SoftmaxBackwardRows(x, x, x, 10, 5, 10, x[:4]) },
		"smbwd acc":        func() { SoftmaxBackwardAccRows(x, x, x, 10, 5, 10, x, x[:20], 10) },
		"smbwd ldacc":      func() { SoftmaxBackwardAccRows(x, x, x, 10, 5, 10, x, x, 5) },
		"rowdots":          func() { RowDots(x, x, x, 10, 30, 5, 10) },
	})
	// Empty shapes do nothing.
	LayerNormRows(nil, nil, 0, 60, x, x, 1e-5, nil, nil)
	LayerNormBackwardRows(nil, nil, nil, 0, 60, x, nil, nil, true)
	LayerNormParamGrad(x, x, nil, nil, 0, 60, nil, nil)
	ColSums(x, nil, 60, 0, 60)
	L2NormalizeHeads(nil, 60, 0, 60, 20, nil)
	SoftmaxBackwardRows(nil, nil, nil, 0, 0, 5, nil)
	RowDots(nil, nil, nil, 0, 0, 0, 20)
	GELUBackward(nil, nil)
}

// TestGradNoAlloc: the kernels do not allocate (the float64 accumulators of ColSums and
// LayerNormParamGradCols live on the stack for the model's widths).
func TestGradNoAlloc(t *testing.T) {
	const m, c = 64, 60
	x, y := make([]float32, m*c), make([]float32, m*c)
	g, st, norms := make([]float32, c), make([]float32, 2*m), make([]float32, 3*m)
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for name, f := range map[string]func(){
			"LayerNormRows":         func() { LayerNormRows(y, x, m, c, g, g, 1e-5, st[:m], st[m:]) },
			"LayerNormAddRows":      func() { LayerNormAddRows(y, x, m, c, g, g, 1e-5, 1, st[:m], st[m:]) },
			"LayerNormBackwardRows": func() { LayerNormBackwardRows(y, x, x, m, c, g, st[:m], st[m:], true) },
			"LayerNormParamGrad":    func() { LayerNormParamGrad(g, g, x, x, m, c, st[:m], st[m:]) },
			"ColSums":               func() { ColSums(g, x, c, m, c) },
			"GELUBackward":          func() { GELUBackward(y, x) },
			"L2NormalizeHeads":      func() { L2NormalizeHeads(y, c, m, c, 20, norms) },
			"SoftmaxBackwardRows":   func() { SoftmaxBackwardAccRows(y, x, y, c, m, c, st, x, c) },
			"RowDots":               func() { RowDots(st, x, x, c, c, m, 20) },
		} {
			if n := testing.AllocsPerRun(5, f); n != 0 {
				t.Errorf("%s: %v allocations", name, n)
			}
		}
	})
}
