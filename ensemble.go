package grformer

// The self-ensemble (Options.TTA): the eight symmetries of the square
// (identity, flips, rotations by multiples of 90° and the two transposes)
// are applied to the input, each transformed image is upscaled, the result
// transformed back, and the eight results averaged: Lim et al. (EDSR, 2017)
// call it geometric self-ensemble, most later SR papers report it as "+".
// It costs eight forward passes and usually gains a little PSNR.

// transform is one of the eight symmetries: the pixel at (a, b) of the
// transformed image is the source pixel found by flipping the row (bit 2)
// and the column (bit 1) of the transformed frame and then, with bit 4,
// swapping row and column.
type transform uint8

const (
	flipCols  transform = 1
	flipRows  transform = 2
	transpose transform = 4
)

var allTransforms = [8]transform{0, 1, 2, 3, 4, 5, 6, 7}

// dims returns the size of an h x w image after the transform.
func (t transform) dims(h, w int) (th, tw int) {
	if t&transpose != 0 {
		return w, h
	}
	return h, w
}

// src maps position (a, b) of a transformed th x tw frame to the position
// (y, x) of the source pixel. It is affine in a and b.
func (t transform) src(a, b, th, tw int) (y, x int) {
	if t&flipRows != 0 {
		a = th - 1 - a
	}
	if t&flipCols != 0 {
		b = tw - 1 - b
	}
	if t&transpose != 0 {
		return b, a
	}
	return a, b
}
