//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grformer/grformer/imageio"
)

// TestUpscaleFIFOInput: a named pipe among the inputs fails at once (issue
// 12, item 6) and the other inputs are upscaled; before, opening it waited
// for a writer forever.
func TestUpscaleFIFOInput(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	fifo := filepath.Join(in, "a.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	src := filepath.Join(in, "b.png")
	imageio.WriteFile(src, imageio.NewImage(12, 10, false, false, 8), imageio.EncodeOptions{})
	done := make(chan struct{})
	var code int
	var stderr string
	go func() {
		code, _, stderr = runCmd(t, "upscale", "-weights", tinyX2, "-o", out, fifo, src)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("upscale blocked on a FIFO input")
	}
	if code == 0 || !strings.Contains(stderr, fifo+": is a named pipe (FIFO), not a regular file") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "b_x2.png")); err != nil {
		t.Errorf("the regular input was not upscaled: %v", err)
	}
}

// TestUpscaleCleansStaleTemps: temporary files a killed run left in the
// output folder are removed by the next run (issue 12, item 9); a recent
// one, which a running process may be writing, stays.
func TestUpscaleCleansStaleTemps(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	src := filepath.Join(in, "p.png")
	imageio.WriteFile(src, imageio.NewImage(12, 10, false, false, 8), imageio.EncodeOptions{})
	stale := filepath.Join(out, ".p_x2.png.tmp-1a2b3c")
	fresh := filepath.Join(out, ".q_x2.png.tmp-1a2b3d")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	if code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-o", out, src); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("recent temporary file removed: %v", err)
	}
}
