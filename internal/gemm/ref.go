package gemm

// NTRef is the plain triple loop for NT: C[m×n] (+)= A[m×k]·B[n×k]^T. It is the reference the
// tests compare every implementation with.
func NTRef(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	GemmRef(false, true, m, n, k, a, lda, b, ldb, c, ldc, nil, accumulate)
}

// NNRef is the plain triple loop for NN: C[m×n] (+)= A[m×k]·B[k×n].
func NNRef(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	GemmRef(false, false, m, n, k, a, lda, b, ldb, c, ldc, nil, accumulate)
}

// GemmRef is the plain triple loop for Gemm (same arguments and semantics), accumulating each
// dot product in float32 in increasing k, then adding bias, then C.
func GemmRef(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, accumulate bool) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for kk := 0; kk < k; kk++ {
				var x, y float32
				if transA {
					x = a[kk*lda+i]
				} else {
					x = a[i*lda+kk]
				}
				if transB {
					y = b[j*ldb+kk]
				} else {
					y = b[kk*ldb+j]
				}
				s += x * y
			}
			if bias != nil {
				s += bias[j]
			}
			if accumulate {
				s += c[i*ldc+j]
			}
			c[i*ldc+j] = s
		}
	}
}

// GemmBF16Ref is the reference of the bf16 products (GemmBF16, PackedBF16): op(A) and op(B) rounded
// to bf16 (ToBF16), then GemmRef's fp32 products (exact: 8-bit significands) and sums.
func GemmBF16Ref(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32, accumulate bool) {
	GemmRef(transA, transB, m, n, k, roundBF16(a), lda, roundBF16(b), ldb, c, ldc, bias, accumulate)
}

// roundBF16 returns a copy of x with every value rounded to bf16.
func roundBF16(x []float32) []float32 {
	r := make([]float32, len(x))
	for i, v := range x {
		r[i] = FromBF16(ToBF16(v))
	}
	return r
}
