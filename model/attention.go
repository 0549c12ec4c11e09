package model

import (
	"fmt"
	"math"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/internal/kernels"
)

// esrpbHidden and cpbHidden are the widths of the position-bias MLPs'
// hidden layers (ES-RPB, Swin V2 CPB).
const (
	esrpbHidden = 128
	cpbHidden   = 512
)

// BiasMLPHidden is the hidden width of a position-bias MLP variant.
func BiasMLPHidden(kind PosBias) int {
	if kind == BiasCPBLog {
		return cpbHidden
	}
	return esrpbHidden
}

// CPBLogTable returns Swin V2's log-spaced coordinates for a wh x ww window
// (the "cpb-log" variant): per axis t = 8*d/(W-1), mapped to
// sign(t)*log2(|t|+1)/log2(8); layout as ESRPBTable.
func CPBLogTable(wh, ww int) []float32 {
	return coordTable(wh, ww, 8, func(a float64) float64 { return math.Log2(a+1) / 3 })
}

// coordTable lists, for dh in -(wh-1)..wh-1 (outer) and dw in
// -(ww-1)..ww-1 (inner), the pair (g(span*dh/(wh-1)), g(span*dw/(ww-1)))
// with g(t) = sign(t)*squash(|t|), computed in float32 as the reference
// does: [(2wh-1)*(2ww-1)][2].
func coordTable(wh, ww int, span float32, squash func(float64) float64) []float32 {
	g := func(d, w int) float32 {
		t := float32(d) / float32(w-1) * span
		a := float32(squash(math.Abs(float64(t))))
		if t < 0 {
			return -a
		}
		return a
	}
	out := make([]float32, 0, (2*wh-1)*(2*ww-1)*2)
	for dh := -(wh - 1); dh <= wh-1; dh++ {
		for dw := -(ww - 1); dw <= ww-1; dw++ {
			out = append(out, g(dh, wh), g(dw, ww))
		}
	}
	return out
}

// maskValue is what the shift mask adds to the logits of token pairs from
// different regions (spec, "Shift mask": -1e9, not -100).
const maskValue = float32(-1e9)

// CoordTable returns the MLP input table of a position-bias variant
// (ESRPBTable for "esrpb", CPBLogTable for "cpb-log"), nil for the others.
func CoordTable(kind PosBias, wh, ww int) []float32 {
	switch kind {
	case BiasESRPB:
		return ESRPBTable(wh, ww)
	case BiasCPBLog:
		return CPBLogTable(wh, ww)
	}
	return nil
}

// ESRPBTable returns the ES-RPB input table for a wh x ww window (spec, GRSA
// step 6): for dh in -(wh-1)..wh-1 (outer) and dw in -(ww-1)..ww-1 (inner),
// the pair (f(3.2*dh/(wh-1)), f(3.2*dw/(ww-1))), f(t) = sign(t)(1-exp(-|t|)).
// The result is [(2wh-1)*(2ww-1)][2], the layout of the reference's
// relative_position_bias_table buffer [1, 2wh-1, 2ww-1, 2].
func ESRPBTable(wh, ww int) []float32 {
	return coordTable(wh, ww, 3.2, func(a float64) float64 { return 1 - math.Exp(-a) })
}

// RelativePositionIndex returns the [n][n] table index (n = wh*ww) of token
// pair (i, j): (hi-hj+wh-1)*(2ww-1) + (wi-wj+ww-1), the reference's
// relative_position_index buffer.
func RelativePositionIndex(wh, ww int) []int64 {
	n := wh * ww
	idx := make([]int64, n*n)
	for i := range n {
		hi, wi := i/ww, i%ww
		for j := range n {
			hj, wj := j/ww, j%ww
			idx[i*n+j] = int64((hi-hj+wh-1)*(2*ww-1) + (wi - wj + ww - 1))
		}
	}
	return idx
}

// ESRPBMLP runs the ES-RPB MLP, Linear(2 -> 128, bias), ReLU,
// Linear(128 -> heads, no bias), on every table row: [rows][heads].
func ESRPBMLP(table, w0, b0, w2 []float32, heads int) []float32 {
	rows := len(table) / 2
	hid := make([]float32, rows*esrpbHidden)
	out := make([]float32, rows*heads)
	BiasMLPInto(out, hid, hid, table, w0, b0, w2, esrpbHidden, heads)
	return out
}

