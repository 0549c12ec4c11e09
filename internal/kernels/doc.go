// Package kernels holds the small numeric building blocks of GRFormer that
// sit beside the fast kernel packages: packed Linear and 3x3 convolution
// layers, the weight repacking, the reflection padding and the pixel
// shuffle, as pure functions on float32 slices. They know nothing of the
// model: the model and train packages compose them with the fast kernels,
// which they import directly. Nothing here is public API of the module.
//
// # Layout
//
// Activations are row-major "tokens x channels": an image of H x W pixels
// with C channels is a slice of H*W*C values, pixel (y, x) at
// [(y*W+x)*C : (y*W+x+1)*C]. Linear weights keep PyTorch's [out, in]
// layout. Convolution weights are repacked once by the caller into the
// layouts documented on each function (see PackConv3x3, PackDepthwise3x3).
//
// # Map
//
//	linear.go     Linear (y = x W^T + b, strided): the plain version, for
//	              small products and as the reference of Dense
//	dense.go      Dense and Conv3: Linear and 3x3 convolution with packed
//	              weights on the GEMM micro-kernels (internal/gemm)
//	conv.go       Im2Col, weight packing (PackConv3x3, PackDepthwise3x3)
//	layout.go     ReflectIndex (the padding), PixelShuffle
//
// The fast kernels live in their own packages, each with a plain reference
// version beside it:
//
//	internal/gemm     matrix products (AVX-512 12x32 and AVX2 tiles)
//	internal/vmath    softmax, exp, GELU and GELU', LayerNorm forward and
//	                  backward, head L2 norms, column sums
//	internal/dwconv   depthwise 3x3 convolution and its weight gradient
//	internal/cpu      the one switch: which implementation (AVX-512, AVX2,
//	                  portable Go) every kernel runs; cpu.SetGeneric forces
//	                  the portable one
//	internal/kerneltest  the tests' harness: every case on every
//	                  implementation, on guarded buffers, against the reference
//
// Destination first; the caller owns every buffer. Functions panic only on
// programming errors (slices too short), never on data.
package kernels
