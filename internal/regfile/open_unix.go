//go:build unix

package regfile

import (
	"os"
	"syscall"
)

// openNonblock opens path with O_NONBLOCK, which makes opening a FIFO
// return at once; it changes nothing for a regular file.
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
