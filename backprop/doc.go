// Package backprop is GRFormer with gradients: the network of package model,
// whose forward pass (model.Layers.Forward, the one inference runs) keeps
// what the backward pass needs (model.Saved), and the backward pass of every
// layer written out by hand, in the spirit of llm.c. It computes the mean L1 loss of a batch and the gradient of every
// parameter (by PyTorch key) and of the input.
//
// # Map
//
//	net.go       Net, NewNet (parameters bound by PyTorch key, variants),
//	             Params/StateDict, prepare (the parameters loaded into the
//	             forward pass's model.Layers), position-bias backward
//	step.go      Step (forward + backward), the training forward pass
//	             (model.Layers.Forward with drop path), the activations
//	backward.go  the backward pass: loss, upsampler, convolutions, norm,
//	             blocks in reverse, windowed attention with recomputed
//	             probabilities, input gradient through the reflect padding
//	ops.go       the backward passes of the layer primitives: Linear (on
//	             the GEMM micro-kernels), 3x3 conv by im2col, depthwise conv,
//	             LayerNorm
//
// # Memory
//
// Per block and token the forward pass keeps the block input, the
// normalised q and k, v, the attention output, the projection output, the
// FFN's fc1 and dw1 outputs (before GELU) and the fc2 output, plus a few
// per-token statistics: about 7C + 2*hidden floats. The attention
// probabilities are not kept: the backward pass recomputes them from q, k
// and each row's saved log-sum-exp, window by window, so memory stays
// linear in the image size.
//
// # Determinism
//
// Weight gradients are reduced over rows, images and window chunks in a
// fixed order that does not depend on the number of goroutines, so Step
// gives the same gradients for the same inputs, weights and dropSeed on any
// number of threads. Stochastic depth is drawn from dropSeed alone.
//
// # Exactness
//
// Without drop path, the training forward pass computes what model.Forward
// computes, bit for bit (TestForwardEqualsInference): both run the same
// code on the same kernels.
//
// The gradients match the reference's float64 gradients of the golden cases
// grad_tiny_x2 and grad_light_x4 (every parameter tensor within 1e-3 of its
// largest gradient, worst seen 3e-4, input gradient 2.4e-6), and a
// finite-difference test checks every attention variant and drop path.
package backprop
