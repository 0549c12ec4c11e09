package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// deadPID returns the id of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestCleanStale: temporary files of killed writers are removed (issue 12,
// item 9), those of live writers and recent ones are kept, and so is
// everything that is not a temporary file of Write.
func TestCleanStale(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("process liveness is not checked on Windows")
	}
	dir := t.TempDir()
	dead := strconv.Itoa(deadPID(t))
	self := strconv.Itoa(os.Getpid())
	old := time.Now().Add(-3 * time.Hour)
	files := []struct {
		name   string
		mtime  time.Time
		remove bool
	}{
		{".out.png.tmp-p" + dead + "-abc123", old, true},                  // killed writer
		{".state.safetensors.tmp-p" + dead + "-zz9", old, true},           // killed trainer
		{".out.png.tmp-p" + dead + "-abc124", time.Now(), false},          // dead pid but just written: maybe another machine's
		{".out.png.tmp-p" + self + "-abc125", old, false},                 // this process
		{".out.png.tmp-p1-abc126", old, false},                            // pid 1 is alive
		{".out.png.tmp-k3j2h1", old, true},                                // old name, an hour old
		{".out.png.tmp-k3j2h2", time.Now().Add(-30 * time.Minute), false}, // old name, recent
		{"out.png.tmp-k3j2h3", old, false},                                // no leading dot
		{".out.png.tmp-NOTOURS", old, false},                              // not base 36
		{".out.png.tmp-p12x-abc", old, false},                             // bad pid
		{".tmp-abc", old, false},                                          // no target name
		{"a.png", old, false},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".sub.tmp-p"+dead+"-abc"), 0o755); err != nil {
		t.Fatal(err)
	}
	removed, err := CleanStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		_, statErr := os.Stat(filepath.Join(dir, f.name))
		gone := errors.Is(statErr, os.ErrNotExist)
		if gone != f.remove || slices.Contains(removed, f.name) != f.remove {
			t.Errorf("%s: removed %v, want %v", f.name, gone, f.remove)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".sub.tmp-p"+dead+"-abc")); err != nil {
		t.Errorf("a directory was removed: %v", err)
	}
	if r, err := CleanStale(filepath.Join(dir, "missing")); r != nil || err != nil {
		t.Errorf("missing folder: %v %v", r, err)
	}
}

// TestTempNameHasPID: Write's temporary files carry the writer's pid.
func TestTempNameHasPID(t *testing.T) {
	dir := t.TempDir()
	var seen string
	BeforeRename = func(tmp string) error { seen = filepath.Base(tmp); return nil }
	defer func() { BeforeRename = nil }()
	if err := Write(filepath.Join(dir, "x.png"), func(w io.Writer) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if pid, ok := tempPID(seen); !ok || pid != os.Getpid() {
		t.Errorf("temporary name %q: pid %d, %v", seen, pid, ok)
	}
}

// shortFile writes only part of what it is given, then fails as a full
// disk does.
type shortFile struct{ *os.File }

func (f shortFile) Write(b []byte) (int, error) {
	n, _ := f.File.Write(b[:len(b)/2])
	return n, syscall.ENOSPC
}

// TestAppendWhole: an append cut by a full disk leaves no torn line.
func TestAppendWhole(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log.jsonl")
	if err := Append(p, []byte("{\"iter\":1}\n")); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = appendWhole(shortFile{f}, []byte("{\"iter\":2,\"loss\":0.5}\n"))
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v, want ENOSPC", err)
	}
	if err := Append(p, []byte("{\"iter\":3}\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, []byte("{\"iter\":1}\n{\"iter\":3}\n")) {
		t.Errorf("log %q", b)
	}
}
