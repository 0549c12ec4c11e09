// Package training is everything around the network's backward pass that
// training GRFormer needs: the optimiser (Adam exactly as torch.optim.Adam),
// learning-rate schedules (MultiStepLR, cosine annealing, linear warm-up),
// an exponential moving average of the weights, the data pipeline (HR image
// folders, LR made with the MATLAB-exact bicubic, random aligned patches
// with flips and transposes, batches prepared ahead by goroutines), and the
// training loop Run with its run folder: a JSON-lines log, a PNG plot,
// validation PSNR/SSIM, periodic checkpoints and an exact resume.
//
// The network itself is reached through the Trainable interface (package
// backprop implements it); the loop never looks inside it.
//
// # Determinism
//
// Every random draw of iteration i (which images, where the patches are,
// the flips, the drop-path seed handed to Trainable.Step) is a pure function
// of (seed, i): each is drawn from a PCG generator seeded by a hash of the
// run's seed, a stream constant and the iteration or sample number. There is
// no running random state, so a resumed run draws exactly the batches the
// uninterrupted run would have drawn, whatever the number of loader
// goroutines. Training images are visited epoch by epoch in an order
// shuffled per epoch (BasicSR's sampler without replacement); sample k of
// the run (k = (i-1)*batch + j) is image perm_e[k mod N] of epoch
// e = k / N.
//
// Floating-point updates (Adam, EMA) are written with explicit float32
// rounding so that the compiler may not fuse them into FMA instructions:
// the same inputs give the same bits on every machine.
//
// # Run folder
//
//	log.jsonl              one JSON object per logged iteration
//	plot.png               loss and validation PSNR against iterations
//	last.safetensors       latest weights (parameters only, PyTorch keys)
//	last_ema.safetensors   latest EMA weights, when EMA is on
//	checkpoints/iter_N.safetensors (and iter_N_ema.safetensors) every SaveEvery
//	state.safetensors      everything a resume needs, in one atomic file:
//	                       weights, Adam moments, EMA weights, and the state
//	                       (iteration, config, schedule, seed, ...) as JSON
//	                       in the header metadata
//	state.json             the same state, readable
//
// Every file except log.jsonl is written to a temporary file and renamed
// into place. log.jsonl is appended one whole line per write; on resume it
// is rewritten (atomically) without the lines past the saved iteration and
// without a torn last line.
package training
