package checkpoint

import (
	"encoding/binary"
	"math"
)

// allocTensor returns a tensor of the given stored dtype and shape with its
// destination slices allocated (numel elements).
func allocTensor(dt DType, shape []int, numel int) *Tensor {
	t := &Tensor{Shape: shape, DType: dt}
	if dt.IsFloat() {
		t.F32 = make([]float32, numel)
		if dt == F64 {
			t.F64 = make([]float64, numel)
		}
	} else {
		t.I64 = make([]int64, numel)
	}
	return t
}

// decodeRun converts len(src)/dt.Size() little-endian elements of dtype dt
// into t's slices starting at element dst. It reports false for a U64 value
// that does not fit an int64.
func decodeRun(t *Tensor, dst int, src []byte, dt DType) bool {
	le := binary.LittleEndian
	switch dt {
	case F32:
		out := t.F32[dst:]
		for i := range len(src) / 4 {
			out[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case F64:
		out, out64 := t.F32[dst:], t.F64[dst:]
		for i := range len(src) / 8 {
			v := math.Float64frombits(le.Uint64(src[8*i:]))
			out64[i] = v
			out[i] = float32(v)
		}
	case F16:
		out := t.F32[dst:]
		for i := range len(src) / 2 {
			out[i] = f16ToF32(le.Uint16(src[2*i:]))
		}
	case BF16:
		out := t.F32[dst:]
		for i := range len(src) / 2 {
			out[i] = bf16ToF32(le.Uint16(src[2*i:]))
		}
	case I64:
		out := t.I64[dst:]
		for i := range len(src) / 8 {
			out[i] = int64(le.Uint64(src[8*i:]))
		}
	case U64:
		out := t.I64[dst:]
		for i := range len(src) / 8 {
			v := le.Uint64(src[8*i:])
			if v > math.MaxInt64 {
				return false
			}
			out[i] = int64(v)
		}
	case I32:
		out := t.I64[dst:]
		for i := range len(src) / 4 {
			out[i] = int64(int32(le.Uint32(src[4*i:])))
		}
	case U32:
		out := t.I64[dst:]
		for i := range len(src) / 4 {
			out[i] = int64(le.Uint32(src[4*i:]))
		}
	case I16:
		out := t.I64[dst:]
		for i := range len(src) / 2 {
			out[i] = int64(int16(le.Uint16(src[2*i:])))
		}
	case U16:
		out := t.I64[dst:]
		for i := range len(src) / 2 {
			out[i] = int64(le.Uint16(src[2*i:]))
		}
	case I8:
		out := t.I64[dst:]
		for i, b := range src {
			out[i] = int64(int8(b))
		}
	case U8:
		out := t.I64[dst:]
		for i, b := range src {
			out[i] = int64(b)
		}
	case Bool:
		out := t.I64[dst:]
		for i, b := range src {
			if b != 0 {
				out[i] = 1
			} else {
				out[i] = 0
			}
		}
	}
	return true
}

// encodeF32 appends the little-endian bytes of v to b.
func encodeF32(b []byte, v []float32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// encodeI64 appends the little-endian bytes of v to b.
func encodeI64(b []byte, v []int64) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}

// outputKind is the dtype a writer stores t as: F64 for an F64 tensor that
// carries its exact F64 values, F32 for any other floating tensor, I64 for
// integer and boolean ones.
func outputKind(t *Tensor) DType {
	switch {
	case t.DType == F64 && t.F64 != nil:
		return F64
	case t.IsFloat():
		return F32
	}
	return I64
}

// tensorBytes is the little-endian encoding of t's values as outputKind(t).
func tensorBytes(t *Tensor) []byte {
	switch outputKind(t) {
	case F64:
		b := make([]byte, 0, 8*len(t.F64))
		for _, x := range t.F64 {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	case F32:
		return encodeF32(make([]byte, 0, 4*len(t.F32)), t.F32)
	}
	return encodeI64(make([]byte, 0, 8*len(t.I64)), t.I64)
}
