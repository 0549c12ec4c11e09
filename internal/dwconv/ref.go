package dwconv

// Conv3x3Ref is the plain reference of Conv3x3 (same arguments, same semantics): one output
// pixel at a time, taps in order 0..8, channels innermost. It checks its arguments like
// Conv3x3.
func Conv3x3Ref(dst, src []float32, h, w, c int, wp, bias []float32, y0, y1 int, accumulate bool) {
	check(dst, src, h, w, c, wp, bias, y0, y1)
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
