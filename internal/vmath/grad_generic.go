package vmath

import "math"

// Portable versions of the kernels of grad.go: float64 inside (float32 where the plain loops
// they replace compute in float32: softmax backward), so a little more accurate than the
// assembly kernels. The float64 accumulations of ColSums and LayerNormParamGradCols follow the
// kernels' order exactly (same bits).

func lnGeneric(dst, src []float32, m, c int, gamma, beta []float32, eps, mul float32, mean, rstd []float32, flags int) {
	gamma, beta = gamma[:c], beta[:c]
	cf, e, mu := float64(c), float64(eps), float64(mul)
	for i := 0; i < m; i++ {
		x := src[i*c : i*c+c]
		d := dst[i*c : i*c+c]
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		mn := s / cf
		var ss float64
		for _, v := range x {
			t := float64(v) - mn
			ss += t * t
		}
		rs := 1 / math.Sqrt(ss/cf+e)
		if flags&lnStats != 0 {
			mean[i], rstd[i] = float32(mn), float32(rs)
		}
		if flags&lnAdd != 0 {
			for j, v := range x {
				y := (float64(v)-mn)*rs*float64(gamma[j]) + float64(beta[j])
				d[j] = float32(float64(d[j]) + mu*y)
			}
			continue
		}
		for j, v := range x {
			d[j] = float32((float64(v)-mn)*rs*float64(gamma[j]) + float64(beta[j]))
		}
	}
}

func lnBwdGeneric(dx, dy, x []float32, m, c int, gamma, mean, rstd []float32, acc bool) {
	gamma = gamma[:c]
	cf := float64(c)
	for i := 0; i < m; i++ {
		xr, gy, d := x[i*c:i*c+c], dy[i*c:i*c+c], dx[i*c:i*c+c]
		mn, rs := float64(mean[i]), float64(rstd[i])
		var s1, s2 float64
		for j, v := range gy {
			g := float64(v) * float64(gamma[j])
			s1 += g
			s2 += g * (float64(xr[j]) - mn) * rs
		}
		a, b := s1/cf, s2/cf
		for j, v := range gy {
			xh := (float64(xr[j]) - mn) * rs
			r := rs * (float64(v)*float64(gamma[j]) - a - xh*b)
			if acc {
				d[j] = float32(float64(d[j]) + r)
			} else {
				d[j] = float32(r)
			}
		}
	}
}

// lnPGGeneric accumulates into accg and accb (n values each) as the kernels do.
func lnPGGeneric(accg, accb []float64, dy, x []float32, ld, m, n int, mean, rstd []float32) {
	accg, accb = accg[:n], accb[:n]
	for i := 0; i < m; i++ {
		mn, rs := float64(mean[i]), float64(rstd[i])
		g, xr := dy[i*ld:i*ld+n], x[i*ld:i*ld+n]
		for j, v := range g {
			d := float64(v)
			xh := (float64(xr[j]) - mn) * rs
			accg[j] = math.FMA(d, xh, accg[j])
			accb[j] += d
		}
	}
}

// geluGrad64 is GELU'(x) = Phi(x) + x*phi(x) with Phi as in gelu64.
func geluGrad64(x float64) float64 {
	if x < geluXLo {
		x = geluXLo
	}
	if x > geluZHi {
		x = geluZHi
	}
	z := math.Abs(x)
	u := geluAlpha/(1+geluP*z) + geluBeta
	u2 := u * u
	u4 := u2 * u2
	s := ((geluS[0] + geluS[1]*u) + u2*(geluS[2]+geluS[3]*u)) +
		u4*((geluS[4]+geluS[5]*u)+u2*(geluS[6]+geluS[7]*u)) +
		u4*u4*(geluS[8]+geluS[9]*u)
	e := 0.0
	if a := -0.5 * z * z; a >= flushLo {
		e = exp64(a)
	}
	h := e * s
	if x >= 0 {
		h = 1 - h
	}
	return h + x*e*(1/math.Sqrt(2*math.Pi))
}

func geluBwdGeneric(dx, x []float32) {
	dx = dx[:len(x)]
	for i, v := range x {
		dx[i] = float32(float64(dx[i]) * geluGrad64(float64(v)))
	}
}

// colSumsGeneric adds the column sums to acc (n values).
func colSumsGeneric(acc []float64, src []float32, ld, m, n int) {
	acc = acc[:n]
	for i := 0; i < m; i++ {
		for j, v := range src[i*ld : i*ld+n] {
			acc[j] += float64(v)
		}
	}
}

func l2HeadsGeneric(x []float32, ld, m, C, d int, norms []float32) {
	k := 0
	for i := 0; i < m; i++ {
		for h := i * ld; h < i*ld+C; h += d {
			s := x[h : h+d]
			var ss float64
			for _, v := range s {
				ss += float64(v) * float64(v)
			}
			nrm := math.Sqrt(ss)
			if norms != nil {
				norms[k] = float32(nrm)
				k++
			}
			den := math.Max(nrm, 1e-12)
			for j, v := range s {
				s[j] = float32(float64(v) / den)
			}
		}
	}
}

func smBwdGeneric(ds, p, dp []float32, ld, m, n int, D []float32, acc []float32, ldacc int) {
	for i := 0; i < m; i++ {
		pr, dpr, dsr := p[i*ld:i*ld+n], dp[i*ld:i*ld+n], ds[i*ld:i*ld+n]
		Di := D[i]
		if acc == nil {
			for j, v := range pr {
				dsr[j] = v * (dpr[j] - Di)
			}
			continue
		}
		ar := acc[i*ldacc : i*ldacc+n]
		for j, v := range pr {
			s := v * (dpr[j] - Di)
			dsr[j] = s
			ar[j] += s
		}
	}
}

func rowDotsGeneric(D []float32, a, b []float32, lda, ldb, m, d int) {
	for i := 0; i < m; i++ {
		ar, br := a[i*lda:i*lda+d], b[i*ldb:i*ldb+d]
		var s float64
		for c, v := range ar {
			s += float64(v) * float64(br[c])
		}
		D[i] = float32(s)
	}
}
