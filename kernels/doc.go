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
//	linear.go     Linear (y = x W^T + b, strided), MatMulNT / MatMulNN
//	conv.go       Conv3x3 (dense, zero padding 1), DepthwiseConv3x3, weight packing
//	norm.go       LayerNorm, L2Normalize, Softmax, GELU (exact erf form)
//	layout.go     ReflectPad, Roll, WindowPartition, WindowReverse, PixelShuffle
//
// Destination first; the caller owns every buffer. Functions panic only on
// programming errors (slices too short), never on data.
package kernels
