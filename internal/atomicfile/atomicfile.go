// Package atomicfile writes files so that a reader never sees a partial
// one: the content goes to a temporary file beside the target, which is
// synced and renamed over the target only when everything succeeded. It is
// the one implementation behind every file the module writes (images,
// checkpoints, training state, evaluation outputs).
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tmpMark separates the target's name from the suffix of a temporary file.
const tmpMark = ".tmp-"

// BeforeRename, when set (by tests), runs on the temporary file's name just
// before the rename; an error from it fails the write like any other.
var BeforeRename func(tmp string) error

// Write creates or replaces path with what write writes. The temporary file
// is ".NAME.tmp-pPID-RANDOM" in path's directory (PID is the writer's
// process id, so that CleanStale can tell a live writer's file from one a
// killed process left); on any error it is removed and path is left as it
// was. A replaced file keeps its permission bits; a new
// one gets 0666 less the umask. path must be a regular file if it exists
// (a symlink at path is replaced, not followed). Errors name path, never
// the temporary file, which nobody else knows of.
func Write(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return &os.PathError{Op: "write", Path: path, Err: errors.New("no file name")}
	}
	perm, keepMode := os.FileMode(0o666), false
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSymlink == 0 && !st.Mode().IsRegular() {
			return &os.PathError{Op: "write", Path: path, Err: errors.New("exists and is not a regular file")}
		}
		if st.Mode().IsRegular() {
			perm, keepMode = st.Mode().Perm(), true
		}
	}
	tmp, err := createTemp(dir, base, perm)
	if err != nil {
		return namePath(err, "", path)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
			err = namePath(err, tmpName, path)
		}
	}()
	if keepMode {
		// Keep the replaced file's mode (OpenFile applied the umask).
		if err := tmp.Chmod(perm); err != nil {
			return err
		}
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if BeforeRename != nil {
		if err := BeforeRename(tmpName); err != nil {
			return err
		}
	}
	if err := os.Rename(tmpName, path); err != nil {
		return err
	}
	// Make the rename durable; not every system can sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// createTemp creates the temporary file for dir/base.
func createTemp(dir, base string, perm os.FileMode) (tmp *os.File, err error) {
	if len(base) > 200 {
		base = base[:200] // keep the temporary name within NAME_MAX
	}
	for range 100 {
		name := filepath.Join(dir, "."+base+tmpMark+"p"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(rand.Uint64()%1e12, 36))
		tmp, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, os.ErrExist) {
			break
		}
	}
	return tmp, err
}

// Check reports, without writing path, whether Write(path, ...) can
// create its temporary file and rename it into place: path's folder must
// exist, be a folder and accept a new file (tried: a temporary file is
// created there and removed), and path, if it exists, must be a regular
// file or a symbolic link. Commands call it before costly work whose
// result goes to path. Like Write's, its errors name path.
func Check(path string) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return &os.PathError{Op: "write", Path: path, Err: errors.New("no file name")}
	}
	st, err := os.Stat(dir)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return &os.PathError{Op: "write", Path: path, Err: fmt.Errorf("folder %s: %w", filepath.Clean(dir), err)}
	}
	if !st.IsDir() {
		return &os.PathError{Op: "write", Path: path, Err: fmt.Errorf("%s is not a folder", filepath.Clean(dir))}
	}
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSymlink == 0 && !st.Mode().IsRegular() {
		return &os.PathError{Op: "write", Path: path, Err: errors.New("exists and is not a regular file")}
	}
	tmp, err := createTemp(dir, base, 0o600)
	if err != nil {
		return namePath(err, "", path)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// namePath rewrites an error about the temporary file tmp (or, when tmp is
// "", about any file being created beside path) to name path instead.
func namePath(err error, tmp, path string) error {
	switch e := err.(type) {
	case *os.LinkError:
		if e.Old == tmp {
			return &os.PathError{Op: e.Op, Path: path, Err: e.Err}
		}
	case *os.PathError:
		if e.Path != path && (e.Path == tmp || tmp == "") {
			return &os.PathError{Op: e.Op, Path: path, Err: e.Err}
		}
	}
	if tmp != "" && strings.Contains(err.Error(), tmp) {
		return &renamedError{err, strings.ReplaceAll(err.Error(), tmp, path)}
	}
	return err
}

// renamedError is an error whose message had the temporary file's name
// replaced by the target's; it still wraps the original.
type renamedError struct {
	err error
	msg string
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }
