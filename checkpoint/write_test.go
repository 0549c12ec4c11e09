package checkpoint

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grformer/grformer/internal/atomicfile"
)

// dirNames lists a directory.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFile(t *testing.T) {
	sd := smallSD()
	for _, c := range []struct{ name, format, source string }{
		{"w.safetensors", FormatSafetensors, SourceStateDict},
		{"w.pth", FormatPTH, SourceParams},
		{"W.PTH", FormatPTH, SourceParams},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, c.name)
			// Twice: creating, then replacing an existing file.
			for range 2 {
				if err := WriteFile(path, sd); err != nil {
					t.Fatal(err)
				}
			}
			got, info := mustLoad(t, path)
			if d := diffSD(sd, got); d != "" {
				t.Fatal(d)
			}
			if info.Format != c.format || info.Source != c.source {
				t.Errorf("info %+v", info)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", st.Mode().Perm())
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v, want only %s", names, c.name)
			}
		})
	}
}

// TestWriteFileFailures: a failed write leaves nothing at the destination
// (and an existing file untouched), and no temporary file behind.
func TestWriteFileFailures(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "no", "such", "dir", "w.safetensors")
		err := WriteFile(path, smallSD())
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v, want one naming %s", err, path)
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("left %v behind", names)
		}
	})
	t.Run("unknown extension", func(t *testing.T) {
		dir := t.TempDir()
		err := WriteFile(filepath.Join(dir, "w.ckpt"), smallSD())
		if err == nil || !strings.Contains(err.Error(), `unknown extension ".ckpt"`) {
			t.Errorf("error %v", err)
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("left %v behind", names)
		}
	})
	for _, ext := range []string{".safetensors", ".pth"} {
		t.Run("invalid tensor keeps the old file"+ext, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "w"+ext)
			if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			bad := smallSD()
			bad["zz"] = NewF32([]int{3}, []float32{1})
			err := WriteFile(path, bad)
			if err == nil || !strings.Contains(err.Error(), `tensor "zz"`) {
				t.Errorf("error %v", err)
			}
			if b, _ := os.ReadFile(path); string(b) != "old" {
				t.Errorf("destination now holds %q", b)
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v", names)
			}
		})
	}
	t.Run("error mid-write", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "w.safetensors")
		boom := errors.New("boom")
		err := atomicfile.Write(path, func(w io.Writer) error {
			chunk := make([]byte, 1<<20)
			for range 3 {
				if _, err := w.Write(chunk); err != nil {
					return err
				}
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("error %v, want boom", err)
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("left %v behind", names)
		}
	})
}
