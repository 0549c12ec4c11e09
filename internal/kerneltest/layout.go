package kerneltest

// Plain references of the model's index maps, for the model's tests: the
// model computes the shifted-window layout as one index map (model.WindowIndex)
// and checks it against these.

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
	windowTokens(h, w, wh, ww, func(p, q int) { copy(dst[q*c:(q+1)*c], src[p*c:]) })
}

// WindowReverse is the inverse of WindowPartition: src [nw, wh*ww, c] to
// dst [h, w, c].
func WindowReverse(dst, src []float32, h, w, c, wh, ww int) {
	windowTokens(h, w, wh, ww, func(p, q int) { copy(dst[p*c:(p+1)*c], src[q*c:]) })
}

// windowTokens calls f(p, q) for every pixel p = y*w+x of an h x w image and
// its token q = window*wh*ww + token in the partitioned layout.
func windowTokens(h, w, wh, ww int, f func(p, q int)) {
	gw := w / ww
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			win := (y/wh)*gw + x/ww
			tok := (y%wh)*ww + x%ww
			f(y*w+x, win*wh*ww+tok)
		}
	}
}
