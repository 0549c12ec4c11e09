package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Ages after which CleanStale removes a temporary file: one whose writer
// process is gone (or another machine's) must also be untouched for
// staleDeadAge, since a file being written has a fresh modification time;
// one whose name carries no process id (written before the id was added)
// must be older than staleAnyAge, far longer than any write takes.
const (
	staleDeadAge = 2 * time.Minute
	staleAnyAge  = time.Hour
)

// CleanStale removes the temporary files Write left in dir when its process
// was killed (SIGKILL, power loss) before it could remove them:
// ".NAME.tmp-pPID-RANDOM" files whose process PID no longer runs and that
// were not modified for two minutes, and ".NAME.tmp-RANDOM" files of older
// versions not modified for an hour. A temporary file of a live process,
// this one included, is never removed. It returns the names removed; a
// directory that does not exist is not an error.
func CleanStale(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	now := time.Now()
	var removed []string
	var first error
	for _, e := range es {
		name := e.Name()
		pid, ok := tempPID(name)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		age := now.Sub(info.ModTime())
		var stale bool
		if pid == 0 {
			stale = age > staleAnyAge
		} else {
			stale = pid != os.Getpid() && age > staleDeadAge && !processAlive(pid)
		}
		if !stale {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			if first == nil {
				first = err
			}
			continue
		}
		removed = append(removed, name)
	}
	return removed, first
}

// tempPID recognises the name of a temporary file of Write: ok, with the
// writer's pid, or 0 for the older names without one.
func tempPID(name string) (pid int, ok bool) {
	i := strings.LastIndex(name, tmpMark)
	if !strings.HasPrefix(name, ".") || i < 2 {
		return 0, false
	}
	suffix := name[i+len(tmpMark):]
	if p, rnd, found := strings.Cut(suffix, "-"); found && strings.HasPrefix(p, "p") {
		n, err := strconv.Atoi(p[1:])
		if err != nil || n <= 0 || !isBase36(rnd) {
			return 0, false
		}
		return n, true
	}
	return 0, isBase36(suffix)
}

func isBase36(s string) bool {
	if s == "" || len(s) > 8 { // Write's random part is below 1e12, 8 digits in base 36
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// appendFile is what Append needs of an *os.File.
type appendFile interface {
	io.Writer
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
}

// Append appends b to path (created if needed) as one write, and leaves
// the file as it was if the write fails part-way (a full disk): a log of
// lines never ends with a torn one that the next append would run into.
func Append(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		return err
	}
	if err := appendWhole(f, b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func appendWhole(f appendFile, b []byte) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	n, err := f.Write(b)
	if err == nil {
		return nil
	}
	if n > 0 {
		if terr := f.Truncate(st.Size()); terr != nil {
			return errors.Join(err, terr)
		}
	}
	return err
}
