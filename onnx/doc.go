// Package onnx writes a GRFormer network with its weights as an ONNX model
// (opset 17, IR version 8) that ONNX Runtime, TensorRT or Triton can run:
// input "input" float32 [N, 3, H, W] (RGB in [0, 1]), output "output"
// float32 [N, 3, H*s, W*s], not clamped, with N, H and W dynamic. The graph
// computes exactly what model.Forward computes (spec, "Forward pass"), in
// standard operators only.
//
// # Map
//
//	export.go      Marshal, Export, WriteFile; the network as graph pieces:
//	               padding, blocks, GRSA, position bias, shift mask, FFN
//	graph.go       a small graph builder over the protobuf messages
//	internal/onnxpb  the messages, generated from onnx.proto (see gen.go)
//
// # How the model's steps map to operators
//
//   - Reflection padding to a multiple of max(window): Gather along H and W
//     with indices computed from the input's Shape (Range, Mod, Where), the
//     reflection repeated where the pad is not smaller than the side, as
//     model does (the Pad operator's reflect mode cannot do that).
//   - Tokens are [N, Hp, Wp, C] inside the body; the 3x3 and depthwise
//     convolutions run on NCHW transposes.
//   - Roll: Slice + Concat. Window partition and reverse: Reshape,
//     Transpose, Reshape, with Wp/ww computed from the shape.
//   - Shift mask [nW, 1, n, n]: built in the graph from the padded size
//     (region label per row and column, 3*row + column, partitioned like
//     the features; Equal, Where 0 / -1e9), once per window orientation.
//   - GRL q, k, v: one MatMul with the six Linear(C/2, C/2) as a
//     block-diagonal [C, 3C] matrix, then the shortcut added to each of q, k
//     and v; the grouped output projection likewise. The "qkv" variant uses
//     its Linear(C, 3C) and Linear(C, C).
//   - Cosine attention: q * (scale / max(||q||, 1e-12)) and
//     k * (1 / max(||k||, 1e-12)) (ReduceL2, Max, Div, Mul), the clamped
//     logit scale exp(min(s, ln 100)) being a constant per head folded into
//     q's factor; Softmax on the last axis.
//   - Position bias: the MLP input table, the MLP weights and the index
//     are initializers and the bias 16*sigmoid(MLP(table))[index] is
//     computed by operators whose inputs are all constant, which ONNX
//     Runtime folds into one constant at load time ("table": the learned
//     table gathered by the index; "none": no bias).
//   - LayerNormalization (opset 17), GELU as x*0.5*(1+Erf(x/sqrt 2)) (the
//     pattern ONNX Runtime fuses), DepthToSpace mode CRD for the pixel
//     shuffle, a final Slice for the crop.
//
// Every configuration model.Config accepts is exported: both attention
// projections ("grl", "qkv"), all position biases ("esrpb", "cpb-log",
// "table", "none"), any window, depths, heads, MLP ratio, scale and
// img_range.
//
// # Checking with a real engine
//
// The tests run the exported graphs in onnxruntime-node, through
// testdata/ort/run.js, and compare with the reference outputs and with
// model.Forward (max abs <= 1e-4; about 1e-6 is typical). They skip when
// node or the package is absent. Install the package (its CPU library is
// inside; the variable skips its attempt to fetch CUDA libraries) with
//
//	ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix onnx/testdata/ort
//
// or set GRFORMER_ORT_DIR to a folder whose node_modules holds it.
// BenchmarkORT times ONNX Runtime beside model.Forward (light x4, LR
// 320x180). TestONNXChecker runs the ONNX project's checker when python3
// has the onnx package.
package onnx
