//go:build ignore

// coeffgen derives the polynomial coefficients of generic.go and asmgen.go (run it with
// `go run coeffgen.go`): weighted least squares in float64, turned into minimax fits by
// Lawson's reweighting.
//
//   - exp(r) on |r| <= ln2/2: 1 + c1 r + ... + c6 r^6, relative error minimised (2.0e-9).
//   - Phi(-z) = 0.5 erfc(z/sqrt2) = exp(-z^2/2) S(z) on z in [0, 10], S a polynomial of degree 9
//     in u = (2t - 1 - t10)/(1 - t10), t = 1/(1 + z/4), t10 = t at z = 10 (so u = 2.8t - 1.8
//     runs over [-1, 1]); relative error of S minimised (2.8e-9). The fit runs in the
//     Chebyshev basis of u and is converted to powers of u at the end.
package main

import (
	"fmt"
	"math"
)

// lsq solves min ||W(Ac-b)|| by Householder QR. A is rows x cols.
func lsq(A [][]float64, b, w []float64) []float64 {
	m, n := len(A), len(A[0])
	M := make([][]float64, m)
	y := make([]float64, m)
	for i := range A {
		M[i] = make([]float64, n)
		for j := range A[i] {
			M[i][j] = A[i][j] * w[i]
		}
		y[i] = b[i] * w[i]
	}
	for k := 0; k < n; k++ {
		var nrm float64
		for i := k; i < m; i++ {
			nrm += M[i][k] * M[i][k]
		}
		nrm = math.Sqrt(nrm)
		if M[k][k] > 0 {
			nrm = -nrm
		}
		v := make([]float64, m)
		for i := k; i < m; i++ {
			v[i] = M[i][k]
		}
		v[k] -= nrm
		var vv float64
		for i := k; i < m; i++ {
			vv += v[i] * v[i]
		}
		if vv == 0 {
			continue
		}
		for j := k; j < n; j++ {
			var s float64
			for i := k; i < m; i++ {
				s += v[i] * M[i][j]
			}
			s = 2 * s / vv
			for i := k; i < m; i++ {
				M[i][j] -= s * v[i]
			}
		}
		var s float64
		for i := k; i < m; i++ {
			s += v[i] * y[i]
		}
		s = 2 * s / vv
		for i := k; i < m; i++ {
			y[i] -= s * v[i]
		}
	}
	c := make([]float64, n)
	for k := n - 1; k >= 0; k-- {
		s := y[k]
		for j := k + 1; j < n; j++ {
			s -= M[k][j] * c[j]
		}
		c[k] = s / M[k][k]
	}
	return c
}

// minimax by Lawson iterations: residual r_i = (A c - b)_i (already relative).
func minimax(A [][]float64, b []float64, iters int) ([]float64, float64) {
	m := len(A)
	w := make([]float64, m)
	for i := range w {
		w[i] = 1.0 / float64(m)
	}
	var c []float64
	var best []float64
	bestErr := math.Inf(1)
	for it := 0; it < iters; it++ {
		sw := make([]float64, m)
		for i := range w {
			sw[i] = math.Sqrt(w[i])
		}
		c = lsq(A, b, sw)
		var sum, mx float64
		r := make([]float64, m)
		for i := range A {
			var s float64
			for j := range c {
				s += A[i][j] * c[j]
			}
			r[i] = math.Abs(s - b[i])
			mx = math.Max(mx, r[i])
		}
		if mx < bestErr {
			bestErr = mx
			best = append([]float64(nil), c...)
		}
		for i := range w {
			w[i] *= r[i]
			sum += w[i]
		}
		for i := range w {
			w[i] /= sum
		}
	}
	return best, bestErr
}

func chebToMono(c []float64) []float64 {
	n := len(c)
	// T_j as monomial coefficient arrays
	T := make([][]float64, n)
	T[0] = []float64{1}
	if n > 1 {
		T[1] = []float64{0, 1}
	}
	for j := 2; j < n; j++ {
		T[j] = make([]float64, j+1)
		for i, v := range T[j-1] {
			T[j][i+1] += 2 * v
		}
		for i, v := range T[j-2] {
			T[j][i] -= v
		}
	}
	m := make([]float64, n)
	for j := range c {
		for i, v := range T[j] {
			m[i] += c[j] * v
		}
	}
	return m
}

// S is exp(z^2/2) * 0.5 erfc(z/sqrt2).
func S(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) * math.Exp(z*z/2) }

func main() {
	// exp: unknowns c1..c6, residual (1 + r q(r))/e^r - 1, written as A c - b.
	const deg = 6
	R := math.Ln2 / 2
	var A [][]float64
	var b []float64
	for i := 0; i <= 4000; i++ {
		r := R * math.Cos(math.Pi*float64(i)/4000)
		row := make([]float64, deg)
		for j := 0; j < deg; j++ { // coefficient of (r/R)^(j+1)
			row[j] = math.Pow(r/R, float64(j+1)) / math.Exp(r)
		}
		A = append(A, row)
		b = append(b, 1-math.Exp(-r))
	}
	c, e := minimax(A, b, 300)
	fmt.Printf("// exp: max relative error %.3g\nvar expC = [7]float64{1", e)
	for j := range c {
		fmt.Printf(", %.17g", c[j]/math.Pow(R, float64(j+1)))
	}
	fmt.Println("}")

	// Phi(-z): degree 9 in u.
	const gdeg, p, zmax = 9, 0.25, 10.0
	tmin, tmax := 1/(1+p*zmax), 1.0
	A, b = nil, nil
	for i := 0; i <= 4000; i++ {
		z := zmax * float64(i) / 4000
		t := 1 / (1 + p*z)
		u := (2*t - tmax - tmin) / (tmax - tmin)
		s := S(z)
		row := make([]float64, gdeg+1)
		T0, T1 := 1.0, u
		for j := 0; j <= gdeg; j++ {
			switch j {
			case 0:
				row[j] = T0 / s
			case 1:
				row[j] = T1 / s
			default:
				T := 2*u*T1 - T0
				T0, T1 = T1, T
				row[j] = T / s
			}
		}
		A = append(A, row)
		b = append(b, 1)
	}
	c, e = minimax(A, b, 300)
	fmt.Printf("// Phi(-z): max relative error %.3g; alpha %.17g, beta %.17g\nvar geluS = [10]float64{", e, 2/(tmax-tmin), -(tmax+tmin)/(tmax-tmin))
	for j, v := range chebToMono(c) {
		if j > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("%.17g", v)
	}
	fmt.Println("}")
}
