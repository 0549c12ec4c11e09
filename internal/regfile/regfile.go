// Package regfile opens files that must be regular files (images,
// checkpoints) without ever blocking: opening a FIFO for reading waits for a
// writer, before any signal handler or context can intervene, so a named
// pipe, device or socket among the inputs is refused at open instead.
package regfile

import (
	"fmt"
	"io/fs"
	"os"
)

// Open opens path for reading and returns it with its FileInfo, or an error
// naming path if it is not a regular file (symlinks are followed). A
// directory gives an error that says so.
func Open(path string) (*os.File, fs.FileInfo, error) {
	f, err := openNonblock(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, notRegular(path, st.Mode())
	}
	return f, st, nil
}

// notRegular is the error for a path that is not a regular file.
func notRegular(path string, m fs.FileMode) error {
	kind := "not a regular file"
	switch {
	case m.IsDir():
		kind = "is a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "is a named pipe (FIFO), not a regular file"
	case m&fs.ModeSocket != 0:
		kind = "is a socket, not a regular file"
	case m&fs.ModeDevice != 0:
		kind = "is a device, not a regular file"
	}
	return fmt.Errorf("%s: %s", path, kind)
}
