package metrics

import (
	"fmt"
	"image"
)

// Score holds the quality of one image against its reference.
type Score struct {
	PSNR float64 // dB; +Inf when the compared channels are identical
	SSIM float64
	// Gray is true when the reference is a grayscale image and the gray
	// values were compared; false when the BT.601 Y channels were.
	Gray bool
}

// ScoringPlane returns the channel the literature scores img on when ref is
// its reference: the gray values when ref is grayscale (see GrayPlane: an
// RGB img is reduced with Luma, which keeps v for a gray pixel (v, v, v)),
// otherwise the BT.601 Y channel (see YPlane).
func ScoringPlane(img, ref image.Image) *Plane {
	if IsGray(ref) {
		return GrayPlane(img)
	}
	return YPlane(img)
}

// Compare scores img against the reference ref the way BasicSR does with
// test_y_channel: both are taken as 8-bit images, reduced to one channel
// (see ScoringPlane), cropBorder samples are removed from every side, and
// PSNR and SSIM are computed in float64. The two images must have the same
// size; crop the reference to a multiple of the scale first (ModCrop).
func Compare(ref, img image.Image, cropBorder int) (Score, error) {
	rb, ib := ref.Bounds(), img.Bounds()
	if rb.Dx() != ib.Dx() || rb.Dy() != ib.Dy() {
		return Score{}, fmt.Errorf("metrics: image is %dx%d, reference is %dx%d", ib.Dx(), ib.Dy(), rb.Dx(), rb.Dy())
	}
	a, err := ScoringPlane(ref, ref).CropBorder(cropBorder)
	if err != nil {
		return Score{}, err
	}
	b, err := ScoringPlane(img, ref).CropBorder(cropBorder)
	if err != nil {
		return Score{}, err
	}
	return ComparePlanes(a, b, IsGray(ref))
}

// ComparePlanes computes PSNR and SSIM of two planes that are already
// cropped; gray is copied into the Score.
func ComparePlanes(ref, img *Plane, gray bool) (Score, error) {
	psnr, err := PSNR(ref, img)
	if err != nil {
		return Score{}, err
	}
	ssim, err := SSIM(ref, img)
	if err != nil {
		return Score{}, err
	}
	return Score{PSNR: psnr, SSIM: ssim, Gray: gray}, nil
}
