package checkpoint

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkDecoded is the invariant of every successful decode: consistent
// tensors, one LoadInfo key per tensor.
func checkDecoded(t *testing.T, sd StateDict, info *LoadInfo) {
	t.Helper()
	for k, v := range sd {
		if err := v.Validate(); err != nil {
			t.Fatalf("decoded tensor %q is inconsistent: %v", k, err)
		}
	}
	if info == nil || len(info.Keys) != len(sd) {
		t.Fatalf("LoadInfo %+v does not list the %d tensors", info, len(sd))
	}
}

// FuzzLoad feeds arbitrary files to the format-sniffing decoder behind Load:
// it must return an error or a consistent state dict, never panic or
// allocate without bound. Seeds: the golden checkpoints in both formats and
// small written ones. (Zip CRCs stop most mutations of data.pkl from
// reaching the unpickler; FuzzPickle covers it.) The seeds are large, so
// keep minimization short or the fuzzer spends its time shrinking them:
//
//	go test -run '^$' -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 2s ./checkpoint/
func FuzzLoad(f *testing.F) {
	for _, name := range tinyCases {

		for _, file := range []string{"weights.pth", "weights.safetensors"} {

			b, err := os.ReadFile(filepath.Join(moduleGolden(name), file))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	var pth, st bytes.Buffer
	if err := WritePTH(&pth, smallSD(), "params"); err != nil {
		f.Fatal(err)
	}
	if err := WriteSafetensors(&st, smallSD(), map[string]string{"a": "b"}); err != nil {
		f.Fatal(err)
	}
	f.Add(pth.Bytes())
	f.Add(st.Bytes())
	f.Add(stFile(`{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, []byte{0, 0x3c, 0, 0xc0}))
	f.Add([]byte{})
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, info, err := Decode(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if sd != nil || info != nil {
				t.Fatal("results returned with an error")
			}
			if !strings.HasPrefix(err.Error(), "checkpoint: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		checkDecoded(t, sd, info)
	})
}

// fakeStorages serves any storage up to 1 MiB as a byte pattern, so that
// FuzzPickle exercises view checks and gathering without a zip.
type fakeStorages struct{}

func (fakeStorages) check(key string, nbytes int64) error {
	if nbytes > 1<<20 {
		return errors.New("fake storage too large")
	}
	return nil
}

func (fakeStorages) read(key string, nbytes int64) ([]byte, error) {
	b := make([]byte, nbytes)
	for i := range b {
		b[i] = byte(i*7 + len(key))
	}
	return b, nil
}

// FuzzPickle feeds arbitrary data.pkl contents to the restricted unpickler
// (pre-scan, gopickle with the allowlist hooks, state-dict selection) and
// gathers the views it describes from fake storages. It must never panic,
// and a pickle naming a disallowed global must never decode.
//
//	go test -run '^$' -fuzz FuzzPickle -fuzztime 60s -fuzzminimizetime 2s ./checkpoint/
func FuzzPickle(f *testing.F) {
	for _, name := range tinyCases {
		zr, err := zip.OpenReader(filepath.Join(moduleGolden(name), "weights.pth"))
		if err != nil {
			f.Fatal(err)
		}
		for _, zf := range zr.File {
			if strings.HasSuffix(zf.Name, "/data.pkl") {
				b, err := readZipEntry(zf, maxPickleBytes, 1<<40)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
		zr.Close()
	}
	views, err := picklePTH([]pthTop{{key: "params_ema", tensors: []pthTensor{
		{name: "t", storage: "a", shape: []int{4, 3}, stride: []int{1, 4}},
		{name: "p", storage: "a", offset: 2, shape: []int{2, 2}, stride: []int{0, 3}, param: true},
		{name: "h", storage: "h", shape: []int{}, stride: []int{}},
	}}}, map[string]*pthStorage{"a": {key: "a", dtype: F32, numel: 12}, "h": {key: "h", dtype: F16, numel: 1}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(views)
	f.Add(protocol4Pickle("", ""))
	f.Add(protocol4Pickle("torch", "load"))
	for _, s := range []string{
		"cos\nsystem\n(S'echo hi'\ntR.",
		"\x80\x02cbuiltins\neval\nq\x00X\x07\x00\x00\x00print()q\x01\x85q\x02Rq\x03.",
		"\x80\x04\x8c\x02os\x94\x8c\x06system\x9400h\x00h\x01\x93.",
		"\x80\x02c__builtin__\nobject\n)\x81.",
		"\x80\x02}(K\x01u.",
		"\x80\x02ccollections\nOrderedDict\n)R(C\x01aK\x01u.",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, pkl []byte) {
		entries, info, err := unpickleStateDict(pkl)
		if err != nil {
			return
		}
		switch info.Source {
		case SourceParamsEMA, SourceParams, SourceStateDict:
		default:
			t.Fatalf("unknown source %q", info.Source)
		}
		sd, err := materialize(entries, fakeStorages{}, int64(len(pkl)))
		if err != nil {
			return
		}
		checkDecoded(t, sd, info)
	})
}
