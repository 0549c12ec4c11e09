package dwconv

// convGeneric is the portable implementation. Per output pixel and input row, the three taps
// of the row are fused into one pass over the channels (the three input pixels under the taps
// are contiguous in src, the three tap vectors contiguous in wp), with every slice resliced to
// the channel count so that the inner loops carry no bounds checks. The sum runs in the
// reference's order (bias, then taps 0..8).
func convGeneric(dst, src []float32, h, w, c int, wp, bias []float32, y0, y1 int, acc bool) {
	if bias != nil {
		bias = bias[:c:c]
	}
	for y := y0; y < y1; y++ {
		for x := 0; x < w; x++ {
			o := (y*w + x) * c
			d := dst[o : o+c : o+c]
			switch {
			case acc && bias != nil:
				addTo(d, bias)
			case acc:
			case bias != nil:
				copy(d, bias)
			default:
				clear(d)
			}
			// Valid taps kx in [kx0, kx1).
			kx0, kx1 := 0, 3
			if x == 0 {
				kx0 = 1
			}
			if x == w-1 {
				kx1 = 2
			}
			for ky := 0; ky < 3; ky++ {
				yy := y + ky - 1
				if yy < 0 || yy >= h {
					continue
				}
				s0 := (yy*w + x - 1) * c
				w0 := ky * 3 * c
				if kx0 == 0 && kx1 == 3 {
					tap3(d, src[s0:s0+3*c:s0+3*c], wp[w0:w0+3*c:w0+3*c])
					continue
				}
				for kx := kx0; kx < kx1; kx++ {
					s, t := s0+kx*c, w0+kx*c
					tap1(d, src[s:s+c:s+c], wp[t:t+c:t+c])
				}
			}
		}
	}
}

// addTo adds b to d (len(b) >= len(d)).
func addTo(d, b []float32) {
	b = b[:len(d)]
	for i := range d {
		d[i] += b[i]
	}
}

// tap1 adds wt*s to d; s and wt have len(d) elements.
func tap1(d, s, wt []float32) {
	s = s[:len(d)]
	wt = wt[:len(d)]
	for i := range d {
		d[i] += wt[i] * s[i]
	}
}

// tap3 adds the three taps of one input row to d: s and wt hold 3*len(d) elements (three
// consecutive pixels, three consecutive taps).
func tap3(d, s, wt []float32) {
	n := len(d)
	s0, s1, s2 := s[:n], s[n:][:n], s[2*n:][:n]
	w0, w1, w2 := wt[:n], wt[n:][:n], wt[2*n:][:n]
	for i := range d {
		v := d[i]
		v += w0[i] * s0[i]
		v += w1[i] * s1[i]
		v += w2[i] * s2[i]
		d[i] = v
	}
}
