//go:build !unix

package regfile

import "os"

// openNonblock checks the file type before opening where O_NONBLOCK is not
// available (there, FIFOs do not block an open the same way).
func openNonblock(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(path, st.Mode())
	}
	return os.Open(path)
}
