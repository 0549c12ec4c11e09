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

// MatMulNT computes dst[i][j] = sum_p a[i][p] * b[j][p] (C = A B^T) for
// i < m, j < n, p < k, with row strides lda, ldb, ldd.
func MatMulNT(dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, m, n, k int) {
	for i := 0; i < m; i++ {
		ar := a[i*lda : i*lda+k]
		dr := dst[i*ldd : i*ldd+n]
		for j := 0; j < n; j++ {
			br := b[j*ldb : j*ldb+k]
			var s float32
			for p, v := range ar {
				s += v * br[p]
			}
			dr[j] = s
		}
	}
}

// MatMulNN computes dst[i][j] = sum_p a[i][p] * b[p][j] (C = A B) for
// i < m, j < n, p < k, with row strides lda, ldb, ldd.
func MatMulNN(dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, m, n, k int) {
	for i := 0; i < m; i++ {
		dr := dst[i*ldd : i*ldd+n]
		clear(dr)
		for p := 0; p < k; p++ {
			av := a[i*lda+p]
			br := b[p*ldb : p*ldb+n]
			for j, v := range br {
				dr[j] += av * v
			}
		}
	}
}
