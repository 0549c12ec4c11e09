package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	pb "github.com/grformer/grformer/onnx/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// builder appends nodes and initializers to one graph. Every node has one
// output named after its op and a counter, except the few multi-output ones
// (nodeN).
type builder struct {
	g       *pb.GraphProto
	next    int
	scalars map[string]string // small constants by type and value
}

func newBuilder(name string) *builder {
	return &builder{g: &pb.GraphProto{Name: proto.String(name)}, scalars: map[string]string{}}
}

// node adds op(in...) with the given attributes and returns its output.
func (b *builder) node(op string, in []string, attrs ...*pb.AttributeProto) string {
	return b.nodeN(op, in, 1, attrs...)[0]
}

// nodeN adds a node with n outputs.
func (b *builder) nodeN(op string, in []string, n int, attrs ...*pb.AttributeProto) []string {
	b.next++
	name := fmt.Sprintf("%s_%d", op, b.next)
	out := make([]string, n)
	for i := range out {
		out[i] = name
		if n > 1 {
			out[i] = fmt.Sprintf("%s:%d", name, i)
		}
	}
	b.g.Node = append(b.g.Node, &pb.NodeProto{
		Name: proto.String(name), OpType: proto.String(op),
		Input: in, Output: out, Attribute: attrs,
	})
	return out
}

// Attributes.
func attrInt(name string, v int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrInts(name string, v ...int64) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrFloat(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func attrString(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// f32 adds a float32 initializer (raw little-endian data) and returns its
// name.
func (b *builder) f32(name string, data []float32, dims ...int) string {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	b.init(name, pb.TensorProto_FLOAT, raw, dims)
	return name
}

// i64 adds an int64 initializer and returns its name.
func (b *builder) i64(name string, data []int64, dims ...int) string {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	b.init(name, pb.TensorProto_INT64, raw, dims)
	return name
}

func (b *builder) init(name string, dt pb.TensorProto_DataType, raw []byte, dims []int) {
	d := make([]int64, len(dims))
	for i, v := range dims {
		d[i] = int64(v)
	}
	b.g.Initializer = append(b.g.Initializer, &pb.TensorProto{
		Name: proto.String(name), DataType: proto.Int32(int32(dt)), Dims: d, RawData: raw,
	})
}

// constF returns a shared float32 constant of the given shape holding v
// (a scalar when dims is empty).
func (b *builder) constF(v float32, dims ...int) string {
	key := fmt.Sprintf("f%v%v", math.Float32bits(v), dims)
	if n, ok := b.scalars[key]; ok {
		return n
	}
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = v
	}
	name := b.f32(fmt.Sprintf("const_f32_%d", len(b.scalars)), data, dims...)
	b.scalars[key] = name
	return name
}

// ints returns a shared 1-D int64 constant (a shape, axes, starts ...).
func (b *builder) ints(v ...int64) string {
	key := fmt.Sprintf("i%v", v)
	if n, ok := b.scalars[key]; ok {
		return n
	}
	name := b.i64(fmt.Sprintf("const_i64_%d", len(b.scalars)), v, len(v))
	b.scalars[key] = name
	return name
}

// scalarI returns a shared 0-D int64 constant.
func (b *builder) scalarI(v int64) string {
	key := fmt.Sprintf("s%d", v)
	if n, ok := b.scalars[key]; ok {
		return n
	}
	name := b.i64(fmt.Sprintf("const_i64_%d", len(b.scalars)), []int64{v})
	b.scalars[key] = name
	return name
}

// Shorthands for the ops used often.
func (b *builder) add(x, y string) string { return b.node("Add", []string{x, y}) }
func (b *builder) sub(x, y string) string { return b.node("Sub", []string{x, y}) }
func (b *builder) mul(x, y string) string { return b.node("Mul", []string{x, y}) }
func (b *builder) div(x, y string) string { return b.node("Div", []string{x, y}) }

func (b *builder) transpose(x string, perm ...int64) string {
	return b.node("Transpose", []string{x}, attrInts("perm", perm...))
}

func (b *builder) reshape(x, shape string) string {
	return b.node("Reshape", []string{x, shape})
}

func (b *builder) concat(axis int64, in ...string) string {
	return b.node("Concat", in, attrInt("axis", axis))
}

func (b *builder) unsqueeze(x string, axes ...int64) string {
	return b.node("Unsqueeze", []string{x, b.ints(axes...)})
}

// slice is x[start:end] along one axis (static bounds).
func (b *builder) slice(x string, axis, start, end int64) string {
	return b.node("Slice", []string{x, b.ints(start), b.ints(end), b.ints(axis)})
}

// where is cond ? x : y.
func (b *builder) where(cond, x, y string) string {
	return b.node("Where", []string{cond, x, y})
}

func (b *builder) geq(x, y string) string { return b.node("GreaterOrEqual", []string{x, y}) }

// valueInfo describes a float32 graph input or output with symbolic or
// fixed dimensions (string or int).
func valueInfo(name string, dims ...any) *pb.ValueInfoProto {
	shape := &pb.TensorShapeProto{}
	for _, d := range dims {
		dim := &pb.TensorShapeProto_Dimension{}
		switch v := d.(type) {
		case string:
			dim.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: v}
		case int:
			dim.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(v)}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &pb.ValueInfoProto{
		Name: proto.String(name),
		Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(pb.TensorProto_FLOAT)), Shape: shape,
		}}},
	}
}
