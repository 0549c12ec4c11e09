package vmath

import "math"

// References of the kernels of grad.go: the definitions, in float64 with the math package,
// one value at a time, each result rounded once to float32. The tests compare every
// implementation with them.

// LayerNormRowsRef is LayerNormRows in float64: two passes for the mean and the biased
// variance, y = (x - mean)/sqrt(var + eps)*gamma + beta.
func LayerNormRowsRef(dst, src []float32, m, c int, gamma, beta []float32, eps float32, mean, rstd []float32) {
	for i := 0; i < m; i++ {
		mn, rs := lnStatsRef(src[i*c:i*c+c], eps)
		if mean != nil {
			mean[i], rstd[i] = float32(mn), float32(rs)
		}
		for j := 0; j < c; j++ {
			dst[i*c+j] = float32((float64(src[i*c+j])-mn)*rs*float64(gamma[j]) + float64(beta[j]))
		}
	}
}

// lnStatsRef returns the mean of x and 1/sqrt(var + eps).
func lnStatsRef(x []float32, eps float32) (mean, rstd float64) {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mn := s / float64(len(x))
	var ss float64
	for _, v := range x {
		ss += (float64(v) - mn) * (float64(v) - mn)
	}
	return mn, 1 / math.Sqrt(ss/float64(len(x))+float64(eps))
}

// LayerNormAddRowsRef is LayerNormAddRows in float64: t = t + mul*y, rounded once.
func LayerNormAddRowsRef(t, src []float32, m, c int, gamma, beta []float32, eps float32, mul float32) {
	for i := 0; i < m; i++ {
		mn, rs := lnStatsRef(src[i*c:i*c+c], eps)
		for j := 0; j < c; j++ {
			y := (float64(src[i*c+j])-mn)*rs*float64(gamma[j]) + float64(beta[j])
			t[i*c+j] = float32(float64(t[i*c+j]) + float64(mul)*y)
		}
	}
}

// LayerNormBackwardRowsRef is LayerNormBackwardRows in float64.
func LayerNormBackwardRowsRef(dx, dy, x []float32, m, c int, gamma, mean, rstd []float32, accumulate bool) {
	g := make([]float64, c)
	xh := make([]float64, c)
	for i := 0; i < m; i++ {
		var a, b float64
		for j := 0; j < c; j++ {
			g[j] = float64(dy[i*c+j]) * float64(gamma[j])
			xh[j] = (float64(x[i*c+j]) - float64(mean[i])) * float64(rstd[i])
			a += g[j]
			b += g[j] * xh[j]
		}
		a /= float64(c)
		b /= float64(c)
		for j := 0; j < c; j++ {
			r := float64(rstd[i]) * (g[j] - a - xh[j]*b)
			if accumulate {
				r += float64(dx[i*c+j])
			}
			dx[i*c+j] = float32(r)
		}
	}
}

// LayerNormParamGradColsRef is LayerNormParamGradCols in float64, column by column.
func LayerNormParamGradColsRef(dgamma, dbeta []float32, dy, x []float32, ld, m, n int, mean, rstd []float32) {
	for j := 0; j < n; j++ {
		var sg, sb float64
		for i := 0; i < m; i++ {
			d := float64(dy[i*ld+j])
			sg += d * (float64(x[i*ld+j]) - float64(mean[i])) * float64(rstd[i])
			sb += d
		}
		dgamma[j] += float32(sg)
		if dbeta != nil {
			dbeta[j] += float32(sb)
		}
	}
}

// GELUGradRef is the derivative of the exact GELU, Phi(x) + x*phi(x), in float64.
func GELUGradRef(x float64) float64 {
	return 0.5*math.Erfc(-x/math.Sqrt2) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}

// GELUBackwardRef is GELUBackward with GELUGradRef: dx[i] = float32(dx[i]*GELU'(x[i])).
func GELUBackwardRef(dx, x []float32) {
	for i, v := range x {
		g := 1.0
		if !math.IsInf(float64(v), 0) {
			g = GELUGradRef(float64(v))
		} else if v < 0 {
			g = 0
		}
		dx[i] = float32(float64(dx[i]) * g)
	}
}

// ColSumsRef is ColSums in float64, column by column.
func ColSumsRef(dst, src []float32, ld, m, n int) {
	for j := 0; j < n; j++ {
		var s float64
		for i := 0; i < m; i++ {
			s += float64(src[i*ld+j])
		}
		dst[j] += float32(s)
	}
}

// L2NormalizeHeadsRef is L2NormalizeHeads in float64: x / max(||x||, 1e-12).
func L2NormalizeHeadsRef(x []float32, ld, m, C, d int, norms []float32) {
	for i := 0; i < m; i++ {
		for h := 0; h < C/d; h++ {
			s := x[i*ld+h*d : i*ld+h*d+d]
			var ss float64
			for _, v := range s {
				ss += float64(v) * float64(v)
			}
			nrm := math.Sqrt(ss)
			if norms != nil {
				norms[i*(C/d)+h] = float32(nrm)
			}
			for j, v := range s {
				s[j] = float32(float64(v) / math.Max(nrm, 1e-12))
			}
		}
	}
}

// SoftmaxBackwardAccRowsRef is SoftmaxBackwardAccRows in float64: ds = p*(dp - D) rounded once,
// acc = acc + p*(dp - D) rounded once (acc may be nil).
func SoftmaxBackwardAccRowsRef(ds, p, dp []float32, ld, m, n int, D []float32, acc []float32, ldacc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := float64(p[i*ld+j]) * (float64(dp[i*ld+j]) - float64(D[i]))
			ds[i*ld+j] = float32(s)
			if acc != nil {
				acc[i*ldacc+j] = float32(float64(acc[i*ldacc+j]) + s)
			}
		}
	}
}

// RowDotsRef is RowDots in float64.
func RowDotsRef(D []float32, a, b []float32, lda, ldb, m, d int) {
	for i := 0; i < m; i++ {
		var s float64
		for c := 0; c < d; c++ {
			s += float64(a[i*lda+c]) * float64(b[i*ldb+c])
		}
		D[i] = float32(s)
	}
}