// BiasMLPInto runs a position-bias MLP, Linear(2 -> hidW, bias), ReLU,
// Linear(hidW -> heads, no bias), on every row of table [rows][2] into out
// [rows][heads]. pre receives the hidden pre-activations [rows][hidW] and
// act their ReLU (act may be pre when the pre-activations are not needed).
// It does not allocate.
func BiasMLPInto(out, pre, act, table, w0, b0, w2 []float32, hidW, heads int) {
	rows := len(table) / 2
	kernels.Linear(pre, hidW, table, 2, w0, b0, rows, 2, hidW)
	for i, v := range pre[:rows*hidW] {
		act[i] = max(v, 0)
	}
	kernels.Linear(out, heads, act, hidW, w2, nil, rows, hidW, heads)
}

// TableBiasInto expands a learned table [rows][heads] to bias
// [heads][n][n] without any squashing (the "table" variant, SwinIR's
// bias).
func TableBiasInto(bias, table []float32, index []int64, heads, n int) {
	for h := range heads {
		for ij, r := range index {
			bias[h*n*n+ij] = table[int(r)*heads+h]
		}
	}
}

// ESRPBBiasInto expands the MLP output [rows][heads] to the per-head bias
// [heads][n][n] = 16*sigmoid(mlp[index[i][j]][head]).
func ESRPBBiasInto(bias, mlpOut []float32, index []int64, heads, n int) {
	for h := range heads {
		for ij, r := range index {
			v := float64(mlpOut[int(r)*heads+h])
			bias[h*n*n+ij] = float32(16 / (1 + math.Exp(-v)))
		}
	}
}

// logitScaleMax is the clamp of the learned log logit scale, ln 100.
var logitScaleMax = float32(math.Log(100))

// LogitScales sets dst[h] = exp(min(raw[h], ln 100)), the logit scale of
// each head from its learned logarithm (spec, GRSA step 5).
func LogitScales(dst, raw []float32) {
	for h, v := range raw {
		dst[h] = float32(math.Exp(float64(min(v, logitScaleMax))))
	}
}

// LogitScalePasses reports whether the clamp of LogitScales passes raw
// through (raw <= ln 100), so that its gradient flows.
func LogitScalePasses(raw float32) bool { return raw <= logitScaleMax }

// pySlice resolves Python's slice(a, b) (nil b = None) on a length-l axis to
// the half-open range [lo, hi), empty when lo >= hi.
func pySlice(a int, b *int, l int) (lo, hi int) {
	res := func(v int) int {
		if v < 0 {
			v += l
		}
		return min(max(v, 0), l)
	}
	lo, hi = res(a), l
	if b != nil {
		hi = res(*b)
	}
	return lo, hi
}

// ShiftLabels returns the shift-mask region label of every token of every
// window, [nW][n] in window order, for a block with window (wh, ww) and
// shift (sh, sw) on an hp x wp padded map (spec, "Shift mask"). Tokens i, j
// of a window attend to each other only when their labels are equal.
func ShiftLabels(hp, wp, wh, ww, sh, sw int) []int32 {
	img := make([]int32, hp*wp)
	negWh, negSh, negWw, negSw := -wh, -sh, -ww, -sw
	rows := [3][2]int{}
	rows[0][0], rows[0][1] = pySlice(0, &negWh, hp)
	rows[1][0], rows[1][1] = pySlice(-wh, &negSh, hp)
	rows[2][0], rows[2][1] = pySlice(-sh, nil, hp)
	cols := [3][2]int{}
	cols[0][0], cols[0][1] = pySlice(0, &negWw, wp)
	cols[1][0], cols[1][1] = pySlice(-ww, &negSw, wp)
	cols[2][0], cols[2][1] = pySlice(-sw, nil, wp)
	cnt := int32(0)
	for _, r := range rows {
		for _, c := range cols {
			for y := r[0]; y < r[1]; y++ {
				for x := c[0]; x < c[1]; x++ {
					img[y*wp+x] = cnt
				}
			}
			cnt++
		}
	}
	// Partition the label map like the features: [nW][wh*ww].
	out := make([]int32, hp*wp)
	gw := wp / ww
	for y := range hp {
		for x := range wp {
			win := (y/wh)*gw + x/ww
			out[win*wh*ww+(y%wh)*ww+x%ww] = img[y*wp+x]
		}
	}
	return out
}

