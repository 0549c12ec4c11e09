package kernels

// PackConv3x3 repacks a PyTorch Conv2d weight [cout, cin, 3, 3] into the
// layout Conv3x3 uses: [cout][tap][cin] with tap = ky*3+kx, i.e. one row of
// 9*cin values per output channel, matching an im2col row of the input.
func PackConv3x3(w []float32, cout, cin int) []float32 {
	p := make([]float32, cout*9*cin)
	PackConv3x3Into(p, w, cout, cin)
	return p
}

// PackConv3x3Into is PackConv3x3 into dst (cout*9*cin values).
func PackConv3x3Into(p, w []float32, cout, cin int) {
	for o := 0; o < cout; o++ {
		for i := 0; i < cin; i++ {
			for t := 0; t < 9; t++ {
				p[o*9*cin+t*cin+i] = w[(o*cin+i)*9+t]
			}
		}
	}
}

// Im2Col fills col [rows, 9*cin] with the 3x3 neighbourhoods (zero padding
// 1) of output pixels p0 .. p0+rows-1 of an h x w image src [h*w, cin]: row
// i holds [tap][cin] for pixel p0+i, tap = ky*3+kx.
func Im2Col(col, src []float32, h, w, cin, p0, rows int) {
	k := 9 * cin
	for i := range rows {
		p := p0 + i
		y, x := p/w, p%w
		row := col[i*k : (i+1)*k]
		for t := range 9 {
			yy, xx := y+t/3-1, x+t%3-1
			seg := row[t*cin : (t+1)*cin]
			if yy < 0 || yy >= h || xx < 0 || xx >= w {
				clear(seg)
				continue
			}
			copy(seg, src[(yy*w+xx)*cin:])
		}
	}
}

// PackDepthwise3x3 repacks a PyTorch depthwise Conv2d weight [c, 1, 3, 3]
// into [tap][c] (tap = ky*3+kx), so that each tap is a vector over channels:
// the layout of internal/dwconv.
func PackDepthwise3x3(w []float32, c int) []float32 {
	p := make([]float32, 9*c)
	PackDepthwise3x3Into(p, w, c)
	return p
}

// PackDepthwise3x3Into is PackDepthwise3x3 into dst (9*c values).
func PackDepthwise3x3Into(p, w []float32, c int) {
	for ch := 0; ch < c; ch++ {
		for t := 0; t < 9; t++ {
			p[t*c+ch] = w[ch*9+t]
		}
	}
}
