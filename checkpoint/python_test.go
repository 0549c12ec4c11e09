package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// pyReader is an independent reader of PyTorch zip checkpoints in Python's
// standard library only: a restricted pickle.Unpickler with the same
// allowlist as torch.load(weights_only=True) has for state dicts, and
// tensors gathered from their storages by size, stride and offset. It prints
// {name: {"shape", "values"}} with float values as the bit patterns of their
// float32 (or float64, key "bits64") conversion.
const pyReader = `
import collections, io, itertools, json, pickle, pickletools, struct, sys, zipfile

path, wrap = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(path)
pkl = [n for n in z.namelist() if n.endswith('/data.pkl')]
assert len(pkl) == 1, pkl
prefix = pkl[0][:-len('data.pkl')]
assert z.read(prefix + 'version').strip() == b'3'
assert z.read(prefix + 'byteorder') == b'little'
data = z.read(pkl[0])
pickletools.dis(data, out=io.StringIO())  # validates opcodes, memo and stack use

f32bits = lambda v: struct.unpack('<I', struct.pack('<f', v))[0]
STORAGES = {
    'FloatStorage': ('I', 4, lambda v: v),
    'DoubleStorage': ('Q', 8, lambda v: v),
    'HalfStorage': ('e', 2, f32bits),
    'BFloat16Storage': ('H', 2, lambda v: v << 16),
    'LongStorage': ('q', 8, lambda v: v),
}

class StorageType:
    def __init__(self, name):
        self.name = name

def rebuild(storage, offset, size, stride, requires_grad, hooks, *metadata):
    name, key, numel = storage
    fmt, esz, conv = STORAGES[name]
    raw = z.read(prefix + 'data/' + key)
    assert len(raw) == esz * numel, (key, len(raw), numel)
    vals = struct.unpack('<%d%s' % (numel, fmt), raw)
    out = [conv(vals[offset + sum(i * s for i, s in zip(idx, stride))])
           for idx in itertools.product(*[range(n) for n in size])]
    return {'shape': list(size), 'values' if name != 'DoubleStorage' else 'bits64': out}

def rebuild_parameter(data, requires_grad, hooks):
    return data

ALLOWED = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch._utils', '_rebuild_tensor_v2'): rebuild,
    ('torch._utils', '_rebuild_parameter'): rebuild_parameter,
}

class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        if module == 'torch' and name in STORAGES:
            return StorageType(name)
        raise pickle.UnpicklingError('global %s.%s is not allowed' % (module, name))

    def persistent_load(self, pid):
        typ, st, key, location, numel = pid
        assert typ == 'storage' and location == 'cpu'
        return (st.name, key, numel)

obj = Unpickler(io.BytesIO(data)).load()
if wrap:
    assert list(obj.keys()) == [wrap], list(obj.keys())
    obj = obj[wrap]
assert isinstance(obj, collections.OrderedDict)
json.dump(obj, sys.stdout)
`

// torchReader dumps what torch.load(weights_only=True) reads, in pyReader's
// output format.
const torchReader = `
import json, sys, torch
obj = torch.load(sys.argv[1], map_location='cpu', weights_only=True)
if sys.argv[2]:
    obj = obj[sys.argv[2]]
out = {}
for k, t in obj.items():
    t = t.contiguous()
    if t.dtype == torch.float64:
        out[k] = {'shape': list(t.shape), 'bits64': [v & (2**64 - 1) for v in t.reshape(-1).view(torch.int64).tolist()]}
    elif t.is_floating_point():
        out[k] = {'shape': list(t.shape), 'values': t.float().reshape(-1).view(torch.int32).tolist()}
    else:
        out[k] = {'shape': list(t.shape), 'values': t.reshape(-1).tolist()}
json.dump(out, sys.stdout)
`

// pyTensor is one tensor of the scripts' output. Values are uint32 float32
// bits for floating tensors, ints for integer ones; Bits64 float64 bits.
type pyTensor struct {
	Shape  []int    `json:"shape"`
	Values []int64  `json:"values"`
	Bits64 []uint64 `json:"bits64"`
}

