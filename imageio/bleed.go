package imageio

// BleedTransparent replaces the colour of every fully transparent pixel
// (alpha exactly 0) with colour spread from the nearest visible pixels, in
// place. Images without alpha are left alone, as are images with no visible
// pixel at all.
//
// Why: the colour under a fully transparent pixel is invisible, and is often
// black (0) — Decode sets it to 0 when un-premultiplying. A resampler or an
// upscaler mixes neighbouring colours, so at the edge of a transparent
// region that hidden black is pulled into the visible, partly transparent
// pixels of the result as a dark fringe. Bleeding first removes the fringe.
// Visible pixels (alpha > 0) and the alpha plane are not changed, so the
// image looks the same when composited.
//
// How: a breadth-first flood fill by chessboard distance. Transparent pixels
// next to (8-neighbourhood) visible ones get the alpha-weighted mean colour
// of those neighbours; then the pixels next to those get the mean of the
// already filled neighbours, and so on until every transparent pixel is
// filled. It runs in time and extra memory linear in the pixel count.
func BleedTransparent(img *Image) {
	if img.Alpha == nil || img.validate() != nil {
		return
	}
	w, h := img.W, img.H
	n := w * h
	const (
		unknown = iota
		queued
		known
	)
	state := make([]uint8, n)
	var frontier []int
	nKnown := 0
	for i, a := range img.Alpha {
		if a > 0 {
			state[i] = known
			nKnown++
		}
	}
	if nKnown == 0 || nKnown == n {
		return
	}
	// neighbours calls f for each in-image 8-neighbour of pixel i.
	neighbours := func(i int, f func(j int)) {
		x, y := i%w, i/w
		for dy := -1; dy <= 1; dy++ {
			yy := y + dy
			if yy < 0 || yy >= h {
				continue
			}
			for dx := -1; dx <= 1; dx++ {
				xx := x + dx
				if (dx == 0 && dy == 0) || xx < 0 || xx >= w {
					continue
				}
				f(yy*w + xx)
			}
		}
	}
	for i := range state {
		if state[i] != unknown {
			continue
		}
		neighbours(i, func(j int) {
			if state[j] == known && state[i] == unknown {
				state[i] = queued
				frontier = append(frontier, i)
			}
		})
	}
	nc := img.Channels()
	var sum [3]float64
	var next []int
	for len(frontier) > 0 {
		for _, i := range frontier {
			sum = [3]float64{}
			wsum := 0.0
			neighbours(i, func(j int) {
				if state[j] != known {
					return
				}
				wt := 1.0 // filled in an earlier round
				if a := img.Alpha[j]; a > 0 {
					wt = float64(min(a, 1))
				}
				for c := 0; c < nc; c++ {
					sum[c] += wt * float64(img.Pix[c*n+j])
				}
				wsum += wt
			})
			for c := 0; c < nc; c++ {
				img.Pix[c*n+i] = float32(sum[c] / wsum)
			}
		}
		next = next[:0]
		for _, i := range frontier {
			state[i] = known
		}
		for _, i := range frontier {
			neighbours(i, func(j int) {
				if state[j] == unknown {
					state[j] = queued
					next = append(next, j)
				}
			})
		}
		frontier, next = next, frontier
	}
}
