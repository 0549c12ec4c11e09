package gemm

// runGeneric is the portable implementation: register tiles of 2 rows × 4 columns in plain Go
// (8 accumulators, 4 B values and 2 A values fit the 15 float registers the Go compiler uses
// on amd64), k innermost, reading B through the same bsrc description as the assembly kernels.
func runGeneric(m, n, k int, a []float32, rsa, csa int, b bsrc, c []float32, ldc int, bias []float32, acc bool) {
	i := 0
	for ; i+2 <= m; i += 2 {
		gen2(n, k, a[i*rsa:], a[(i+1)*rsa:], csa, b, c[i*ldc:i*ldc+n], c[(i+1)*ldc:(i+1)*ldc+n], bias, acc)
	}
	if i < m {
		gen1(n, k, a[i*rsa:], csa, b, c[i*ldc:i*ldc+n], bias, acc)
	}
}

func gen2(n, k int, a0, a1 []float32, csa int, b bsrc, c0, c1 []float32, bias []float32, acc bool) {
	bp, ks := b.p, b.ks
	j := 0
	for ; j+4 <= n; j += 4 {
		bo := (j/panelW)*b.ps + j%panelW
		var s00, s01, s02, s03, s10, s11, s12, s13 float32
		ao := 0
		for kk := 0; kk < k; kk++ {
			bb := bp[bo : bo+4 : bo+4]
			x0, x1 := a0[ao], a1[ao]
			b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
			s00 += x0 * b0
			s01 += x0 * b1
			s02 += x0 * b2
			s03 += x0 * b3
			s10 += x1 * b0
			s11 += x1 * b1
			s12 += x1 * b2
			s13 += x1 * b3
			bo += ks
			ao += csa
		}
		d0 := c0[j : j+4 : j+4]
		d1 := c1[j : j+4 : j+4]
		if bias != nil {
			bb := bias[j : j+4 : j+4]
			s00 += bb[0]
			s01 += bb[1]
			s02 += bb[2]
			s03 += bb[3]
			s10 += bb[0]
			s11 += bb[1]
			s12 += bb[2]
			s13 += bb[3]
		}
		if acc {
			s00 += d0[0]
			s01 += d0[1]
			s02 += d0[2]
			s03 += d0[3]
			s10 += d1[0]
			s11 += d1[1]
			s12 += d1[2]
			s13 += d1[3]
		}
		d0[0], d0[1], d0[2], d0[3] = s00, s01, s02, s03
		d1[0], d1[1], d1[2], d1[3] = s10, s11, s12, s13
	}
	for ; j < n; j++ {
		bo := (j/panelW)*b.ps + j%panelW
		var s0, s1 float32
		ao := 0
		for kk := 0; kk < k; kk++ {
			v := bp[bo]
			s0 += a0[ao] * v
			s1 += a1[ao] * v
			bo += ks
			ao += csa
		}
		if bias != nil {
			s0 += bias[j]
			s1 += bias[j]
		}
		if acc {
			s0 += c0[j]
			s1 += c1[j]
		}
		c0[j], c1[j] = s0, s1
	}
}

func gen1(n, k int, a0 []float32, csa int, b bsrc, c0 []float32, bias []float32, acc bool) {
	bp, ks := b.p, b.ks
	j := 0
	for ; j+4 <= n; j += 4 {
		bo := (j/panelW)*b.ps + j%panelW
		var s0, s1, s2, s3 float32
		ao := 0
		for kk := 0; kk < k; kk++ {
			bb := bp[bo : bo+4 : bo+4]
			x := a0[ao]
			s0 += x * bb[0]
			s1 += x * bb[1]
			s2 += x * bb[2]
			s3 += x * bb[3]
			bo += ks
			ao += csa
		}
		d := c0[j : j+4 : j+4]
		if bias != nil {
			bb := bias[j : j+4 : j+4]
			s0 += bb[0]
			s1 += bb[1]
			s2 += bb[2]
			s3 += bb[3]
		}
		if acc {
			s0 += d[0]
			s1 += d[1]
			s2 += d[2]
			s3 += d[3]
		}
		d[0], d[1], d[2], d[3] = s0, s1, s2, s3
	}
	for ; j < n; j++ {
		bo := (j/panelW)*b.ps + j%panelW
		var s float32
		ao := 0
		for kk := 0; kk < k; kk++ {
			s += a0[ao] * bp[bo]
			bo += ks
			ao += csa
		}
		if bias != nil {
			s += bias[j]
		}
		if acc {
			s += c0[j]
		}
		c0[j] = s
	}
}
