package resize_test

import (
	"fmt"
	"image"
	"image/color"

	"github.com/grformer/grformer/resize"
)

// The weights MATLAB uses for one output sample of a x1/2 bicubic shrink:
// the cubic kernel is widened to 8 taps (antialiasing).
func ExampleNewAxis() {
	a, err := resize.NewAxis(16, 8, 0.5, true)
	if err != nil {
		panic(err)
	}
	i := 3 // fourth output sample
	fmt.Println(a.Index[i*a.Taps : (i+1)*a.Taps])
	fmt.Println(a.Weight[i*a.Taps : (i+1)*a.Taps])
	// Output:
	// [3 4 5 6 7 8 9 10]
	// [-0.01171875 -0.03515625 0.11328125 0.43359375 0.43359375 0.11328125 -0.03515625 -0.01171875]
}

// Making a benchmark LR image and the bicubic baseline from it.
func ExampleDownscale() {
	hr := image.NewGray(image.Rect(0, 0, 8, 8))
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			hr.SetGray(x, y, color.Gray{uint8(30 * x)})
		}
	}
	lr, err := resize.Downscale(hr, 2)
	if err != nil {
		panic(err)
	}
	up, err := resize.Upscale(lr, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println(lr.Bounds().Size(), lr.(*image.Gray).Pix[:4])
	fmt.Println(up.Bounds().Size(), up.(*image.Gray).Pix[:8])
	// Output:
	// (4,4) [13 75 135 197]
	// (8,8) [7 24 58 90 120 152 186 203]
}

// A Plan computes the weights once for many images of one size; Float64
// works on unrounded data.
func ExamplePlan_Float64() {
	plan, err := resize.NewPlan(4, 1, 2) // 4x1 -> 8x2
	if err != nil {
		panic(err)
	}
	dst := make([]float64, plan.OutW*plan.OutH)
	if err := plan.Float64(dst, []float64{0, 10, 20, 30}); err != nil {
		panic(err)
	}
	fmt.Printf("%.4g\n", dst[:plan.OutW])
	// Output:
	// [-0.9375 1.797 7.266 12.5 17.5 22.73 28.2 30.94]
}
