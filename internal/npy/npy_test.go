package npy

import (
	"bytes"
	"testing"
)

func TestReadGolden(t *testing.T) {
	a, err := ReadFile("../../testdata/golden/tiny_x4/input.npy")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Shape) != 4 || a.Shape[0] != 2 || a.Shape[1] != 3 || a.Shape[2] != 9 || a.Shape[3] != 7 {
		t.Fatalf("shape %v, want [2 3 9 7]", a.Shape)
	}
	for _, v := range a.Data {
		if v < 0 || v > 1 {
			t.Fatalf("value %v outside [0,1]", v)
		}
	}
}

func TestReadBad(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"bad magic": []byte("\x93NUMPX\x01\x00\x00\x00"),
		"truncated": []byte("\x93NUMPY\x01\x00\x40\x00{'descr'"),
	} {
		if _, err := Read(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
