package kernels

// Linear computes dst[i][o] = sum_j x[i][j] * w[o][j] + bias[o] for i < m,
// o < n, j < k: PyTorch's nn.Linear on m rows. x has row stride ldx, dst row
// stride ldd, w is [n, k] contiguous (PyTorch layout). bias may be nil.
func Linear(dst []float32, ldd int, x []float32, ldx int, w, bias []float32, m, k, n int) {
	_ = w[n*k-1]
	for i := 0; i < m; i++ {
		xr := x[i*ldx : i*ldx+k]
		dr := dst[i*ldd : i*ldd+n]
		for o := 0; o < n; o++ {
			wr := w[o*k : o*k+k]
			var s float32
			for j, v := range xr {
				s += v * wr[j]
			}
			if bias != nil {
				s += bias[o]
			}
			dr[o] = s
		}
	}
}
