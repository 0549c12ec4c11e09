package vmath

import "math"

// The portable implementation: the same algorithms as the assembly kernels (see doc.go), one
// value at a time in float64, so it is a little more accurate than they are.

// Coefficients, shared with asmgen.go (which rounds them to float32): keep both in step
// (TestConstantsMatchAssembly checks kernels_amd64.s).

// expC: exp(r) ~ sum expC[j] r^j on |r| <= ln2/2, minimax relative error 2.0e-9.
var expC = [7]float64{1, 1.0000000321653293, 0.49999994209009557, 0.16666431261325412,
	0.041668002039134268, 0.0083741554217872261, 0.0013843653660263087}

const (
	expLo = -112 // exp clamps its argument to [expLo, expHi]: exp(-112) = 0 and exp(89) = +Inf in float32
	expHi = 89

	// flushLo: softmax and GELU take exp(v) = 0 for v < flushLo, so that the kernels never
	// produce a subnormal float (slow on some CPUs). Softmax outputs below exp(-80) = 1.8e-35
	// and GELU(x) for x < -12.6 (|GELU| < 1e-35) become 0.
	flushLo = -80

	// Phi(-z) = 0.5*erfc(z/sqrt2) ~ exp(-z*z/2) * S(u), u = geluAlpha/(1 + geluP*z) + geluBeta
	// (u runs over [-1, 1] for z in [0, 10]), S(u) = sum geluS[j] u^j: minimax relative error
	// 2.8e-9 on [0, 10].
	geluP     = 0.25
	geluAlpha = 2.8
	geluBeta  = -1.8
	geluXLo   = -20 // GELU(x) for x < -20 is -0 in float32: x is clamped there (GELU(-Inf) = -0)
	geluZHi   = 20  // |x| is clamped to 20 before the rational step (GELU(+Inf) = +Inf)

	magic52 = 0x1.8p52 // adding it rounds a float64 to an integer
)

var geluS = [10]float64{0.15514360644500388, 0.18728442552414079, 0.10355282388635735,
	0.041539499119876575, 0.011199176613389148, 0.0015006429148109513,
	-0.00014262124235747144, -8.1533266018701201e-05, 3.6059473339563961e-07,
	3.6180132984332435e-06}

// exp64 is exp(v) for v in [expLo, expHi] (or NaN): 2^k * p(v - k*ln2), k = round(v*log2 e).
func exp64(v float64) float64 {
	t := v*math.Log2E + magic52
	k := t - magic52
	r := v - k*math.Ln2
	// Estrin's scheme: a shorter dependency chain than Horner's, for the scalar pipeline.
	r2 := r * r
	p := (expC[0] + expC[1]*r) + r2*((expC[2]+expC[3]*r)+r2*((expC[4]+expC[5]*r)+r2*expC[6]))
	ki := int64(math.Float64bits(t) - math.Float64bits(magic52))
	return p * math.Float64frombits(uint64(ki+1023)<<52)
}

// clampExp limits v to [expLo, expHi]; NaN stays NaN.
func clampExp(v float64) float64 {
	if v < expLo {
		return expLo
	}
	if v > expHi {
		return expHi
	}
	return v
}

func expGeneric(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = float32(exp64(clampExp(float64(x))))
	}
}

// gelu64 is x*Phi(x) with Phi(x) = 1 - Phi(-x) for x >= 0.
func gelu64(x float64) float64 {
	if x < geluXLo {
		x = geluXLo
	}
	z := math.Abs(x)
	if z > geluZHi {
		z = geluZHi
	}
	u := geluAlpha/(1+geluP*z) + geluBeta
	u2 := u * u
	u4 := u2 * u2
	s := ((geluS[0] + geluS[1]*u) + u2*(geluS[2]+geluS[3]*u)) +
		u4*((geluS[4]+geluS[5]*u)+u2*(geluS[6]+geluS[7]*u)) +
		u4*u4*(geluS[8]+geluS[9]*u)
	h := 0.0
	if a := -0.5 * z * z; a >= flushLo {
		h = exp64(a) * s
	}
	if x < 0 {
		return x * h
	}
	return x * (1 - h)
}

func geluGeneric(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = float32(gelu64(float64(x)))
	}
}

// softmaxRow64 is the softmax of one row, exponentials summed in float64.
func softmaxRow64(r []float32) {
	mx := float32(math.Inf(-1))
	for _, v := range r {
		if v > mx {
			mx = v
		}
	}
	m := float64(mx)
	var s float64
	for j, v := range r {
		d := float64(v) - m
		e := 0.0
		if !(d < flushLo) {
			e = exp64(clampExp(d))
		}
		r[j] = float32(e)
		s += e
	}
	inv := 1 / s
	for j, v := range r {
		r[j] = float32(float64(v) * inv)
	}
}

func softmaxGeneric(x []float32, ld, m, n int) {
	for i := 0; i < m; i++ {
		softmaxRow64(x[i*ld : i*ld+n])
	}
}

func sbSoftmaxGeneric(x []float32, ld, m, n int, scale float32, bias []float32, ldb int, rowLabels, colLabels []int32) {
	sc := float64(scale)
	for i := 0; i < m; i++ {
		r := x[i*ld : i*ld+n]
		if bias != nil {
			b := bias[i*ldb : i*ldb+n]
			for j, v := range r {
				// The product is exact in float64: one rounding, as the kernels' FMA.
				r[j] = float32(float64(v)*sc + float64(b[j]))
			}
		} else {
			for j, v := range r {
				r[j] = v * scale
			}
		}
		if rowLabels != nil {
			li := rowLabels[i]
			for j, lj := range colLabels[:n] {
				if lj != li {
					r[j] += -1e9
				}
			}
		}
		softmaxRow64(r)
	}
}
