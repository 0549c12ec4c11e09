package eval_test

import (
	"context"
	"fmt"
	"image"

	"github.com/grformer/grformer/eval"
	"github.com/grformer/grformer/resize"
)

// Evaluating the bicubic baseline on a benchmark folder.
func ExampleRun() {
	rep, err := eval.Run(context.Background(), eval.Bicubic{}, eval.Config{
		Dir:        "../testdata/eval/bench",
		Sets:       []string{"Tiny"},
		Scale:      2,
		CropBorder: -1, // = scale
	})
	if err != nil {
		panic(err)
	}
	for _, s := range rep.Sets {
		for _, im := range s.Images {
			fmt.Printf("%s: %.4f dB, SSIM %.4f, gray %v, LR made from HR %v\n", im.Name, im.Score.PSNR, im.Score.SSIM, im.Score.Gray, im.LRGenerated)
		}
		fmt.Printf("%s x%d (crop %d): %.4f dB, SSIM %.4f over %d images\n", s.Set, s.Scale, s.CropBorder, s.PSNR, s.SSIM, s.Scored)
	}
	fmt.Println("failures:", rep.Err())
	// Output:
	// color: 27.0251 dB, SSIM 0.8434, gray false, LR made from HR false
	// gray: 22.4500 dB, SSIM 0.7834, gray true, LR made from HR true
	// Tiny x2 (crop 2): 24.7376 dB, SSIM 0.8134 over 2 images
	// failures: <nil>
}

// Any function can be evaluated through Func; here nearest-neighbour
// upscaling against one image whose LR is made from HR.
func ExampleFunc() {
	nearest := eval.Func{MethodName: "nearest", F: func(ctx context.Context, lr image.Image, s int) (image.Image, error) {
		p := resize.FromImage(lr)
		q := resize.NewPlanar8(p.W*s, p.H*s, p.C)
		for c := 0; c < p.C; c++ {
			src, dst := p.Channel(c), q.Channel(c)
			for y := 0; y < q.H; y++ {
				for x := 0; x < q.W; x++ {
					dst[y*q.W+x] = src[(y/s)*p.W+x/s]
				}
			}
		}
		return q.Image(), nil
	}}
	hr, err := eval.ReadImage("../testdata/eval/bench/Tiny/HR/color.png")
	if err != nil {
		panic(err)
	}
	score, sr, err := eval.EvaluateImage(context.Background(), nearest, hr, nil, 4, 4)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %v, %.4f dB, SSIM %.4f\n", nearest.Name(), sr.Bounds().Size(), score.PSNR, score.SSIM)
	// Output:
	// nearest: (40,36), 21.4975 dB, SSIM 0.4876
}
