package kernels

// ReflectIndex maps i (possibly outside [0, n)) into [0, n) by mirror
// reflection without repeating the edge sample (numpy 'reflect'), repeating
// the reflection as often as needed, so any pad width works. n must be >= 1.
func ReflectIndex(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * (n - 1)
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - i
	}
	return i
}

// PixelShuffle rearranges src [h, w, c*s*s] (tokens x channels) into the
// planar image dst [c, h*s, w*s]:
// dst[ch][y*s+i][x*s+j] = src[y][x][ch*s*s + i*s + j] (torch.nn.PixelShuffle).
func PixelShuffle(dst, src []float32, h, w, c, s int) {
	cs := c * s * s
	ow := w * s
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := src[(y*w+x)*cs : (y*w+x+1)*cs]
			for ch := 0; ch < c; ch++ {
				for i := 0; i < s; i++ {
					for j := 0; j < s; j++ {
						dst[(ch*h*s+y*s+i)*ow+x*s+j] = p[ch*s*s+i*s+j]
					}
				}
			}
		}
	}
}
