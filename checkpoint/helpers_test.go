package checkpoint

import (
	"archive/zip"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// tinyCases are the golden checkpoints inside the module.
var tinyCases = []string{"tiny_x2", "tiny_x3", "tiny_x4"}

// moduleGolden is the path of a golden case inside the module.
func moduleGolden(name string) string {
	return filepath.Join("..", "testdata", "golden", name)
}

// sharedGolden is the path of a golden case in ../shared, skipping the test
// when that tree is absent.
func sharedGolden(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "golden", name)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared golden data not available (%s): %v", dir, err)
	}
	return dir
}

func mustLoad(t testing.TB, path string) (StateDict, *LoadInfo) {
	t.Helper()
	sd, info, err := LoadWithInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	return sd, info
}

// diffSD reports the first difference between two state dicts ("" if
// equal): keys, shapes, value kinds and bit-exact values.
func diffSD(a, b StateDict) string {
	if !slices.Equal(a.Keys(), b.Keys()) {
		return "key sets differ: " + firstDiff(a.Keys(), b.Keys())
	}
	for _, k := range a.Keys() {
		ta, tb := a[k], b[k]
		if !slices.Equal(ta.Shape, tb.Shape) {
			return k + ": shapes differ"
		}
		if ta.DType != tb.DType {
			return fmt.Sprintf("%s: dtypes %s and %s", k, ta.DType, tb.DType)
		}
		if ta.IsFloat() != tb.IsFloat() {
			return k + ": one is floating, the other integer"
		}
		if len(ta.F32) != len(tb.F32) || len(ta.I64) != len(tb.I64) {
			return k + ": lengths differ"
		}
		for i := range ta.F32 {
			if math.Float32bits(ta.F32[i]) != math.Float32bits(tb.F32[i]) {
				return k + ": F32 values differ"
			}
		}
		if !slices.Equal(ta.I64, tb.I64) {
			return k + ": I64 values differ"
		}
	}
	return ""
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " vs " + b[i]
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

// zipEntry is one file of a hand-made zip.
type zipEntry struct {
	name string
	data []byte
}

// makeZip builds a zip of stored entries.
func makeZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pickleZip wraps a pickle as a minimal PyTorch checkpoint (no storages).
func pickleZip(t testing.TB, pkl []byte, storages ...zipEntry) []byte {
	entries := append([]zipEntry{{"archive/data.pkl", pkl}}, storages...)
	entries = append(entries, zipEntry{"archive/version", []byte("3\n")})
	return makeZip(t, entries...)
}

// writeTemp writes data to a file in a fresh temporary directory.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// smallSD is a little state dict of each kind of tensor a writer handles.
func smallSD() StateDict {
	return StateDict{
		"conv.weight": NewF32([]int{2, 1, 2, 2}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), -0.0, 1e-40, 7}),
		"conv.bias":   NewF32([]int{2}, []float32{0.25, -0.125}),
		"index":       NewI64([]int{2, 3}, []int64{0, 1, -2, math.MaxInt64, math.MinInt64, 5}),
		"scalar":      NewF32(nil, []float32{3}),
		"empty":       NewF32([]int{0, 4}, []float32{}),
	}
}
