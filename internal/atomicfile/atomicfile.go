// Package atomicfile writes files so that a reader never sees a partial
// one: the content goes to a temporary file beside the target, which is
// synced and renamed over the target only when everything succeeded. It is
// the one implementation behind every file the module writes (images,
// checkpoints, training state, evaluation outputs).
package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
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
// (a symlink at path is replaced, not followed).
func Write(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	perm, keepMode := os.FileMode(0o666), false
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSymlink == 0 && !st.Mode().IsRegular() {
			return errors.New("exists and is not a regular file")
		}
		if st.Mode().IsRegular() {
			perm, keepMode = st.Mode().Perm(), true
		}
	}
	if len(base) > 200 {
		base = base[:200] // keep the temporary name within NAME_MAX
	}
	var tmp *os.File
	for range 100 {
		name := filepath.Join(dir, "."+base+tmpMark+"p"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(rand.Uint64()%1e12, 36))
		tmp, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
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
