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
	// box returns the bounds of the 3x3 neighbourhood of pixel i.
	box := func(i int) (x0, x1, y0, y1 int) {
		x, y := i%w, i/w
		return max(x-1, 0), min(x+1, w-1), max(y-1, 0), min(y+1, h-1)
	}
	// queue appends the unknown neighbours of pixel i to q.
	queue := func(i int, q []int) []int {
		x0, x1, y0, y1 := box(i)
		for yy := y0; yy <= y1; yy++ {
			for j := yy*w + x0; j <= yy*w+x1; j++ {
				if state[j] == unknown {
					state[j] = queued
					q = append(q, j)
				}
			}
		}
		return q
	}
	for i, s := range state {
		if s == known {
			frontier = queue(i, frontier)
		}
	}
	nc := img.Channels()
	var next []int
	for len(frontier) > 0 {
		for _, i := range frontier {
			var sum [3]float64
			wsum := 0.0
			x0, x1, y0, y1 := box(i)
			for yy := y0; yy <= y1; yy++ {
				for j := yy*w + x0; j <= yy*w+x1; j++ {
					if state[j] != known {
						continue
					}
					wt := 1.0 // filled in an earlier round
					if a := img.Alpha[j]; a > 0 {
						wt = float64(min(a, 1))
					}
					for c := 0; c < nc; c++ {
						sum[c] += wt * float64(img.Pix[c*n+j])
					}
					wsum += wt
				}
			}
			for c := 0; c < nc; c++ {
				img.Pix[c*n+i] = float32(sum[c] / wsum)
			}
		}
		for _, i := range frontier {
			state[i] = known
		}
		next = next[:0]
		for _, i := range frontier {
			next = queue(i, next)
		}
		frontier, next = next, frontier
	}
}
