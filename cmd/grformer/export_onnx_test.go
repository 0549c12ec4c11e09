package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/model"
	"github.com/grformer/grformer/onnx"
)

// export -o X.onnx writes package onnx's graph of the weights; bad weights
// leave no file.
func TestExportONNX(t *testing.T) {
	golden, err := checkpoint.Load(goldenTinyX2)
	if err != nil {
		t.Skipf("golden checkpoint: %v", err)
	}
	cfg, err := model.ConfigFrom(golden)
	if err != nil {
		t.Fatal(err)
	}
	want, err := onnx.Marshal(cfg, golden)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := filepath.Join(dir, "tiny.ONNX")
	if code, msg := trainCmd(t, "export", "-weights", goldenTinyX2, "-o", o); code != 0 || !strings.Contains(msg, "ONNX opset 17") {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	got, err := os.ReadFile(o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes, not the %d of onnx.Marshal", o, len(got), len(want))
	}
	// Weights of another configuration than -config says: refused, no file.
	conf := filepath.Join(dir, "other.yaml")
	os.WriteFile(conf, []byte("model: {embed_dim: 16, depths: [3], num_heads: [2], window: [4, 8], img_size: 16}\n"), 0o644)
	bad := filepath.Join(dir, "bad.onnx")
	if code, msg := trainCmd(t, "export", "-weights", goldenTinyX2, "-config", conf, "-o", bad); code == 0 {
		t.Fatalf("exit 0 for mismatched weights:\n%s", msg)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a failed ONNX export left a file")
	}
}
