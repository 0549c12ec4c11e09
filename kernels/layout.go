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

// Roll is torch.roll on an [h, w, c] image along (h, w) by (-sh, -sw):
// dst[y][x] = src[(y+sh) mod h][(x+sw) mod w]. Use negative sh, sw to roll
// the other way. dst must not alias src.
func Roll(dst, src []float32, h, w, c, sh, sw int) {
	for y := 0; y < h; y++ {
		sy := ((y+sh)%h + h) % h
		for x := 0; x < w; x++ {
			sx := ((x+sw)%w + w) % w
			copy(dst[(y*w+x)*c:(y*w+x+1)*c], src[(sy*w+sx)*c:])
		}
	}
}

// WindowPartition splits an [h, w, c] image into windows of wh x ww pixels:
// dst is [nw, wh*ww, c] with windows row-major over the (h/wh) x (w/ww)
// grid and tokens row-major inside a window. h and w must be multiples of
// wh and ww.
func WindowPartition(dst, src []float32, h, w, c, wh, ww int) {
	gw := w / ww
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			win := (y/wh)*gw + x/ww
			tok := (y%wh)*ww + x%ww
			copy(dst[(win*wh*ww+tok)*c:(win*wh*ww+tok+1)*c], src[(y*w+x)*c:])
		}
	}
}

// WindowReverse is the inverse of WindowPartition: src [nw, wh*ww, c] to
// dst [h, w, c].
func WindowReverse(dst, src []float32, h, w, c, wh, ww int) {
	gw := w / ww
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			win := (y/wh)*gw + x/ww
			tok := (y%wh)*ww + x%ww
			copy(dst[(y*w+x)*c:(y*w+x+1)*c], src[(win*wh*ww+tok)*c:])
		}
	}
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
