// Package kernels holds the numeric building blocks of GRFormer as pure
// functions on float32 slices. They know nothing of the model: the model
// package composes them.
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
//	linear.go     Linear (y = x W^T + b, strided): the plain reference
//	dense.go      Dense and Conv3: Linear and 3x3 convolution with packed
//	              weights on the GEMM micro-kernels (internal/gemm)
//	conv.go       Im2Col, Conv3x3 (the plain reference of Conv3), weight packing
//	layout.go     ReflectIndex (the padding), Roll, WindowPartition,
//	              WindowReverse, PixelShuffle (references of the index maps
//	              the model uses)
//	impl.go       SetGeneric / Impl: the assembly or the portable Go kernels
//
// The fast kernels themselves live in internal packages, each with a plain
// reference version beside it and tests of every implementation against it:
//
//	internal/gemm     matrix products (AVX-512 12x32 and AVX2 tiles)
//	internal/vmath    softmax, exp, GELU and GELU', LayerNorm forward and
//	                  backward, head L2 norms, column sums
//	internal/dwconv   depthwise 3x3 convolution and its weight gradient
//
// Destination first; the caller owns every buffer. Functions panic only on
// programming errors (slices too short), never on data.
package kernels
