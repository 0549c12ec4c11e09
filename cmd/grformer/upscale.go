package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/imageio"
)

func init() {
	register("upscale", "upscale an image with GRFormer weights", runUpscale)
}

func runUpscale(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("upscale", `Usage: grformer upscale -weights FILE [flags] IN OUT

Upscales IN by the model's scale and writes OUT (PNG or JPEG, by extension).
An 8-bit input gives an 8-bit output, a 16-bit PNG a 16-bit PNG. Output is
clamped to [0, 1] and rounded. OUT is written to a temporary file and
renamed, so a failed run leaves nothing behind.

Example:
  grformer upscale -weights GRFormer_x4.pth photo.png photo_x4.png`, stderr)
	weights := fs.String("weights", "", "weights `file`: BasicSR .pth or .safetensors (required)")
	scale := fs.Int("scale", 0, "expected scale; an error if the weights have another (0: take the weights' scale)")
	threads := fs.Int("threads", 0, "goroutines to use (0: all cores)")
	maxPixels := fs.Int64("max-pixels", imageio.DefaultMaxPixels, "refuse inputs with more pixels than this (checked before decoding)")
	quality := fs.Int("quality", imageio.DefaultJPEGQuality, "JPEG quality for .jpg outputs (1-100)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return fmt.Errorf("need an input and an output path, got %d arguments", fs.NArg())
	}
	in, out := fs.Arg(0), fs.Arg(1)
	if *weights == "" {
		return fmt.Errorf("no -weights given (a BasicSR .pth or .safetensors file)")
	}
	if *quality < 1 || *quality > 100 {
		return fmt.Errorf("-quality %d out of range 1-100", *quality)
	}
	if _, err := imageio.FormatFromExt(out); err != nil {
		return fmt.Errorf("output %s: %v", out, err)
	}
	m, err := grformer.Load(*weights)
	if err != nil {
		return err
	}
	if *scale != 0 && *scale != m.Scale() {
		return fmt.Errorf("-scale %d, but %s is a x%d model: GRFormer upscales only by the scale it was trained for", *scale, *weights, m.Scale())
	}
	img, err := imageio.ReadFile(in, imageio.DecodeOptions{MaxPixels: *maxPixels})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := m.UpscaleImage(ctx, img, grformer.Options{Threads: *threads})
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := imageio.WriteFile(out, res, imageio.EncodeOptions{Quality: *quality}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s (%dx%d) -> %s (%dx%d, x%d)\n", in, img.W, img.H, out, res.W, res.H, m.Scale())
	return nil
}
