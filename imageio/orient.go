package imageio

// Orient returns a new image holding img transformed the way EXIF
// orientation o asks a viewer to display it:
//
//	1 unchanged               5 transpose (flip about the main diagonal)
//	2 mirror left-right       6 rotate 90° clockwise
//	3 rotate 180°             7 transverse (flip about the anti-diagonal)
//	4 mirror top-bottom       8 rotate 90° counter-clockwise
//
// Orientations 5 to 8 swap width and height (and XDPI and YDPI). The
// metadata fields are copied (the ICC and Exif slices are shared). Any o outside 2..8 returns an unchanged copy.
// InverseOrientation(o) undoes o.
func Orient(img *Image, o int) *Image {
	out := *img
	w, h := img.W, img.H
	if o < 2 || o > 8 {
		out.Pix = append([]float32(nil), img.Pix...)
		if img.Alpha != nil {
			out.Alpha = append([]float32(nil), img.Alpha...)
		}
		return &out
	}
	out.W, out.H = oriented(w, h, o)
	if o >= 5 {
		out.XDPI, out.YDPI = img.YDPI, img.XDPI
	}
	ow, oh := out.W, out.H
	// src maps the output position (X, Y) to the index of the source pixel.
	var src func(X, Y int) int
	switch o {
	case 2:
		src = func(X, Y int) int { return Y*w + (w - 1 - X) }
	case 3:
		src = func(X, Y int) int { return (h-1-Y)*w + (w - 1 - X) }
	case 4:
		src = func(X, Y int) int { return (h-1-Y)*w + X }
	case 5:
		src = func(X, Y int) int { return X*w + Y }
	case 6:
		src = func(X, Y int) int { return (h-1-X)*w + Y }
	case 7:
		src = func(X, Y int) int { return (h-1-X)*w + (w - 1 - Y) }
	case 8:
		src = func(X, Y int) int { return X*w + (w - 1 - Y) }
	}
	n := w * h
	remap := func(dst, s []float32) {
		for Y := 0; Y < oh; Y++ {
			row := dst[Y*ow : (Y+1)*ow]
			for X := range row {
				row[X] = s[src(X, Y)]
			}
		}
	}
	out.Pix = make([]float32, len(img.Pix))
	for c := 0; c < img.Channels(); c++ {
		remap(out.Pix[c*n:(c+1)*n], img.Pix[c*n:(c+1)*n])
	}
	if img.Alpha != nil {
		out.Alpha = make([]float32, n)
		remap(out.Alpha, img.Alpha)
	}
	return &out
}

// InverseOrientation returns the orientation that undoes o: 6 and 8 undo
// each other, every other orientation is its own inverse.
func InverseOrientation(o int) int {
	switch o {
	case 6:
		return 8
	case 8:
		return 6
	}
	return o
}
