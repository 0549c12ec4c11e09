package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grformer/grformer/checkpoint"
)

// toF16 rounds a float32 to the nearest IEEE binary16 (ties to even), as
// PyTorch's .half() does.
func toF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	if b&0x7fffffff > 0x7f800000 {
		return sign | 0x7e00 // NaN
	}
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	if exp >= 0x1f {
		return sign | 0x7c00 // overflow to Inf
	}
	round := func(r, rem, half uint32) uint16 {
		if rem > half || rem == half && r&1 == 1 {
			r++ // may carry into the exponent, up to Inf: correct
		}
		return sign | uint16(r)
	}
	if exp <= 0 { // subnormal or zero
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		return round(mant>>shift, mant&(1<<shift-1), 1<<(shift-1))
	}
	return round(uint32(exp)<<10|mant>>13, mant&0x1fff, 0x1000)
}

// toBF16 rounds a float32 to the nearest bfloat16 (ties to even).
func toBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// halfSafetensors writes sd as a safetensors file whose floating tensors
// are stored as dt (F16 or BF16), integer ones as I64: what
// model.half().state_dict() saved with safetensors looks like.
func halfSafetensors(sd checkpoint.StateDict, dt checkpoint.DType) []byte {
	var h strings.Builder
	var data []byte
	h.WriteByte('{')
	for i, k := range sd.Keys() {
		t := sd[k]
		if i > 0 {
			h.WriteByte(',')
		}
		start, kind := len(data), checkpoint.I64
		if t.IsFloat() {
			kind = dt
			for _, v := range t.F32 {
				if dt == checkpoint.F16 {
					data = binary.LittleEndian.AppendUint16(data, toF16(v))
				} else {
					data = binary.LittleEndian.AppendUint16(data, toBF16(v))
				}
			}
		} else {
			for _, v := range t.I64 {
				data = binary.LittleEndian.AppendUint64(data, uint64(v))
			}
		}
		shape := strings.Trim(strings.ReplaceAll(fmt.Sprint(t.Shape), " ", ","), "[]")
		fmt.Fprintf(&h, `%q:{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}`, k, kind, shape, start, len(data))
	}
	h.WriteByte('}')
	out := binary.LittleEndian.AppendUint64(nil, uint64(h.Len()))
	return append(append(out, h.String()...), data...)
}

// TestHalfPrecisionCheckpoints: fp16 and bf16 state dicts, buffers
// included, load (issue 12, item 8: the derived-buffer checks used a fixed
// 1e-6 tolerance, and fp16 stores the mask's -1e9 as -Inf) and give outputs
// close to the float32 weights'.
func TestHalfPrecisionCheckpoints(t *testing.T) {
	dir := "../testdata/golden/tiny_x2"
	sd32, err := checkpoint.Load(filepath.Join(dir, "weights.pth"))
	if err != nil {
		t.Fatal(err)
	}
	ref := loadGoldenModel(t, filepath.Join(dir, "weights.pth"))
	in := readNpy(t, filepath.Join(dir, "input.npy"))
	n, h, w := in.Shape[0], in.Shape[2], in.Shape[3]
	want, err := ref.Forward(in.Float32(), n, h, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var masks, tables int
	for k := range sd32 {
		masks += btoi(strings.HasSuffix(k, "attn_mask"))
		tables += btoi(strings.HasSuffix(k, "relative_position_bias_table") || strings.HasSuffix(k, "relative_coords_table"))
	}
	if masks == 0 || tables == 0 {
		t.Fatalf("the fixture has %d masks and %d tables: the test would not test the buffer checks", masks, tables)
	}
	for _, c := range []struct {
		dt  checkpoint.DType
		tol float64 // max abs output difference from the float32 weights
	}{
		{checkpoint.F16, 2e-3},
		{checkpoint.BF16, 2e-2},
	} {
		t.Run(string(c.dt), func(t *testing.T) {
			file := halfSafetensors(sd32, c.dt)
			sd, _, err := checkpoint.Decode(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatal(err)
			}
			infs := 0
			for k, tt := range sd {
				if tt.DType != c.dt && tt.IsFloat() {
					t.Fatalf("%s stored as %s", k, tt.DType)
				}
				for _, v := range tt.F32 {
					infs += btoi(math.IsInf(float64(v), -1))
				}
			}
			if c.dt == checkpoint.F16 && infs == 0 {
				t.Fatal("no -Inf in the fp16 masks: the test would not test the mask check")
			}
			cfg, err := ConfigFrom(sd)
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(cfg, sd)
			if err != nil {
				t.Fatalf("%s checkpoint refused: %v", c.dt, err)
			}
			got, err := m.Forward(in.Float32(), n, h, w, Options{})
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); !(d <= worst) {
					worst = d
				}
			}
			t.Logf("%s: max abs output difference from float32 weights %.3g", c.dt, worst)
			if !(worst <= c.tol) || worst == 0 {
				t.Errorf("max abs difference %.3g, want in (0, %.0e]", worst, c.tol)
			}
			// A mask entry flipped either way is still refused.
			for k, tt := range sd {
				if !strings.HasSuffix(k, "attn_mask") {
					continue
				}
				seen := map[bool]bool{}
				for i := 0; i < len(tt.F32); i += len(tt.F32)/64 + 1 {
					v := tt.F32[i]
					seen[v == 0] = true
					flipped := float32(0)
					if v == 0 {
						flipped = float32(math.Inf(-1))
					}
					tt.F32[i] = flipped
					if _, err := New(cfg, sd); err == nil || !strings.Contains(err.Error(), k+" differs from the computed shift mask") {
						t.Errorf("%s[%d] = %v instead of %v: %v", k, i, flipped, v, err)
					}
					tt.F32[i] = v
				}
				if !seen[true] || !seen[false] {
					t.Errorf("%s: the flips did not reach both masked and unmasked entries", k)
				}
				break
			}
		})
	}
}

// TestHalfBufferChecks: the checks still refuse wrong buffers in fp16.
func TestHalfBufferChecks(t *testing.T) {
	want := []float32{0, 0.5, -1, 0.3333333}
	half := &checkpoint.Tensor{Shape: []int{4}, DType: checkpoint.F16, F32: []float32{0, 0.5, -1, 0.33325195}} // fp16 of 1/3
	if err := checkTable("t", half, want); err != nil {
		t.Errorf("fp16 table refused: %v", err)
	}
	half.F32[3] = 0.3330078 // one fp16 ulp further
	if err := checkTable("t", half, want); err == nil {
		t.Error("a table off by one fp16 ulp was accepted")
	}
	f32 := &checkpoint.Tensor{Shape: []int{4}, DType: checkpoint.F32, F32: []float32{0, 0.5, -1, 0.33325195}}
	if err := checkTable("t", f32, want); err == nil {
		t.Error("an F32 table with fp16 rounding was accepted")
	}
	half.F32[3] = float32(math.NaN())
	if err := checkTable("t", half, want); err == nil {
		t.Error("NaN accepted")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
