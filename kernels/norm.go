package kernels

import "math"

// LayerNorm normalises each of the m rows of src (c values each, contiguous)
// over its c channels: dst = (x - mean) / sqrt(var + eps) * gamma + beta,
// with the biased variance, as torch.nn.LayerNorm. Statistics are
// accumulated in float64. dst may alias src.
func LayerNorm(dst, src []float32, m, c int, gamma, beta []float32, eps float64) {
	for i := 0; i < m; i++ {
		x := src[i*c : (i+1)*c]
		var mean float64
		for _, v := range x {
			mean += float64(v)
		}
		mean /= float64(c)
		var vr float64
		for _, v := range x {
			d := float64(v) - mean
			vr += d * d
		}
		vr /= float64(c)
		inv := 1 / math.Sqrt(vr+eps)
		d := dst[i*c : (i+1)*c]
		for j, v := range x {
			d[j] = float32((float64(v)-mean)*inv)*gamma[j] + beta[j]
		}
	}
}

// L2Normalize divides each of the m rows of x (n values, row stride ld) by
// max(||row||_2, 1e-12), in place, as torch.nn.functional.normalize.
func L2Normalize(x []float32, ld, m, n int) {
	for i := 0; i < m; i++ {
		r := x[i*ld : i*ld+n]
		var s float64
		for _, v := range r {
			s += float64(v) * float64(v)
		}
		inv := float32(1 / math.Max(math.Sqrt(s), 1e-12))
		for j := range r {
			r[j] *= inv
		}
	}
}

// Softmax replaces each of the m rows of x (n values, row stride ld) by its
// softmax, in place, subtracting the row maximum first.
func Softmax(x []float32, ld, m, n int) {
	for i := 0; i < m; i++ {
		r := x[i*ld : i*ld+n]
		mx := r[0]
		for _, v := range r[1:] {
			if v > mx {
				mx = v
			}
		}
		var s float64
		for j, v := range r {
			e := float32(math.Exp(float64(v - mx)))
			r[j] = e
			s += float64(e)
		}
		inv := float32(1 / s)
		for j := range r {
			r[j] *= inv
		}
	}
}

// GELU applies the exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)),
// to x in place (torch.nn.GELU with approximate='none').
func GELU(x []float32) {
	for i, v := range x {
		f := float64(v)
		x[i] = float32(0.5 * f * (1 + math.Erf(f/math.Sqrt2)))
	}
}
