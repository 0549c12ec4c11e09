package dwconv

// WeightGradRef is the plain reference of WeightGrad (same arguments, same semantics): every
// sum over the whole row range in float64, rounded once when added to dw and db. It checks its
// arguments like WeightGrad.
func WeightGradRef(dw, db []float32, ddst, src []float32, h, w, c int, y0, y1 int) {
	checkWG(dw, db, ddst, src, h, w, c, y0, y1)
	for ch := 0; ch < c; ch++ {
		var sw [9]float64
		var sb float64
		for y := y0; y < y1; y++ {
			for x := 0; x < w; x++ {
				g := float64(ddst[(y*w+x)*c+ch])
				sb += g
				for t := 0; t < 9; t++ {
					yy, xx := y+t/3-1, x+t%3-1
					if yy < 0 || yy >= h || xx < 0 || xx >= w {
						continue
					}
					sw[t] += g * float64(src[(yy*w+xx)*c+ch])
				}
			}
		}
		for t := 0; t < 9; t++ {
			dw[t*c+ch] += float32(sw[t])
		}
		if db != nil {
			db[ch] += float32(sb)
		}
	}
}
