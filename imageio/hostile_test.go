package imageio

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// hostilePNGs are PNGs whose chunk lengths promise far more than the file
// holds (issue 12, item 4): the metadata reader must not allocate them.
func hostilePNGs() map[string][]byte {
	declare := func(n uint32, typ string) []byte { // a chunk header with no data after it
		b := binary.BigEndian.AppendUint32(nil, n)
		b = append(b, typ...)
		return append(b, make([]byte, 64)...)
	}
	first := pngFile(ihdr(16, 16, 8, 2))
	return map[string][]byte{
		"second IHDR of 2 GiB": append(bytes.Clone(first), declare(0x7fffffff, "IHDR")...),
		"iCCP of 32 MiB":       append(bytes.Clone(first), declare(32<<20, "iCCP")...),
		"first IHDR of 2 GiB":  append([]byte("\x89PNG\r\n\x1a\n"), declare(0x7fffffff, "IHDR")...),
		"IHDR of 100 bytes":    pngFile(chunk{"IHDR", make([]byte, 100)}),
	}
}

// TestHostilePNGMeta: the PNG metadata reader never allocates a declared
// chunk length beyond the file's size.
func TestHostilePNGMeta(t *testing.T) {
	for name, file := range hostilePNGs() {
		t.Run(name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, cerr := DecodeConfig(bytes.NewReader(file))
			_, err := Decode(bytes.NewReader(file), DecodeOptions{})
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Error("decoded")
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("allocated %d MB for a %d-byte file (DecodeConfig: %v; Decode: %v)", alloc>>20, len(file), cerr, err)
			}
			if len(err.Error()) > 200 {
				t.Errorf("message of %d bytes", len(err.Error()))
			}
		})
	}
	// pngMeta alone, on the file of the issue.
	file := hostilePNGs()["second IHDR of 2 GiB"]
	var m meta
	if a := testing.AllocsPerRun(1, func() { pngMeta(io.NewSectionReader(bytes.NewReader(file), 0, int64(len(file))), &m) }); a > 20 {
		t.Errorf("%v allocations", a)
	}
}

// TestReadFileNotRegular: a directory is refused, naming the file (a FIFO is
// tested in fifo_unix_test.go).
func TestReadFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadFile(dir, DecodeOptions{})
	if err == nil || !strings.Contains(err.Error(), dir+": is a directory") {
		t.Errorf("directory: %v", err)
	}
	p := filepath.Join(dir, "x.png")
	if err := os.WriteFile(p, rawPNG(1, 1, 8, 0, [][]byte{{7}}), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p, DecodeOptions{}); err != nil {
		t.Errorf("regular file: %v", err)
	}
}
