// Package resize is MATLAB's imresize with the bicubic kernel, reproduced to
// the bit: the resize that made the LR images of the super-resolution
// benchmarks (Set5, Set14 "LR_bicubic") and the literature's "Bicubic"
// baseline.
//
// The algorithm follows imresize.m:
//
//   - Cubic is Keys' kernel with a = -0.5. When shrinking (scale < 1) it is
//     widened by 1/scale and scaled by scale (antialiasing).
//   - Output sample x (1-based) maps to input position
//     u = x/scale + 0.5*(1 - 1/scale); the taps around u are mirrored at the
//     borders (symmetric padding, the edge sample repeated) and the weights
//     are normalised to sum to one. NewAxis computes these per output
//     coordinate, like MATLAB's contributions(); a Plan holds them for both
//     dimensions so that many images of one size share them.
//   - The vertical dimension (rows of the output, i.e. the height) is
//     resized first, then the horizontal one (MATLAB's order when both
//     scales are equal; with unequal scales the smaller goes first).
//   - On 8-bit data (Plan.Uint8, Resize8, Resize, Downscale, Upscale) the
//     result of each pass is rounded half away from zero and clipped to
//     0..255, as MATLAB does for uint8 images; a float-only pipeline would be
//     off by one on some pixels. Plan.Float64 and ResizeFloat keep float64
//     throughout, with no rounding or clipping, like imresize on doubles.
//
// Images are handled in planar form (Planar8, Planar): one channel for
// grayscale images, three (R, G, B) otherwise; FromImage and Planar8.Image
// convert from and to image.Image.
//
// To make a benchmark LR image, crop the HR image to a multiple of s (top-
// left part kept), then Downscale it by s.
package resize
