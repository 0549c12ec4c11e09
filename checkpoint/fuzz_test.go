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
	// The hostile files of issue 12 that are small enough to mutate.
	for _, c := range hostileCases(f) {
		if len(c.data) < 64<<10 {
			f.Add(c.data)
		}
	}
	f.Add(stFile(`{"w":{"dtype":"F32","shape":[`+strings.Repeat("1,", 16)+`1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(stFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,0,4]},"__metadata__":{"a":"b"}}`, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, info, err := Decode(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if sd != nil || info != nil {
				t.Fatal("results returned with an error")
			}
			if !strings.HasPrefix(err.Error(), "checkpoint: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			if len(err.Error()) > maxErrorLen+20 {
				t.Fatalf("error of %d bytes", len(err.Error()))
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
// (the decoder with its allowlist and memory estimate, state-dict selection) and
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
		// Issue 12: LONG4, REDUCE on a string and on a list, memo, BUILD.
		"\x80\x02" + string(long4(4096, 1)) + ".",
		"\x80\x02X\x00\x04\x00\x00" + strings.Repeat("a", 1024) + ")R.",
		"\x80\x02](" + strings.Repeat("N", 4096) + "e)R.",
		"\x80\x04N" + strings.Repeat("\x94", 4096) + ".",
		"\x80\x02ccollections\nOrderedDict\n)R}X\x01\x00\x00\x00aK\x01sb.",
	} {
		f.Add([]byte(s))
	}
	f.Add(statePickle("w", 2, "K\x02\x85", "K\x01\x85"))
	f.Fuzz(func(t *testing.T, pkl []byte) {
		entries, info, err := unpickleStateDict(pkl)
		if err != nil {
			if len(err.Error()) > maxErrorLen {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
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

// FuzzSafetensorsHeader feeds arbitrary JSON headers, followed by a little
// data, to the safetensors reader: an error (short) or a consistent state
// dict, never a panic, and never much more memory than the header's size.
//
//	go test -run '^$' -fuzz FuzzSafetensorsHeader -fuzztime 30s ./checkpoint/
func FuzzSafetensorsHeader(f *testing.F) {
	for _, h := range []string{
		`{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`,
		`{"__metadata__":{"format":"pt"},"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"b":{"dtype":"BOOL","shape":[0],"data_offsets":[8,8]}}`,
		`{"w":{"dtype":"F32","shape":[` + strings.Repeat("1,", 17) + `1],"data_offsets":[0,4]}}`,
		`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,0,4]}}`,
		`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
		`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`,
		`{"w":{"dtype":"X","shape":[1],"data_offsets":[0,4]}}`,
		`{"` + strings.Repeat("k", 300) + `":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}`,
	} {
		f.Add(h, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0})
	}
	f.Fuzz(func(t *testing.T, header string, data []byte) {
		file := stFile(header, data)
		sd, info, err := DecodeSafetensors(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			if len(err.Error()) > maxErrorLen+40 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		checkDecoded(t, sd, info)
	})
}
