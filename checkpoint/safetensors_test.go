package checkpoint

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSafetensorsRoundTrip writes golden and synthetic state dicts with
// WriteSafetensors and reads them back with both readers.
func TestSafetensorsRoundTrip(t *testing.T) {
	sds := map[string]StateDict{"small": smallSD(), "empty": {}}
	for _, name := range tinyCases {
		sd, _ := mustLoad(t, filepath.Join(moduleGolden(name), "weights.pth"))
		sds[name] = sd
	}
	meta := map[string]string{"format": "pt", "note": `quotes " and \ and ünïcode`}
	for name, sd := range sds {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteSafetensors(&buf, sd, meta); err != nil {
				t.Fatal(err)
			}
			data := buf.Bytes()
			n := binary.LittleEndian.Uint64(data)
			if (8+n)%8 != 0 || data[8] != '{' {
				t.Errorf("header length %d: data area not 8-byte aligned, or header not a JSON object", n)
			}
			got, err := ReadSafetensors(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if d := diffSD(sd, got); d != "" {
				t.Fatal(d)
			}
			got2, info, err := DecodeSafetensors(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if d := diffSD(sd, got2); d != "" {
				t.Fatal(d)
			}
			if !slices.Equal(info.Keys, sd.Keys()) {
				t.Errorf("data order %v, want sorted keys", info.Keys)
			}
			if info.Metadata["note"] != meta["note"] || len(info.Metadata) != 2 {
				t.Errorf("metadata %v, want %v", info.Metadata, meta)
			}
			// Writing twice gives the same bytes.
			var again bytes.Buffer
			WriteSafetensors(&again, sd, meta)
			if !bytes.Equal(again.Bytes(), data) {
				t.Error("output is not deterministic")
			}
		})
	}
}

// stFile builds a safetensors file from a raw header and data area.
func stFile(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// TestSafetensorsBad: every malformed file is an error naming the problem
// (and the tensor), never a panic.
func TestSafetensorsBad(t *testing.T) {
	data8 := make([]byte, 8)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"too short", []byte{1, 0, 0}, "too short"},
		{"header beyond file", append(binary.LittleEndian.AppendUint64(nil, 1000), `{"a":1}`...), "header length 1000 goes beyond the end of the file"},
		{"header over limit", append(binary.LittleEndian.AppendUint64(nil, 1<<40), `{}`...), "exceeds the 100000000-byte limit"},
		{"header length overflow", append(binary.LittleEndian.AppendUint64(nil, 1<<63+5), `{}`...), "exceeds"},
		{"offsets out of range", stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}`, data8), `tensor "w": data_offsets [0, 16] outside the data area (8 bytes; truncated file?)`},
		{"negative offset", stFile(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[-4,-4]}}`, data8), `tensor "w": data_offsets [-4, -4] outside`},
		{"begin after end", stFile(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}`, data8), `tensor "w": data_offsets [8, 4] outside`},
		{"shape does not match bytes", stFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, data8), `tensor "w": shape [3] of F32 needs 12 bytes, data_offsets [0, 8] span 8`},
		{"huge shape", stFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, data8), `tensor "w": invalid shape`},
		{"negative dim", stFile(`{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, data8), `tensor "w": invalid shape`},
		{"overlap", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}`, data8), `overlap`},
		{"unknown dtype", stFile(`{"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}`, data8), `tensor "w": unsupported dtype "F8_E4M3"`},
		{"missing dtype", stFile(`{"w":{"shape":[2],"data_offsets":[0,8]}}`, data8), `tensor "w": header entry has no dtype`},
		{"missing shape", stFile(`{"w":{"dtype":"F32","data_offsets":[0,8]}}`, data8), `tensor "w": header entry has no shape`},
		{"bad offsets", stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}`, data8), `tensor "w": data_offsets must be [begin, end]`},
		{"float offsets", stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}}`, data8), `tensor "w": header entry`},
		{"duplicate name", stFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, data8), `header names "w" twice`},
		{"not JSON", stFile(`{"w":`, data8), "header JSON"},
		{"not an object", stFile(`[1,2]   `, data8), "not a JSON object"},
		{"trailing garbage", stFile(`{} {}`, nil), "trailing data"},
		{"metadata not strings", stFile(`{"__metadata__":{"a":1}}`, nil), "__metadata__ must map strings to strings"},
		{"entry not an object", stFile(`{"w":5}`, nil), `tensor "w": header entry`},
		{"invalid UTF-8", stFile("{\"\xff\":{}}", nil), "UTF-8"},
		{"U64 overflow", stFile(`{"w":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}`, []byte{0, 0, 0, 0, 0, 0, 0, 0x80}), "does not fit an int64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := DecodeSafetensors(bytes.NewReader(c.file), int64(len(c.file)))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "checkpoint: safetensors: ") {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
			if _, err := ReadSafetensors(bytes.NewReader(c.file)); err == nil {
				t.Error("ReadSafetensors accepted it")
			}
		})
	}
}

