package kernels

// PackConv3x3 repacks a PyTorch Conv2d weight [cout, cin, 3, 3] into the
// layout Conv3x3 uses: [cout][tap][cin] with tap = ky*3+kx, i.e. one row of
// 9*cin values per output channel, matching an im2col row of the input.
func PackConv3x3(w []float32, cout, cin int) []float32 {
	p := make([]float32, cout*9*cin)
	for o := 0; o < cout; o++ {
		for i := 0; i < cin; i++ {
			for t := 0; t < 9; t++ {
				p[o*9*cin+t*cin+i] = w[(o*cin+i)*9+t]
			}
		}
	}
	return p
}

// Conv3x3 is a dense 3x3 convolution with zero padding 1 and stride 1:
// src is [h, w, cin] (tokens x channels), dst is [h, w, cout], wp is the
// packed weight from PackConv3x3, bias has cout values (may be nil).
// col is scratch of at least 9*cin values. Only output rows [y0, y1) are
// computed (so that callers can split the work), reading the whole of src.
func Conv3x3(dst, src []float32, h, w, cin, cout int, wp, bias, col []float32, y0, y1 int) {
	col = col[:9*cin]
	for y := y0; y < y1; y++ {
		for x := 0; x < w; x++ {
			// im2col row for pixel (y, x): [tap][cin], zeros outside the image.
			for t := 0; t < 9; t++ {
				yy, xx := y+t/3-1, x+t%3-1
				c := col[t*cin : (t+1)*cin]
				if yy < 0 || yy >= h || xx < 0 || xx >= w {
					clear(c)
					continue
				}
				copy(c, src[(yy*w+xx)*cin:])
			}
			Linear(dst[(y*w+x)*cout:], cout, col, 9*cin, wp, bias, 1, 9*cin, cout)
		}
	}
}

// PackDepthwise3x3 repacks a PyTorch depthwise Conv2d weight [c, 1, 3, 3]
// into [tap][c] (tap = ky*3+kx), so that each tap is a vector over channels.
func PackDepthwise3x3(w []float32, c int) []float32 {
	p := make([]float32, 9*c)
	for ch := 0; ch < c; ch++ {
		for t := 0; t < 9; t++ {
			p[t*c+ch] = w[ch*9+t]
		}
	}
	return p
}

// DepthwiseConv3x3 is a depthwise (groups = c) 3x3 convolution with zero
// padding 1: src and dst are [h, w, c], wp is from PackDepthwise3x3, bias
// has c values (may be nil). dst must not alias src. Only output rows
// [y0, y1) are computed. With accumulate the result is added to dst.
func DepthwiseConv3x3(dst, src []float32, h, w, c int, wp, bias []float32, y0, y1 int, accumulate bool) {
	for y := y0; y < y1; y++ {
		for x := 0; x < w; x++ {
			d := dst[(y*w+x)*c : (y*w+x+1)*c]
			switch {
			case accumulate && bias != nil:
				for ch := range d {
					d[ch] += bias[ch]
				}
			case accumulate:
			case bias != nil:
				copy(d, bias[:c])
			default:
				clear(d)
			}
			for t := 0; t < 9; t++ {
				yy, xx := y+t/3-1, x+t%3-1
				if yy < 0 || yy >= h || xx < 0 || xx >= w {
					continue
				}
				s := src[(yy*w+xx)*c : (yy*w+xx+1)*c]
				wt := wp[t*c : (t+1)*c]
				for ch := range d {
					d[ch] += wt[ch] * s[ch]
				}
			}
		}
	}
}
