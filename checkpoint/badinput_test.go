package checkpoint

import (
	"archive/zip"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadBadFiles: files that are no checkpoint at all.
func TestLoadBadFiles(t *testing.T) {
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[0] = 'x' // not "PK", not a pickle
	cases := []struct {
		name    string
		data    []byte
		want    string
		unknown bool // wraps ErrUnknownFormat
	}{
		{"empty", nil, "empty file", true},
		{"one byte", []byte{'P'}, "not a PyTorch zip checkpoint", true},
		{"random bytes", random, "not a PyTorch zip checkpoint (.pth) nor a safetensors file", true},
		{"text", []byte("hello, this is not a checkpoint\n"), "not a PyTorch", true},
		{"legacy torch.save", []byte("\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03."), "legacy (PyTorch < 1.6)", true},
		{"empty zip", makeZip(t), "no <archive>/data.pkl", false},
		{"zip without data.pkl", makeZip(t, zipEntry{"a/b.txt", []byte("x")}), "no <archive>/data.pkl", false},
		{"two data.pkl", makeZip(t, zipEntry{"a/data.pkl", []byte("}.")}, zipEntry{"b/data.pkl", []byte("}.")}), "2 data.pkl entries", false},
		{"big-endian", makeZip(t, zipEntry{"a/data.pkl", []byte("}.")}, zipEntry{"a/byteorder", []byte("big")}), `byteorder "big"`, false},
		{"duplicate entries", makeZip(t, zipEntry{"a/data.pkl", []byte("}.")}, zipEntry{"a/data.pkl", []byte("}.")}), `zip holds "a/data.pkl" twice`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "weights.pth", c.data)
			_, err := Load(path)
			if err == nil || !strings.HasPrefix(err.Error(), "checkpoint: "+path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q after the file name", err, c.want)
			}
			if errors.Is(err, ErrUnknownFormat) != c.unknown {
				t.Errorf("errors.Is(err, ErrUnknownFormat) = %v", !c.unknown)
			}
		})
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope.pth")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestTruncatedPTH cuts a golden checkpoint at many points: each is an
// error naming the file, never a panic.
func TestTruncatedPTH(t *testing.T) {
	full, err := os.ReadFile(filepath.Join(moduleGolden("tiny_x2"), "weights.pth"))
	if err != nil {
		t.Fatal(err)
	}
	n := len(full)
	for _, cut := range []int{1, 3, 4, 10, 30, 100, 1000, 24000, n / 4, n / 2, 3 * n / 4, n - 1000, n - 100, n - 22, n - 1} {
		path := writeTemp(t, "weights.pth", full[:cut])
		_, err := Load(path)
		if err == nil {
			t.Errorf("cut at %d of %d: no error", cut, n)
			continue
		}
		if !strings.HasPrefix(err.Error(), "checkpoint: "+path+": ") {
			t.Errorf("cut at %d: error %q does not name the file", cut, err)
		}
		if cut >= 4 && !strings.Contains(err.Error(), "truncated or corrupt zip") {
			t.Errorf("cut at %d: error %q, want a truncated zip", cut, err)
		}
	}
	// A safetensors file cut anywhere.
	st, err := os.ReadFile(filepath.Join(moduleGolden("tiny_x2"), "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{1, 8, 9, 100, 14616, len(st) / 2, len(st) - 1} {
		path := writeTemp(t, "weights.safetensors", st[:cut])
		if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), "checkpoint: "+path+": ") {
			t.Errorf("safetensors cut at %d: %v", cut, err)
		}
	}
}