// runPython runs a script on a checkpoint and decodes its output.
func runPython(t *testing.T, script, path, wrap string) map[string]pyTensor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sp := filepath.Join(t.TempDir(), "read.py")
	if err := os.WriteFile(sp, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "python3", sp, path, wrap)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var got map[string]pyTensor
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// comparePy checks a script's view of a checkpoint against a state dict.
func comparePy(t *testing.T, py map[string]pyTensor, sd StateDict) {
	t.Helper()
	if len(py) != len(sd) {
		t.Fatalf("python sees %d tensors, Go %d", len(py), len(sd))
	}
	for k, want := range sd {
		got, ok := py[k]
		if !ok {
			t.Fatalf("python lacks %s", k)
		}
		if !slices.Equal(got.Shape, want.Shape) && !(len(got.Shape) == 0 && len(want.Shape) == 0) {
			t.Fatalf("%s: python shape %v, Go %v", k, got.Shape, want.Shape)
		}
		switch {
		case got.Bits64 != nil:
			for i, b := range got.Bits64 {
				if math.Float64bits(want.F64[i]) != b {
					t.Fatalf("%s[%d]: python %v, Go %v", k, i, math.Float64frombits(b), want.F64[i])
				}
			}
		case want.IsFloat():
			if len(got.Values) != len(want.F32) {
				t.Fatalf("%s: python has %d values, Go %d", k, len(got.Values), len(want.F32))
			}
			for i, b := range got.Values {
				if math.Float32bits(want.F32[i]) != uint32(b) {
					t.Fatalf("%s[%d]: python %v, Go %v", k, i, math.Float32frombits(uint32(b)), want.F32[i])
				}
			}
		default:
			if !slices.Equal(got.Values, want.I64) {
				t.Fatalf("%s: python %v, Go %v", k, got.Values, want.I64)
			}
		}
	}
}

// pythonCases are the checkpoints the Python readers check: WritePTH output
// of synthetic and golden state dicts, and a hand-laid checkpoint of views.
func pythonCases(t *testing.T) []struct {
	name, wrap string
	data       []byte
	sd         StateDict
} {
	var cases []struct {
		name, wrap string
		data       []byte
		sd         StateDict
	}
	golden, _ := mustLoad(t, filepath.Join(moduleGolden("tiny_x4"), "weights.safetensors"))
	small := smallSD()
	small["f64"] = &Tensor{Shape: []int{2}, DType: F64, F64: []float64{1.0 / 3, -1e300}, F32: []float32{float32(1.0 / 3), float32(math.Inf(-1))}}
	for _, c := range []struct {
		name, wrap string
		sd         StateDict
	}{{"small", "params", small}, {"small bare", "", small}, {"tiny_x4", "params", golden}} {
		var buf bytes.Buffer
		if err := WritePTH(&buf, c.sd, c.wrap); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			name, wrap string
			data       []byte
			sd         StateDict
		}{c.name, c.wrap, buf.Bytes(), c.sd})
	}
	// Views: the Python reader gathers them independently of gather().
	base := make([]float32, 12)
	for i := range base {
		base[i] = float32(i)*1.25 - 3
	}
	var buf bytes.Buffer
	err := writePTHRaw(&buf, []pthTop{{key: "params", tensors: []pthTensor{
		{name: "t", storage: "f", shape: []int{4, 3}, stride: []int{1, 4}},
		{name: "s", storage: "f", offset: 1, shape: []int{2, 2, 2}, stride: []int{5, 1, 3}},
		{name: "b", storage: "f", offset: 2, shape: []int{2, 3}, stride: []int{0, 2}, param: true},
		{name: "h", storage: "h", offset: 1, shape: []int{2}, stride: []int{2}},
		{name: "bf", storage: "bf", shape: []int{2, 2}, stride: []int{1, 2}},
	}}}, []pthStorage{
		{key: "f", dtype: F32, numel: 12, data: le(base...)},
		{key: "h", dtype: F16, numel: 4, data: le[uint16](0x3c00, 0x3555, 0xc000, 0x0001)},
		{key: "bf", dtype: BF16, numel: 4, data: le[uint16](0x3f80, 0xc040, 0x4049, 0x0001)},
	})
	if err != nil {
		t.Fatal(err)
	}
	views, err := ReadPTH(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name, wrap string
		data       []byte
		sd         StateDict
	}{"views", "params", buf.Bytes(), views})
	return cases
}

// TestPythonReadsOurPTH: an independent reader in Python's standard library
// (pickletools validation, restricted Unpickler, stride gathering) sees the
// same tensors as the Go reader in the files WritePTH makes. Skipped without
// python3.
func TestPythonReadsOurPTH(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not available")
	}
	for _, c := range pythonCases(t) {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "w.pth", c.data)
			comparePy(t, runPython(t, pyReader, path, c.wrap), c.sd)
		})
	}
}

// TestTorchLoadsOurPTH: torch.load(weights_only=True) reads what WritePTH
// writes, with the same values. Skipped unless python3 can import torch.
func TestTorchLoadsOurPTH(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not available")
	}
	if err := exec.Command("python3", "-c", "import torch").Run(); err != nil {
		t.Skip("PyTorch not available to python3")
	}
	for _, c := range pythonCases(t) {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "w.pth", c.data)
			comparePy(t, runPython(t, torchReader, path, c.wrap), c.sd)
		})
	}
}
