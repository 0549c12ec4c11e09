// Package onnxpb holds the ONNX protobuf messages (ModelProto, GraphProto,
// NodeProto, TensorProto ...), generated from onnx.proto with
// google.golang.org/protobuf's protoc-gen-go.
//
// onnx.proto is the file the ONNX project generates from onnx.in.proto
// (Apache-2.0), taken unchanged from Debian's libonnx-dev 1.12.0-2+b4
// (/usr/include/onnx/onnx.proto; ONNX 1.12 defines IR version 8 and
// opset 17). To regenerate onnx.pb.go, install protoc (Debian:
// protobuf-compiler) and protoc-gen-go v1.36.12
// (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12), then
// run go generate in this folder.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/grformer/grformer/onnx/internal/onnxpb onnx.proto
