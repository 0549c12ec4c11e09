package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.bin")
	if err := Write(p, func(w io.Writer) error { _, err := w.Write([]byte("one")); return err }); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	// A failing writer leaves the old content and no temporary file.
	boom := errors.New("boom")
	if err := Write(p, func(w io.Writer) error { w.Write([]byte("partial")); return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Fatalf("content %q after a failed write", b)
	}
	// A failure just before the rename, too.
	BeforeRename = func(string) error { return boom }
	err := Write(p, func(w io.Writer) error { _, err := w.Write([]byte("two")); return err })
	BeforeRename = nil
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Fatalf("left behind: %v", got)
	}
	// A successful replace keeps the mode.
	if err := Write(p, func(w io.Writer) error { _, err := w.Write([]byte("three")); return err }); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if b, _ := os.ReadFile(p); string(b) != "three" || st.Mode().Perm() != 0o600 {
		t.Fatalf("content %q mode %v", b, st.Mode())
	}
	// Errors: missing directory, a directory at the path.
	if err := Write(filepath.Join(dir, "no", "x"), func(io.Writer) error { return nil }); err == nil {
		t.Error("missing directory: no error")
	}
	if err := Write(dir, func(io.Writer) error { return nil }); err == nil {
		t.Error("directory target: no error")
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Fatalf("left behind: %v", got)
	}
}

// TestCheckAndErrorNames: Check finds what would make Write fail before
// anything is written, and errors name the target, never the temporary
// file.
func TestCheckAndErrorNames(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{filepath.Join(dir, "new.png"), true},
		{file, true},
		{filepath.Join(dir, "missing", "x.png"), false},
		{filepath.Join(file, "x.png"), false}, // the folder is a file
		{dir, false},                          // a folder at the path
		{dir + "/", false},                    // no file name
	} {
		err := Check(tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%s) = %v, want ok %v", tc.path, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), tmpMark) {
			t.Errorf("Check(%s): %v names a temporary file", tc.path, err)
		}
		werr := Write(tc.path, func(w io.Writer) error { return nil })
		if (werr == nil) != tc.ok {
			t.Errorf("Write(%s) = %v, but Check said %v", tc.path, werr, err)
		}
		if werr != nil && (strings.Contains(werr.Error(), tmpMark) || !strings.Contains(werr.Error(), filepath.Base(filepath.Clean(tc.path)))) {
			t.Errorf("Write(%s): %v does not name the target", tc.path, werr)
		}
	}
	if got := entries(t, dir); len(got) != 2 {
		t.Errorf("left behind: %v", got)
	}
	// An error of the writer that names the temporary file is rewritten.
	out := filepath.Join(dir, "w.bin")
	err := Write(out, func(w io.Writer) error {
		w.Write(make([]byte, 2<<20)) // past the buffer: the file is written
		return errors.New("oops")
	})
	if err == nil || strings.Contains(err.Error(), tmpMark) {
		t.Errorf("writer error %v", err)
	}
	BeforeRename = func(tmp string) error { return &os.PathError{Op: "sync", Path: tmp, Err: errors.New("disk gone")} }
	err = Write(out, func(w io.Writer) error { return nil })
	BeforeRename = nil
	if err == nil || strings.Contains(err.Error(), tmpMark) || !strings.Contains(err.Error(), out) {
		t.Errorf("temp file error %v: want it to name %s", err, out)
	}
}