// TestCorruptPTH: damaged entries, pickles and views.
func TestCorruptPTH(t *testing.T) {
	good := func() []byte {
		var buf bytes.Buffer
		if err := WritePTH(&buf, smallSD(), "params"); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	// flip changes one byte inside the data of the named entry.
	flip := func(data []byte, entry string) []byte {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			if f.Name == entry {
				off, _ := f.DataOffset()
				out := bytes.Clone(data)
				out[off+int64(f.UncompressedSize64)/2] ^= 0x40
				return out
			}
		}
		t.Fatalf("no entry %s", entry)
		return nil
	}
	// A pickle referencing storage "0" of 2 floats, as a view of shape
	// [shape], and the zip around it.
	pklFor := func(shape []int) []byte {
		p, err := picklePTH([]pthTop{{key: "params", tensors: []pthTensor{{name: "w", storage: "0", shape: shape, stride: contiguousStrides(shape)}}}},
			map[string]*pthStorage{"0": {key: "0", dtype: F32, numel: 2}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	goldenPkl := func() []byte {
		z, err := zip.OpenReader(filepath.Join(moduleGolden("tiny_x4"), "weights.pth"))
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		for _, f := range z.File {
			if strings.HasSuffix(f.Name, "/data.pkl") {
				b, err := readZipEntry(f, maxPickleBytes, 1<<40)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
		}
		t.Fatal("no data.pkl")
		return nil
	}()
	deepMarks := bytes.Repeat([]byte{'('}, maxMarkDepth+1)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"storage CRC", flip(good(), "archive/data/0"), "checksum"},
		{"pickle CRC", flip(good(), "archive/data.pkl"), "checksum"},
		{"missing storage", pickleZip(t, pklFor([]int{2})), `storage "0": zip has no entry archive/data/0`},
		{"storage size mismatch", pickleZip(t, pklFor([]int{2}), zipEntry{"archive/data/0", le[float32](1)}), `storage "0": zip entry archive/data/0 is 4 bytes, the pickle declares 8`},
		{"view past storage", pickleZip(t, pklFor([]int{3}), zipEntry{"archive/data/0", le[float32](1, 2)}), `tensor "w": view (offset 0, shape [3], stride [1]) goes past the end of its 2-element storage "0"`},
		{"huge broadcast", pickleZip(t, []byte("\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQK\x00J\x00\x00\x00\x40\x85K\x00\x85\x89ccollections\nOrderedDict\n)RtRs."), zipEntry{"archive/data/0", le[float32](1)}), "views add up to more than"},
		{"huge storage claim", pickleZip(t, []byte("\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu\x8a\x06\x00\x00\x00\x00\x00\x01tQK\x00K\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRs."), zipEntry{"archive/data/0", le[float32](1)}), "the pickle declares 4398046511104"},
		{"negative stride", pickleZip(t, []byte("\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQK\x00K\x01\x85J\xff\xff\xff\xff\x85\x89ccollections\nOrderedDict\n)RtRs."), zipEntry{"archive/data/0", le[float32](1)}), "invalid size [1] or stride [-1]"},
		{"truncated pickle", pickleZip(t, goldenPkl[:len(goldenPkl)/2]), "truncated"},
		{"pickle without STOP", pickleZip(t, goldenPkl[:len(goldenPkl)-1]), "without a STOP"},
		{"huge string length", pickleZip(t, []byte("\x80\x02X\xff\xff\xff\x7fabc")), "needs 2147483647 bytes, only 3 left"},
		{"huge BINUNICODE8", pickleZip(t, []byte("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xffabc")), "only 3 left"},
		{"huge frame", pickleZip(t, []byte("\x80\x04\x95\x00\x00\x00\x00\x01\x00\x00\x00}.")), "declares 4294967296 bytes"},
		{"deep MARK nesting", pickleZip(t, deepMarks), "deeper than"},
		{"odd SETITEMS", pickleZip(t, []byte("\x80\x02}(K\x01u.")), "malformed pickle"},
		{"bytes key", pickleZip(t, []byte("\x80\x02ccollections\nOrderedDict\n)R(C\x01aK\x01u.")), "key bytes is not a string"},
		{"zero-length LONG1 is 0", pickleZip(t, []byte("\x80\x02\x8a\x00.")), "the pickled object is the int 0, not a dict"},
		{"unknown opcode", pickleZip(t, []byte("\x80\x02\xff.")), "unknown pickle opcode 0xff"},
		{"protocol 9", pickleZip(t, []byte("\x80\x09}.")), "unsupported pickle protocol 9"},
		{"bad persistent id", pickleZip(t, []byte("\x80\x02}X\x01\x00\x00\x00wK\x01Qs.")), "unsupported persistent id"},
		{"storage type not a class", pickleZip(t, []byte("\x80\x02(X\x07\x00\x00\x00storageK\x01X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ.")), "storage type is the int 1"},
		{"rebuild with bad args", pickleZip(t, []byte("\x80\x02ctorch._utils\n_rebuild_tensor_v2\n)R.")), "called with 0 arguments"},
		{"REDUCE on a storage class", pickleZip(t, []byte("\x80\x02ctorch\nFloatStorage\n)R.")), "malformed pickle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "weights.pth", c.data)
			_, err := Load(path)
			if err == nil || !strings.HasPrefix(err.Error(), "checkpoint: "+path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q after the file name", err, c.want)
			}
		})
	}
}
