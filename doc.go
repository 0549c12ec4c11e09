// Package grformer upscales images with GRFormer, a lightweight transformer
// for single-image super-resolution (x2, x3, x4; Li, Deng, Cao, Liu,
// ACM MM 2024), in pure Go.
//
//	m, err := grformer.Load("GRFormer_x4.safetensors") // or a BasicSR .pth
//	out, err := m.Upscale(ctx, img, grformer.Options{}) // image.Image in and out
//
// Options choose tiles (by default from a memory budget, so any image size
// works), the self-ensemble (TTA), how alpha is upscaled, the number of
// goroutines and a progress callback; a cancelled ctx stops the work.
// UpscaleImage keeps what imageio decoded (16 bits, gray, alpha, ICC);
// UpscaleRows hands the same result over in bands of rows as they are
// computed (into imageio.Encoder), so that a big image's result never has
// to be held whole; UpscalePlanar takes float planes.
//
// # Map of this package
//
//	load.go      Model, Load, LoadDefault (the shipped weights), FromStateDict
//	options.go   Options, AlphaMode, defaults, errors, option validation
//	upscale.go   UpscalePlanar, UpscaleImage, UpscaleRows, Upscale: the
//	             entry points
//	engine.go    runs the model over tiles and the self-ensemble's
//	             transforms, row of tiles by row, into the result or a
//	             band of it; the choice of the tile size, the memory
//	             estimates of one tile and of the result's planes
//	tiling.go    how an image is cut into tiles and blended back (pure)
//	ensemble.go  the eight symmetries of the self-ensemble (TTA)
//	resize.go    Resize: MATLAB's bicubic to any final size (-outscale)
//
// # Map of the module
//
//	grformer (this package)  the library API: Load, Model, Upscale, tiles, TTA, Resize
//	model                    the network, exact to the reference, by PyTorch key
//	internal/...             numeric kernels on float32 slices (gemm, vmath,
//	                         dwconv, kernels), one implementation switch (cpu)
//	checkpoint               .pth (safe pickle subset) and safetensors I/O
//	imageio                  image files to float planes and back, safely
//	resize, metrics, eval    MATLAB-exact bicubic, PSNR/SSIM, benchmark runs
//	backprop, training       gradients of every layer; the training loop
//	cmd/grformer             the command: upscale, eval, info, bench, train, export
//
// Dependencies point one way: kernels <- model <- grformer <- cmd. The
// checkpoint, image and metrics packages depend on nothing of the model.
// The library never prints or exits; it returns errors.
package grformer
