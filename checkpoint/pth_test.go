package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPTHRoundTrip writes golden and synthetic state dicts with WritePTH and
// reads them back, for each way of wrapping the state dict.
func TestPTHRoundTrip(t *testing.T) {
	sds := map[string]StateDict{"small": smallSD()}
	for _, name := range tinyCases {
		sd, _ := mustLoad(t, filepath.Join(moduleGolden(name), "weights.safetensors"))
		sds[name] = sd
	}
	wraps := []struct{ wrap, source string }{
		{"params", SourceParams},
		{"params_ema", SourceParamsEMA},
		{"", SourceStateDict},
	}
	for name, sd := range sds {
		for _, w := range wraps {
			t.Run(name+"/"+w.source, func(t *testing.T) {
				var buf bytes.Buffer
				if err := WritePTH(&buf, sd, w.wrap); err != nil {
					t.Fatal(err)
				}
				got, info, err := DecodePTH(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
				if err != nil {
					t.Fatal(err)
				}
				if d := diffSD(sd, got); d != "" {
					t.Fatal(d)
				}
				if info.Source != w.source {
					t.Errorf("source %q, want %q", info.Source, w.source)
				}
				if !slices.Equal(info.Keys, sd.Keys()) {
					t.Errorf("keys not in sorted order: %v", info.Keys)
				}
				checkPTHLayout(t, buf.Bytes())
			})
		}
	}
}

// checkPTHLayout checks the zip as torch writes it: every entry stored
// (uncompressed), data 64-byte aligned, version and byteorder records.
func checkPTHLayout(t *testing.T, data []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
		if f.Method != zip.Store {
			t.Errorf("%s: method %d, want stored", f.Name, f.Method)
		}
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if off%64 != 0 {
			t.Errorf("%s: data at offset %d, not 64-byte aligned", f.Name, off)
		}
	}
	for _, n := range []string{"archive/data.pkl", "archive/version", "archive/byteorder"} {
		if !names[n] {
			t.Errorf("zip lacks %s", n)
		}
	}
}

// TestPTHF64RoundTrip: an F64 tensor with F64 values is stored as a
// DoubleStorage and read back exactly.
func TestPTHF64RoundTrip(t *testing.T) {
	vals := []float64{1.0 / 3, -2.5e-300, math.Pi, 1e300}
	sd := StateDict{"g": {Shape: []int{2, 2}, DType: F64, F64: vals, F32: []float32{float32(vals[0]), float32(vals[1]), float32(vals[2]), float32(vals[3])}}}
	for _, write := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return WritePTH(b, sd, "params") },
		func(b *bytes.Buffer) error { return WriteSafetensors(b, sd, nil) },
	} {
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		got, _, err := Decode(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		g := got["g"]
		if g.DType != F64 || !slices.Equal(g.F64, vals) || !slices.Equal(g.F32, sd["g"].F32) {
			t.Errorf("got %+v", g)
		}
	}
}

