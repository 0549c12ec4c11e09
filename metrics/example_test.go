package metrics_test

import (
	"fmt"
	"image"
	"image/color"

	"github.com/grformer/grformer/metrics"
)

// PSNR of a constant offset d is 20 log10(255/d); on constant planes SSIM
// is (2 c (c+d) + C1) / (c^2 + (c+d)^2 + C1) with C1 = (0.01*255)^2.
func ExamplePSNR() {
	a := metrics.NewPlane(16, 16)
	b := metrics.NewPlane(16, 16)
	for i := range a.Pix {
		a.Pix[i] = 100
		b.Pix[i] = 105
	}
	p, _ := metrics.PSNR(a, b)
	s, _ := metrics.SSIM(a, b)
	fmt.Printf("PSNR %.4f dB, SSIM %.6f\n", p, s)
	p, _ = metrics.PSNR(a, a)
	fmt.Println(p)
	// Output:
	// PSNR 34.1514 dB, SSIM 0.998811
	// +Inf
}

// Compare scores an RGB image on its BT.601 Y channel (a grayscale
// reference on its gray values), after removing crop_border pixels.
func ExampleCompare() {
	hr := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	sr := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			v := uint8(4*x + 2*y)
			hr.SetNRGBA(x, y, color.NRGBA{v, v / 2, 255 - v, 255})
			d := uint8((x + y) % 3) // noise 0, 1, 2
			sr.SetNRGBA(x, y, color.NRGBA{v + d, v/2 + d, 255 - v - d, 255})
		}
	}
	s, err := metrics.Compare(hr, sr, 4)
	if err != nil {
		panic(err)
	}
	fmt.Printf("PSNR %.4f SSIM %.4f gray %v\n", s.PSNR, s.SSIM, s.Gray)
	// Output:
	// PSNR 49.4819 SSIM 0.9960 gray false
}

// The Y channel on a 0..255 scale: 16 for black, 235 for white.
func ExampleY() {
	fmt.Println(metrics.Y(0, 0, 0), metrics.Y(255, 255, 255), metrics.Y(255, 0, 0))
	// Output: 16 235 81.481
}