// MaskFromLabels expands window labels [nW][n] into the reference's additive
// mask [nW][n][n] (0 where labels agree, -1e9 elsewhere). For tests and
// checkpoint export; the forward pass uses the labels directly.
func MaskFromLabels(labels []int32, n int) []float32 {
	nw := len(labels) / n
	mask := make([]float32, nw*n*n)
	for w := range nw {
		l := labels[w*n : (w+1)*n]
		for i := range n {
			for j := range n {
				if l[i] != l[j] {
					mask[(w*n+i)*n+j] = maskValue
				}
			}
		}
	}
	return mask
}

// ShiftMask returns the reference's attn_mask [nW][n][n] for a shifted block
// with window (wh, ww) and shift (sh, sw) on an hp x wp padded input.
func ShiftMask(hp, wp, wh, ww, sh, sw int) []float32 {
	return MaskFromLabels(ShiftLabels(hp, wp, wh, ww, sh, sw), wh*ww)
}

// storedTol is how far a value stored as dt may be from the exact v it
// rounds: half an ulp of the format (fp16 keeps 11 significant bits, bf16
// 8), plus 1e-6 for the float32 arithmetic that computed v.
func storedTol(dt checkpoint.DType, v float32) float64 {
	a := math.Abs(float64(v))
	switch dt {
	case checkpoint.F16:
		return math.Max(a, 0x1p-14)*0x1p-11 + 1e-6 // below 2^-14 the spacing is fixed
	case checkpoint.BF16:
		return a*0x1p-8 + 1e-6
	}
	return 1e-6
}

// checkTable compares a stored coordinate table with the computed one,
// within the rounding of the dtype it was stored in (fp16 and bf16
// checkpoints, model.half().state_dict(), round it).
func checkTable(key string, t *checkpoint.Tensor, want []float32) error {
	if t == nil {
		return nil
	}
	for i, v := range want {
		if d := math.Abs(float64(t.F32[i] - v)); !(d <= storedTol(t.DType, v)) {
			return fmt.Errorf("model: buffer %s differs from the computed table at %d: %g vs %g (stored as %s)", key, i, t.F32[i], v, t.DType)
		}
	}
	return nil
}

func checkIndex(key string, t *checkpoint.Tensor, want []int64) error {
	if t == nil {
		return nil
	}
	for i, v := range want {
		got := int64(0)
		switch {
		case t.I64 != nil:
			got = t.I64[i]
		case t.F32 != nil:
			got = int64(t.F32[i])
		}
		if got != v {
			return fmt.Errorf("model: buffer %s differs from the computed index at %d: %d vs %d", key, i, got, v)
		}
	}
	return nil
}

// maskedAt is the value at or below which a stored mask entry counts as
// masked: the reference adds -1e9, which fp16 stores as -Inf and bf16
// rounds; any value this low zeroes the softmax weight just the same.
const maskedAt = -1e4

// checkMask compares a stored shift mask with the computed one: an entry
// must be 0 where the computed mask is 0, and at most maskedAt (-Inf
// included) where it masks.
func checkMask(key string, t *checkpoint.Tensor, size int, b *Block) error {
	if t.F32 == nil {
		return fmt.Errorf("model: buffer %s has dtype %s, want float", key, t.DType)
	}
	n := b.wh * b.ww
	labels := ShiftLabels(size, size, b.wh, b.ww, b.sh, b.sw)
	for w := 0; w < len(labels)/n; w++ {
		l := labels[w*n : (w+1)*n]
		for i := range n {
			for j := range n {
				got := t.F32[(w*n+i)*n+j]
				masked := l[i] != l[j]
				if masked && !(got <= maskedAt) || !masked && got != 0 {
					want := float32(0)
					if masked {
						want = maskValue
					}
					return fmt.Errorf("model: buffer %s differs from the computed shift mask at [%d,%d,%d]: %g vs %g (masked means at most %g)", key, w, i, j, got, want, float32(maskedAt))
				}
			}
		}
	}
	return nil
}