// le encodes values of a fixed-size type little-endian.
func le[T any](vals ...T) []byte {
	var b bytes.Buffer
	for _, v := range vals {
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

// TestPTHViewsAndDTypes reads tensors that are strided, offset, broadcast,
// shared views of storages of every supported dtype, and parameters.
func TestPTHViewsAndDTypes(t *testing.T) {
	base := make([]float32, 24)
	for i := range base {
		base[i] = float32(i) + 0.5
	}
	ibase := make([]int64, 12)
	for i := range ibase {
		ibase[i] = int64(i*i) - 7
	}
	storages := []pthStorage{
		{key: "f", dtype: F32, numel: 24, data: le(base...)},
		{key: "i", dtype: I64, numel: 12, data: le(ibase...)},
		// 1, -2, 65504 (max), 2^-24 (smallest subnormal), 2^-14, -0, +Inf, 0.333251953125
		{key: "h", dtype: F16, numel: 8, data: le[uint16](0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x8000, 0x7c00, 0x3555)},
		// 1, -3, 3.140625, -Inf
		{key: "b", dtype: BF16, numel: 4, data: le[uint16](0x3f80, 0xc040, 0x4049, 0xff80)},
		{key: "d", dtype: F64, numel: 3, data: le(1.0/3, -1e-3, 1e200)},
		{key: "i32", dtype: I32, numel: 3, data: le[int32](-1, 2147483647, -2147483648)},
		{key: "i16", dtype: I16, numel: 2, data: le[int16](-32768, 7)},
		{key: "i8", dtype: I8, numel: 2, data: []byte{0xff, 0x7f}},
		{key: "u8", dtype: U8, numel: 2, data: []byte{0xff, 0x01}},
		{key: "bool", dtype: Bool, numel: 3, data: []byte{1, 0, 2}},
	}
	tensors := []pthTensor{
		{name: "contig", storage: "f", shape: []int{2, 3, 4}, stride: []int{12, 4, 1}},
		{name: "transposed", storage: "f", shape: []int{4, 6}, stride: []int{1, 4}},
		{name: "offset_slice", storage: "f", offset: 5, shape: []int{2, 3}, stride: []int{6, 2}},
		{name: "row", storage: "f", offset: 20, shape: []int{4}, stride: []int{1}},
		{name: "broadcast", storage: "f", offset: 3, shape: []int{3, 2}, stride: []int{0, 1}},
		{name: "scalar", storage: "f", offset: 23, shape: []int{}, stride: []int{}},
		{name: "empty", storage: "f", offset: 0, shape: []int{0, 5}, stride: []int{5, 1}},
		{name: "size1_odd_stride", storage: "f", offset: 2, shape: []int{1, 3}, stride: []int{99, 1}},
		{name: "param", storage: "f", shape: []int{24}, stride: []int{1}, param: true},
		{name: "index_t", storage: "i", shape: []int{4, 3}, stride: []int{1, 4}},
		{name: "half", storage: "h", shape: []int{8}, stride: []int{1}},
		{name: "half_rev_pairs", storage: "h", offset: 1, shape: []int{2, 2}, stride: []int{4, 2}},
		{name: "bf16", storage: "b", shape: []int{2, 2}, stride: []int{2, 1}},
		{name: "f64", storage: "d", shape: []int{3}, stride: []int{1}},
		{name: "i32", storage: "i32", shape: []int{3}, stride: []int{1}},
		{name: "i16", storage: "i16", shape: []int{2}, stride: []int{1}},
		{name: "i8", storage: "i8", shape: []int{2}, stride: []int{1}},
		{name: "u8", storage: "u8", shape: []int{2}, stride: []int{1}},
		{name: "bool", storage: "bool", shape: []int{3}, stride: []int{1}},
	}
	var buf bytes.Buffer
	if err := writePTHRaw(&buf, []pthTop{{key: "params", tensors: tensors}}, storages); err != nil {
		t.Fatal(err)
	}
	sd, err := ReadPTH(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	f := func(i int) float32 { return base[i] }
	transposed := make([]float32, 0, 24)
	for r := range 4 {
		for c := range 6 {
			transposed = append(transposed, f(r+4*c))
		}
	}
	wantF := map[string][]float32{
		"contig":           base,
		"transposed":       transposed,
		"offset_slice":     {f(5), f(7), f(9), f(11), f(13), f(15)},
		"row":              {f(20), f(21), f(22), f(23)},
		"broadcast":        {f(3), f(4), f(3), f(4), f(3), f(4)},
		"scalar":           {f(23)},
		"empty":            {},
		"size1_odd_stride": {f(2), f(3), f(4)},
		"param":            base,
		"half":             {1, -2, 65504, float32(math.Ldexp(1, -24)), float32(math.Ldexp(1, -14)), float32(math.Copysign(0, -1)), float32(math.Inf(1)), 0.333251953125},
		"half_rev_pairs":   {-2, float32(math.Ldexp(1, -24)), float32(math.Copysign(0, -1)), 0.333251953125},
		"bf16":             {1, -3, 3.140625, float32(math.Inf(-1))},
		"f64":              {float32(1.0 / 3), float32(-1e-3), float32(math.Inf(1))},
	}
	wantDType := map[string]DType{"half": F16, "half_rev_pairs": F16, "bf16": BF16, "f64": F64, "i32": I32, "i16": I16, "i8": I8, "u8": U8, "bool": Bool, "index_t": I64}
	for name, want := range wantF {
		got := sd[name]
		if got == nil {
			t.Errorf("%s missing", name)
			continue
		}
		if len(got.F32) != len(want) {
			t.Errorf("%s: %d values, want %d", name, len(got.F32), len(want))
			continue
		}
		for i := range want {
			if math.Float32bits(got.F32[i]) != math.Float32bits(want[i]) {
				t.Errorf("%s: values %v, want %v", name, got.F32, want)
				break
			}
		}
		if dt, ok := wantDType[name]; ok && got.DType != dt || !ok && got.DType != F32 {
			t.Errorf("%s: dtype %s", name, got.DType)
		}
	}
	if got := sd["f64"].F64; !slices.Equal(got, []float64{1.0 / 3, -1e-3, 1e200}) {
		t.Errorf("f64: F64 = %v", got)
	}
	wantI := map[string][]int64{
		"index_t": {ibase[0], ibase[4], ibase[8], ibase[1], ibase[5], ibase[9], ibase[2], ibase[6], ibase[10], ibase[3], ibase[7], ibase[11]},
		"i32":     {-1, 2147483647, -2147483648},
		"i16":     {-32768, 7},
		"i8":      {-1, 127},
		"u8":      {255, 1},
		"bool":    {1, 0, 1},
	}
	for name, want := range wantI {
		got := sd[name]
		if got == nil || !slices.Equal(got.I64, want) || got.F32 != nil || got.DType != wantDType[name] {
			t.Errorf("%s: got %+v, want I64 %v dtype %s", name, got, want, wantDType[name])
		}
	}
	if !slices.Equal(sd["transposed"].Shape, []int{4, 6}) || !slices.Equal(sd["scalar"].Shape, []int{}) {
		t.Errorf("shapes: transposed %v scalar %v", sd["transposed"].Shape, sd["scalar"].Shape)
	}
	for _, k := range sd.Keys() {
		if err := sd[k].Validate(); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
}

// TestPTHSelection checks which dict becomes the state dict.
func TestPTHSelection(t *testing.T) {
	a := pthTensor{name: "w", storage: "0", shape: []int{1}, stride: []int{1}}
	b := pthTensor{name: "w", storage: "1", shape: []int{1}, stride: []int{1}}
	storages := []pthStorage{
		{key: "0", dtype: F32, numel: 1, data: le[float32](1)},
		{key: "1", dtype: F32, numel: 1, data: le[float32](2)},
	}
	cases := []struct {
		name   string
		tops   []pthTop
		source string
		value  float32
		top    []string
	}{
		{"ema preferred after", []pthTop{{"params", []pthTensor{a}}, {"params_ema", []pthTensor{b}}}, SourceParamsEMA, 2, []string{"params", "params_ema"}},
		{"ema preferred before", []pthTop{{"params_ema", []pthTensor{b}}, {"params", []pthTensor{a}}}, SourceParamsEMA, 2, []string{"params_ema", "params"}},
		{"params", []pthTop{{"params", []pthTensor{a}}}, SourceParams, 1, []string{"params"}},
		{"params among others", []pthTop{{"other", []pthTensor{b}}, {"params", []pthTensor{a}}}, SourceParams, 1, []string{"other", "params"}},
		{"bare OrderedDict", []pthTop{{"", []pthTensor{b}}}, SourceStateDict, 2, []string{"w"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writePTHRaw(&buf, c.tops, storages); err != nil {
				t.Fatal(err)
			}
			sd, info, err := DecodePTH(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if info.Source != c.source || !slices.Equal(info.TopKeys, c.top) {
				t.Errorf("info %+v, want source %s top keys %v", info, c.source, c.top)
			}
			if len(sd) != 1 || sd["w"].F32[0] != c.value {
				t.Errorf("w = %v, want %v", sd["w"].F32, c.value)
			}
		})
	}
	// Hand-made pickles: a top-level dict that is no state dict, and a
	// plain dict (not OrderedDict) as a bare state dict.
	bad := []struct{ name, pkl, want string }{
		{"not a state dict", "\x80\x02}q\x00(X\x04\x00\x00\x00iterq\x01K\x05X\x05\x00\x00\x00epochq\x02K\x01u.", `entry "iter" is the int 5 (top-level keys: iter, epoch)`},
		{"params not a dict", "\x80\x02}X\x06\x00\x00\x00paramsK\x01s.", `entry "params" is the int 1, not a dict`},
		{"params holds an int", "\x80\x02}X\x06\x00\x00\x00params}X\x01\x00\x00\x00wK\x01ss.", `params: entry "w" is the int 1, not a tensor`},
		{"non-string key", "\x80\x02}X\x06\x00\x00\x00params}K\x01K\x01ss.", `params: key the int 1 is not a string`},
		{"top-level list", "\x80\x02]q\x00.", "the pickled object is a list, not a dict"},
		{"top-level None", "\x80\x02N.", "the pickled object is None, not a dict"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			z := pickleZip(t, []byte(c.pkl))
			_, err := ReadPTH(bytes.NewReader(z), int64(len(z)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// An empty top-level dict is an empty (bare) state dict.
	z := pickleZip(t, []byte("\x80\x02}."))
	sd, info, err := DecodePTH(bytes.NewReader(z), int64(len(z)))
	if err != nil || len(sd) != 0 || info.Source != SourceStateDict {
		t.Errorf("empty dict: %v %v %v", sd, info, err)
	}
}

// protocol4Pickle builds by hand a protocol-4 pickle of {"params":
// OrderedDict(w0, w1)} that uses FRAME, MEMOIZE, STACK_GLOBAL and BINGETs of
// memoized strings, as Python's pickler does for protocol 4.
func protocol4Pickle(module2, name2 string) []byte {
	var b bytes.Buffer
	memo := 0
	m := func() int { b.WriteByte(0x94); memo++; return memo - 1 }
	str := func(s string) int { b.WriteByte(0x8c); b.WriteByte(byte(len(s))); b.WriteString(s); return m() }
	get := func(i int) { b.WriteByte('h'); b.WriteByte(byte(i)) }
	b.WriteByte('}')
	m()
	str("params")
	str("collections")
	str("OrderedDict")
	b.WriteByte(0x93)
	odClass := m()
	b.WriteString(")R")
	m()
	b.WriteByte('(')
	var torchIdx, cpuIdx, storageIdx, rebuild, fs int
	for i, key := range []string{"0", "1"} {
		str("w" + key)
		if i == 0 {
			str("torch._utils")
			str("_rebuild_tensor_v2")
			b.WriteByte(0x93)
			rebuild = m()
		} else {
			get(rebuild)
		}
		b.WriteString("((")
		if i == 0 {
			storageIdx = str("storage")
			torchIdx = str("torch")
			str("FloatStorage")
			b.WriteByte(0x93)
			fs = m()
		} else {
			get(storageIdx)
			if module2 != "" {
				// The second storage class via memoized "torch" and a new name.
				get(torchIdx)
				str(name2)
				b.WriteByte(0x93)
				m()
			} else {
				get(fs)
			}
		}
		str(key)
		if i == 0 {
			cpuIdx = str("cpu")
		} else {
			get(cpuIdx)
		}
		b.WriteString("K\x01tQK\x00K\x01\x85K\x01\x85\x89")
		get(odClass)
		b.WriteString(")Rt")
		b.WriteByte('R')
	}
	b.WriteString("us")
	body := b.Bytes()
	out := []byte{0x80, 4, 0x95}
	out = binary.LittleEndian.AppendUint64(out, uint64(len(body)+1))
	out = append(out, body...)
	return append(out, '.')
}

// TestPTHProtocol4 reads a protocol-4 pickle (STACK_GLOBAL, MEMOIZE, FRAME),
// and refuses one whose STACK_GLOBAL names a disallowed global through a
// memoized module string.
func TestPTHProtocol4(t *testing.T) {
	storages := []zipEntry{{"archive/data/0", le[float32](1.5)}, {"archive/data/1", le[float32](-2)}}
	z := pickleZip(t, protocol4Pickle("", ""), storages...)
	sd, info, err := DecodePTH(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if info.Source != SourceParams || sd["w0"].F32[0] != 1.5 || sd["w1"].F32[0] != -2 {
		t.Errorf("got %v %v", info, sd)
	}
	z = pickleZip(t, protocol4Pickle("torch", "load"), storages...)
	_, err = ReadPTH(bytes.NewReader(z), int64(len(z)))
	var dg *DisallowedGlobalError
	if !errors.As(err, &dg) || dg.Module != "torch" || dg.Name != "load" || !strings.Contains(err.Error(), `"torch.load"`) {
		t.Errorf("error %v, want the disallowed global torch.load named", err)
	}
}

// TestMaliciousPickles: any global outside the allowlist is an error naming
// it, whatever opcode refers to it; nothing is ever called.
func TestMaliciousPickles(t *testing.T) {
	cases := []struct {
		name, pkl      string
		module, global string // the global the error must name ("" for no DisallowedGlobalError)
		want           string // substring of the error
	}{
		{"protocol 0 os.system", "cos\nsystem\n(S'echo hi'\ntR.", "os", "system", `pickle global "os.system" is not allowed`},
		{"protocol 2 builtins.eval", "\x80\x02cbuiltins\neval\nq\x00X\x07\x00\x00\x00print()q\x01\x85q\x02Rq\x03.", "builtins", "eval", `"builtins.eval"`},
		{"__builtin__.getattr", "\x80\x02c__builtin__\ngetattr\nq\x00.", "__builtin__", "getattr", `"__builtin__.getattr"`},
		{"posix.system via STACK_GLOBAL", "\x80\x04\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.", "posix", "system", `"posix.system"`},
		{"STACK_GLOBAL from memo", "\x80\x04\x8c\x02os\x94\x8c\x06system\x9400h\x00h\x01\x93.", "os", "system", `"os.system"`},
		{"STACK_GLOBAL via PUT/GET text", "\x80\x04\x8c\x02osp7\n0\x8c\x06systemp8\n0g7\ng8\n\x93.", "os", "system", `"os.system"`},
		{"once built-in __builtin__.object", "\x80\x02c__builtin__\nobject\n)\x81.", "__builtin__", "object", `"__builtin__.object"`},
		{"once built-in copy_reg._reconstructor", "\x80\x02ccopy_reg\n_reconstructor\n(ccollections\nOrderedDict\nc__builtin__\ndict\n}tR.", "copy_reg", "_reconstructor", `"copy_reg._reconstructor"`},
		{"built-in via STACK_GLOBAL", "\x80\x04\x8c\x0b__builtin__\x8c\x06object\x93).", "__builtin__", "object", `"__builtin__.object"`},
		{"INST opcode", "(S'ls'\nios\nsystem\n.", "os", "system", `"os.system"`},
		{"inside a state dict", "\x80\x02}X\x06\x00\x00\x00params}X\x01\x00\x00\x00wctorch._utils\n_rebuild_sparse_tensor\n)Rss.", "torch._utils", "_rebuild_sparse_tensor", `"torch._utils._rebuild_sparse_tensor"`},
		{"numpy global", "\x80\x02cnumpy.core.multiarray\n_reconstruct\n.", "numpy.core.multiarray", "_reconstruct", `"numpy.core.multiarray._reconstruct"`},
		{"STACK_GLOBAL computed operands", "\x80\x04\x8c\x02os\x8c\x06system\x86\x94\x93.", "", "", "STACK_GLOBAL at offset 16: stack underflow"},
		{"STACK_GLOBAL on a tuple", "\x80\x04\x8c\x02os\x8c\x06system\x86\x8c\x01x\x93.", "", "", "STACK_GLOBAL needs two strings, got a tuple and the str \"x\""},
		{"NEWOBJ with allowed class", "\x80\x02ccollections\nOrderedDict\n)\x81.", "", "", "NEWOBJ"},
		{"OBJ opcode", "(ccollections\nOrderedDict\no.", "", "", "OBJ"},
		{"extension code", "\x80\x02\x82\x01.", "", "", "extension-registry"},
		{"text persistent id", "Pfoo\n.", "", "", "PERSID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := pickleZip(t, []byte(c.pkl))
			path := writeTemp(t, "weights.pth", z)
			_, err := Load(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "checkpoint: "+path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to start with the file name and contain %q", err, c.want)
			}
			var dg *DisallowedGlobalError
			if c.global != "" && (!errors.As(err, &dg) || dg.Module != c.module || dg.Name != c.global) {
				t.Errorf("error %v is not a DisallowedGlobalError for %s.%s", err, c.module, c.global)
			}
		})
	}
}

// TestDecoderAcceptsGoldenPickles: the restricted decoder reads real torch
// pickles, well within its memory estimate.
func TestDecoderAcceptsGoldenPickles(t *testing.T) {
	for _, name := range tinyCases {
		z, err := zip.OpenReader(filepath.Join(moduleGolden(name), "weights.pth"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range z.File {
			if strings.HasSuffix(f.Name, "data.pkl") {
				pkl, err := readZipEntry(f, maxPickleBytes, math.MaxInt64)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := decodePickle(pkl); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
		z.Close()
	}
}

func TestF16BF16Conversion(t *testing.T) {
	cases := []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xbc00, -1},
		{0x3800, 0.5},
		{0x7bff, 65504},
		{0xfbff, -65504},
		{0x0001, float32(math.Ldexp(1, -24))},
		{0x03ff, float32(math.Ldexp(1023, -24))},
		{0x0400, float32(math.Ldexp(1, -14))},
		{0x8001, -float32(math.Ldexp(1, -24))},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
		{0x4248, 3.140625},
	}
	for _, c := range cases {
		if got := f16ToF32(c.bits); got != c.want {
			t.Errorf("f16 %#04x = %v, want %v", c.bits, got, c.want)
		}
	}
	if got := f16ToF32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("f16 -0 = %v", got)
	}
	if got := f16ToF32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("f16 NaN = %v", got)
	}
	// Every finite half converts to the same value as the float32 built
	// from its definition.
	for h := range 1 << 16 {
		exp, mant := (h>>10)&0x1f, h&0x3ff
		if exp == 0x1f {
			continue
		}
		var v float64
		if exp == 0 {
			v = math.Ldexp(float64(mant), -24)
		} else {
			v = math.Ldexp(float64(1024+mant), exp-25)
		}
		if h&0x8000 != 0 {
			v = -v
		}
		if got := f16ToF32(uint16(h)); got != float32(v) {
			t.Fatalf("f16 %#04x = %v, want %v", h, got, v)
		}
	}
	for _, c := range []struct {
		bits uint16
		want float32
	}{{0x3f80, 1}, {0xc040, -3}, {0x4049, 3.140625}, {0x0001, math.Float32frombits(0x00010000)}, {0x7f80, float32(math.Inf(1))}} {
		if got := bf16ToF32(c.bits); got != c.want {
			t.Errorf("bf16 %#04x = %v, want %v", c.bits, got, c.want)
		}
	}
}
