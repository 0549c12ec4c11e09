package metrics

import (
	"fmt"
	"math"
)

// SSIM window and constants (Wang et al. 2004, as BasicSR's calculate_ssim
// uses them).
const (
	SSIMWindow = 11
	SSIMSigma  = 1.5
	SSIMK1     = 0.01
	SSIMK2     = 0.03
)

// GaussianWindow returns the normalised 1-D Gaussian of n taps and standard
// deviation sigma, computed as OpenCV's getGaussianKernel does; the 2-D SSIM
// window is its outer product with itself.
func GaussianWindow(n int, sigma float64) []float64 {
	k := make([]float64, n)
	scale2 := -0.5 / (sigma * sigma)
	sum := 0.0
	for i := range k {
		x := float64(i) - float64(n-1)*0.5
		k[i] = math.Exp(scale2 * x * x)
		sum += k[i]
	}
	inv := 1 / sum
	for i := range k {
		k[i] *= inv
	}
	return k
}

// SSIM is the mean structural similarity of a and b with an 11x11 Gaussian
// window (sigma 1.5), K1 = 0.01, K2 = 0.03 and L = 255, over the 'valid'
// region only (windows that lie wholly inside the image), as BasicSR's
// calculate_ssim computes it. Both planes must be at least 11x11.
func SSIM(a, b *Plane) (float64, error) {
	if err := sameSize(a, b); err != nil {
		return 0, err
	}
	if a.W < SSIMWindow || a.H < SSIMWindow {
		return 0, fmt.Errorf("metrics: SSIM needs at least %dx%d samples, image is %dx%d", SSIMWindow, SSIMWindow, a.W, a.H)
	}
	win := GaussianWindow(SSIMWindow, SSIMSigma)
	c1 := (SSIMK1 * Peak) * (SSIMK1 * Peak)
	c2 := (SSIMK2 * Peak) * (SSIMK2 * Peak)

	n := len(a.Pix)
	sq := make([]float64, 3*n)
	aa, bb, ab := sq[:n], sq[n:2*n], sq[2*n:]
	for i, x := range a.Pix {
		y := b.Pix[i]
		aa[i], bb[i], ab[i] = x*x, y*y, x*y
	}
	w, h := a.W, a.H
	mu1 := filterValid(a.Pix, w, h, win)
	mu2 := filterValid(b.Pix, w, h, win)
	s11 := filterValid(aa, w, h, win)
	s22 := filterValid(bb, w, h, win)
	s12 := filterValid(ab, w, h, win)
	sum := 0.0
	for i := range mu1 {
		m1, m2 := mu1[i], mu2[i]
		m11, m22, m12 := m1*m1, m2*m2, m1*m2
		sigma1 := s11[i] - m11
		sigma2 := s22[i] - m22
		sigma12 := s12[i] - m12
		sum += ((2*m12 + c1) * (2*sigma12 + c2)) / ((m11 + m22 + c1) * (sigma1 + sigma2 + c2))
	}
	return sum / float64(len(mu1)), nil
}

// filterValid correlates the w x h plane src with the separable window
// k (x) k and keeps the 'valid' part: (w-len(k)+1) x (h-len(k)+1) samples.
func filterValid(src []float64, w, h int, k []float64) []float64 {
	n := len(k)
	ow, oh := w-n+1, h-n+1
	tmp := make([]float64, ow*h)
	for y := 0; y < h; y++ {
		row := src[y*w : (y+1)*w]
		out := tmp[y*ow : (y+1)*ow]
		for x := range out {
			s := 0.0
			for j, kj := range k {
				s += kj * row[x+j]
			}
			out[x] = s
		}
	}
	dst := make([]float64, ow*oh)
	for y := 0; y < oh; y++ {
		out := dst[y*ow : (y+1)*ow]
		for i, ki := range k {
			line := tmp[(y+i)*ow : (y+i+1)*ow]
			for x, v := range line {
				out[x] += ki * v
			}
		}
	}
	return dst
}