// TestSafetensorsDTypes reads every supported dtype, gaps between tensors
// and a scalar.
func TestSafetensorsDTypes(t *testing.T) {
	var data []byte
	var hdr []string
	add := func(name, dtype, shape string, b []byte) {
		begin := len(data)
		data = append(data, b...)
		hdr = append(hdr, `"`+name+`":{"dtype":"`+dtype+`","shape":`+shape+`,"data_offsets":[`+strconv.Itoa(begin)+`,`+strconv.Itoa(len(data))+`]}`)
		data = append(data, 0xAA) // a gap
	}
	add("f16", "F16", "[2]", le[uint16](0x3c00, 0xc000))
	add("bf16", "BF16", "[1,1]", le[uint16](0x4049))
	add("f64", "F64", "[]", le(0.1))
	add("i32", "I32", "[2]", le[int32](-5, 6))
	add("u32", "U32", "[1]", le[uint32](4000000000))
	add("u16", "U16", "[1]", le[uint16](65535))
	add("i16", "I16", "[1]", le[int16](-300))
	add("i8", "I8", "[1]", []byte{0x80})
	add("u8", "U8", "[1]", []byte{0x80})
	add("u64", "U64", "[1]", le[uint64](1<<62))
	add("bool", "BOOL", "[2]", []byte{0, 1})
	add("zero", "F32", "[0,3]", nil)
	f := stFile("{"+strings.Join(hdr, ",")+"}", data)
	sd, err := ReadSafetensors(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		dt   DType
		f32  []float32
		i64  []int64
	}{
		{"f16", F16, []float32{1, -2}, nil},
		{"bf16", BF16, []float32{3.140625}, nil},
		{"f64", F64, []float32{0.1}, nil},
		{"i32", I32, nil, []int64{-5, 6}},
		{"u32", U32, nil, []int64{4000000000}},
		{"u16", U16, nil, []int64{65535}},
		{"i16", I16, nil, []int64{-300}},
		{"i8", I8, nil, []int64{-128}},
		{"u8", U8, nil, []int64{128}},
		{"u64", U64, nil, []int64{1 << 62}},
		{"bool", Bool, nil, []int64{0, 1}},
		{"zero", F32, []float32{}, nil},
	}
	for _, c := range checks {
		got := sd[c.name]
		if got == nil || got.DType != c.dt || !slices.Equal(got.F32, c.f32) || !slices.Equal(got.I64, c.i64) {
			t.Errorf("%s: got %+v, want dtype %s F32 %v I64 %v", c.name, got, c.dt, c.f32, c.i64)
		}
		if got != nil {
			if err := got.Validate(); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		}
	}
	if sd["f64"].F64[0] != 0.1 || len(sd["f64"].Shape) != 0 {
		t.Errorf("f64 scalar: %+v", sd["f64"])
	}
}

// TestWriteInvalid: the writers refuse inconsistent tensors before writing
// anything.
func TestWriteInvalid(t *testing.T) {
	cases := []struct {
		name string
		sd   StateDict
		want string
	}{
		{"short data", StateDict{"w": NewF32([]int{2, 2}, []float32{1, 2, 3})}, `tensor "w": shape [2 2] needs 4 float32 values, F32 has 3`},
		{"negative dim", StateDict{"w": NewF32([]int{-1}, nil)}, `tensor "w": invalid shape [-1]`},
		{"nil tensor", StateDict{"w": nil}, `tensor "w": nil tensor`},
		{"both kinds", StateDict{"w": {Shape: []int{1}, F32: []float32{1}, I64: []int64{1}}}, `tensor "w": both F32 and I64 hold data`},
		{"int with floats", StateDict{"w": {Shape: []int{1}, DType: I64, I64: []int64{1}, F64: []float64{1}}}, `integer tensor (dtype I64) has floating data`},
		{"unknown dtype", StateDict{"w": {Shape: []int{1}, DType: "Q7", F32: []float32{1}}}, `unknown dtype "Q7"`},
		{"empty name", StateDict{"": NewF32([]int{1}, []float32{1})}, "empty tensor name"},
	}
	for _, c := range cases {
		for _, format := range []string{"safetensors", "pth"} {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				var err error
				if format == "pth" {
					err = WritePTH(&buf, c.sd, "params")
				} else {
					err = WriteSafetensors(&buf, c.sd, nil)
				}
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %v, want one containing %q", err, c.want)
				}
				if buf.Len() != 0 {
					t.Errorf("%d bytes written before the error", buf.Len())
				}
			})
		}
	}
	var buf bytes.Buffer
	err := WriteSafetensors(&buf, StateDict{"__metadata__": NewF32(nil, []float32{1})}, nil)
	if err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("__metadata__ as a tensor name: %v", err)
	}
}
