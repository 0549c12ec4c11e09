package grformer_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"log"
	"os"
	"os/signal"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/imageio"
)

// A picture to upscale: a gradient with a disc.
func picture(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(255 * x / w), uint8(255 * y / h), 128, 255}
			if (x-w/2)*(x-w/2)+(y-h/2)*(y-h/2) < h*h/9 {
				c = color.NRGBA{240, 240, 240, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

// Load weights (a BasicSR .pth or .safetensors file; here the tiny x2 test
// model) and upscale a standard library image with the default options:
// all cores, tiles only if the image would not fit in 2 GiB.
func Example() {
	m, err := grformer.Load("testdata/golden/tiny_x2/weights.pth")
	if err != nil {
		log.Fatal(err)
	}
	out, err := m.Upscale(context.Background(), picture(60, 40), grformer.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("x%d: %v, %T\n", m.Scale(), out.Bounds().Size(), out)
	// Output:
	// x2: (120,80), *image.NRGBA
}

// Tiles, a memory budget, the self-ensemble, progress and cancellation.
// Ctrl-C cancels the context; the call then returns context.Canceled.
func ExampleModel_Upscale_options() {
	m, err := grformer.Load("testdata/golden/tiny_x2/weights.pth")
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	passes := 0
	out, err := m.Upscale(ctx, picture(200, 120), grformer.Options{
		Tile:        128,     // LR pixels; 0 chooses from MaxMemory
		TileOverlap: 16,      // context of each tile; 0 means 32
		MaxMemory:   1 << 30, // used when Tile is 0
		TTA:         true,    // mean of the 8 flips and rotations
		Progress:    func(done, total int) { passes = total },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v in %d forward passes\n", out.Bounds().Size(), passes)
	// Output:
	// (400,240) in 32 forward passes
}

// Files keep their depth, gray-ness, alpha and ICC profile through
// imageio and UpscaleImage; Resize gives any other final size.
func ExampleModel_UpscaleImage() {
	m, err := grformer.Load("testdata/golden/tiny_x2/weights.pth")
	if err != nil {
		log.Fatal(err)
	}
	img, err := imageio.ReadFile("testdata/upscale/photo.webp", imageio.DecodeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	out, err := m.UpscaleImage(context.Background(), img, grformer.Options{Alpha: grformer.AlphaBicubic})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%dx%d -> %dx%d\n", img.W, img.H, out.W, out.H)
	x3, err := grformer.Resize(out, 3*img.W, 3*img.H) // what -outscale 3 does
	if err != nil {
		log.Fatal(err)
	}
	// imageio.WriteFile("photo_x3.png", x3, imageio.EncodeOptions{}) would
	// write it atomically.
	fmt.Printf("outscale 3: %dx%d\n", x3.W, x3.H)
	// Output:
	// 150x103 -> 300x206
	// outscale 3: 450x309
}
