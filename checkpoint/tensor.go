package checkpoint

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// DType names an element type as stored in a file. The names are the
// safetensors ones; a .pth storage class maps to the same names
// (torch.FloatStorage is F32, torch.LongStorage is I64, ...).
type DType string

// Element types the readers understand.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U64  DType = "U64"
	U32  DType = "U32"
	U16  DType = "U16"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size is the number of bytes of one element, 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// IsFloat reports whether d is a floating-point dtype: its values are in
// Tensor.F32 (and, for F64, also in Tensor.F64).
func (d DType) IsFloat() bool {
	switch d {
	case F64, F32, F16, BF16:
		return true
	}
	return false
}

// IsInt reports whether d is an integer or boolean dtype: its values are in
// Tensor.I64.
func (d DType) IsInt() bool {
	switch d {
	case I64, I32, I16, I8, U64, U32, U16, U8, Bool:
		return true
	}
	return false
}

// Tensor is one entry of a state dict, decoded to host memory.
//
// Data is always row-major (C order) and contiguous, whatever the layout of
// the source was (a strided view of a PyTorch storage is gathered).
// Exactly one of F32 and I64 holds the values: F32 for every floating dtype
// (F64, F16 and BF16 are converted), I64 for every integer and boolean dtype.
// F64 additionally holds the exact values when DType is F64.
type Tensor struct {
	Shape []int
	DType DType     // dtype as stored in the file
	F32   []float32 // floating dtypes, converted to float32
	F64   []float64 // only for DType F64: the exact values (F32 is filled too)
	I64   []int64   // integer and boolean dtypes
}

// StateDict maps a parameter or buffer name (e.g. "conv_first.weight") to its
// tensor.
type StateDict map[string]*Tensor

// Keys returns the names in sorted order.
func (sd StateDict) Keys() []string {
	keys := make([]string, 0, len(sd))
	for k := range sd {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// NewF32 returns an F32 tensor holding data (not copied) with the given shape.
// Use Validate to check that the sizes agree.
func NewF32(shape []int, data []float32) *Tensor {
	return &Tensor{Shape: slices.Clone(shape), DType: F32, F32: data}
}

// NewI64 returns an I64 tensor holding data (not copied) with the given shape.
func NewI64(shape []int, data []int64) *Tensor {
	return &Tensor{Shape: slices.Clone(shape), DType: I64, I64: data}
}

// Numel is the number of elements implied by Shape (1 for a scalar), or -1
// if a dimension is negative or the product overflows.
func (t *Tensor) Numel() int {
	n, ok := shapeNumel(t.Shape)
	if !ok {
		return -1
	}
	return n
}

// IsFloat reports whether the tensor holds floating-point values (in F32).
// A tensor with an empty DType is classified by which slice is set.
func (t *Tensor) IsFloat() bool {
	if t.DType != "" {
		return t.DType.IsFloat()
	}
	return t.I64 == nil
}

// Validate checks that the tensor is consistent: known dtype (or none), a
// valid shape, and a data slice of the right length for its kind.
func (t *Tensor) Validate() error {
	if t == nil {
		return fmt.Errorf("nil tensor")
	}
	n, ok := shapeNumel(t.Shape)
	if !ok {
		return fmt.Errorf("invalid shape %v", t.Shape)
	}
	if t.DType != "" && t.DType.Size() == 0 {
		return fmt.Errorf("unknown dtype %q", t.DType)
	}
	if t.F32 != nil && t.I64 != nil {
		return fmt.Errorf("both F32 and I64 hold data")
	}
	if t.IsFloat() {
		if len(t.F32) != n {
			return fmt.Errorf("shape %v needs %d float32 values, F32 has %d", t.Shape, n, len(t.F32))
		}
		if t.F64 != nil && len(t.F64) != n {
			return fmt.Errorf("shape %v needs %d float64 values, F64 has %d", t.Shape, n, len(t.F64))
		}
		return nil
	}
	if len(t.I64) != n {
		return fmt.Errorf("shape %v needs %d int64 values, I64 has %d", t.Shape, n, len(t.I64))
	}
	if t.F32 != nil || t.F64 != nil {
		return fmt.Errorf("integer tensor (dtype %s) has floating data", t.DType)
	}
	return nil
}

// shapeNumel multiplies the dimensions, reporting false for a negative
// dimension or an overflow past maxElements.
func shapeNumel(shape []int) (int, bool) {
	zero := false
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		zero = zero || d == 0
	}
	if zero {
		return 0, true
	}
	n := 1
	for _, d := range shape {
		if n > maxElements/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// maxElements bounds any element count this package computes, far above any
// real tensor, so that size arithmetic can never overflow an int64.
const maxElements = 1 << 50

// maxRank bounds the number of dimensions of a tensor read from a file
// (state dicts use at most 5; GRFormer uses 4).
const maxRank = 16

// maxTensors bounds the number of tensors of a state dict read from a file:
// a GRFormer model has a few hundred.
const maxTensors = 1 << 14

// f16ToF32 converts an IEEE 754 binary16 value exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		// Zero or subnormal: mant * 2^-24, exact in float32.
		f := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(f) | sign)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	default:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	}
}

// bf16ToF32 converts a bfloat16 value exactly (it is the top half of a
// float32).
func bf16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// NonFiniteError reports a NaN or infinite value in a floating tensor.
type NonFiniteError struct {
	Key   string  // the tensor's name
	Index int     // flat (row-major) index of the value
	Numel int     // elements of the tensor
	Value float32 // NaN, +Inf or -Inf
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("checkpoint: tensor %s holds %v at index %d (of %d): weights must be finite (one NaN or Inf spreads through the whole output)", quote(e.Key), e.Value, e.Index, e.Numel)
}

// CheckFinite returns a *NonFiniteError for the first NaN or infinite value
// among the floating tensors of sd (in sorted key order) whose key include
// accepts, or nil if all are finite. A nil include checks every tensor; a
// caller can leave out buffers where an infinity has a meaning (attention
// masks stored in fp16 hold -Inf).
func (sd StateDict) CheckFinite(include func(key string) bool) error {
	for _, k := range sd.Keys() {
		if include != nil && !include(k) {
			continue
		}
		for i, v := range sd[k].F32 {
			if v-v != 0 { // NaN or ±Inf
				return &NonFiniteError{Key: k, Index: i, Numel: len(sd[k].F32), Value: v}
			}
		}
	}
	return nil
}
