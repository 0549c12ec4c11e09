package vmath

import "math"

// The reference versions: plain loops in float64 with the math package, the definitions the
// tests compare every implementation with. They are slow (math.Exp, math.Erfc per value).

// ExpRef sets dst[i] = float32(math.Exp(src[i])); dst and src have the same length.
func ExpRef(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float32(math.Exp(float64(v)))
	}
}

// GELURef applies 0.5*x*(1 + erf(x/sqrt 2)) in place, computed as 0.5*x*erfc(-x/sqrt 2)
// (the same function, without cancellation for negative x).
func GELURef(x []float32) {
	for i, v := range x {
		f := float64(v)
		x[i] = float32(0.5 * f * math.Erfc(-f/math.Sqrt2))
	}
}

// SoftmaxRowsRef is SoftmaxRows in float64.
func SoftmaxRowsRef(x []float32, ld, m, n int) {
	checkRows("SoftmaxRowsRef", x, ld, m, n)
	if m == 0 || n == 0 {
		return
	}
	row := make([]float64, n)
	for i := 0; i < m; i++ {
		r := x[i*ld : i*ld+n]
		for j, v := range r {
			row[j] = float64(v)
		}
		softmaxRowRef(row, r)
	}
}

func softmaxRowRef(row []float64, out []float32) {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, v)
	}
	var s float64
	for j, v := range row {
		row[j] = math.Exp(v - mx)
		s += row[j]
	}
	for j, v := range row {
		out[j] = float32(v / s)
	}
}

// ScaleBiasSoftmaxRowsRef is ScaleBiasSoftmaxRows in float64: the logits
// x*scale + bias - 1e9*(labels differ) are formed in float64 too.
func ScaleBiasSoftmaxRowsRef(x []float32, ld int, m, n int, scale float32, bias []float32, ldb int, rowLabels, colLabels []int32) {
	checkRows("ScaleBiasSoftmaxRowsRef", x, ld, m, n)
	if m == 0 || n == 0 {
		return
	}
	row := make([]float64, n)
	for i := 0; i < m; i++ {
		r := x[i*ld : i*ld+n]
		for j, v := range r {
			f := float64(v) * float64(scale)
			if bias != nil {
				f += float64(bias[i*ldb+j])
			}
			if rowLabels != nil && rowLabels[i] != colLabels[j] {
				f -= 1e9
			}
			row[j] = f
		}
		softmaxRowRef(row, r)
	}
}
