package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/grformer/grformer/internal/atomicfile"
	"github.com/grformer/grformer/internal/regfile"
)

// Formats reported in LoadInfo.Format.
const (
	FormatPTH         = "pth"
	FormatSafetensors = "safetensors"
)

// Sources reported in LoadInfo.Source: which object of the file became the
// state dict.
const (
	SourceParamsEMA = "params_ema" // the "params_ema" entry of a BasicSR checkpoint
	SourceParams    = "params"     // the "params" entry of a BasicSR checkpoint
	SourceStateDict = "state_dict" // the whole file is a name->tensor mapping
)

// LoadInfo describes what a reader found.
type LoadInfo struct {
	Format   string            // FormatPTH or FormatSafetensors
	Source   string            // SourceParamsEMA, SourceParams or SourceStateDict
	TopKeys  []string          // .pth: the string keys of the top-level dict, in order
	Keys     []string          // tensor names in file order
	Metadata map[string]string // safetensors: the header's __metadata__
}

// ErrUnknownFormat is wrapped by the error of Load and Decode for input that
// is neither a PyTorch zip checkpoint nor a safetensors file.
var ErrUnknownFormat = errors.New("not a PyTorch zip checkpoint (.pth) nor a safetensors file")

// Load reads a checkpoint file, recognising the format by its content: a
// zip archive is a PyTorch checkpoint (torch.save), a file starting with a
// plausible safetensors header is safetensors, anything else is an error
// naming the file.
//
// From a .pth, the state dict is the "params_ema" entry of the top-level
// dict if present (BasicSR's EMA weights), else its "params" entry, else
// the top-level dict itself when it maps names to tensors. LoadWithInfo
// reports which was used.
func Load(path string) (StateDict, error) {
	sd, _, err := LoadWithInfo(path)
	return sd, err
}

// LoadWithInfo is Load that also reports what it read.
func LoadWithInfo(path string) (StateDict, *LoadInfo, error) {
	f, st, err := regfile.Open(path) // a FIFO or device is refused, not waited on
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	sd, info, err := decode(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %s: %w", path, bound(err))
	}
	return sd, info, nil
}

// maxErrorLen bounds the text of a reader's error (besides the file name).
// Every message is built to be short already; this is the last line of
// defence against one that quotes too much of a hostile file.
const maxErrorLen = 400

// boundedError is an error whose text was cut to maxErrorLen.
type boundedError struct {
	msg string
	err error
}

func (e *boundedError) Error() string { return e.msg }
func (e *boundedError) Unwrap() error { return e.err }

// bound cuts the text of err to maxErrorLen bytes, keeping it unwrappable.
func bound(err error) error {
	if s := err.Error(); len(s) > maxErrorLen {
		return &boundedError{msg: s[:maxErrorLen] + "...", err: err}
	}
	return err
}

// Decode is Load for an in-memory or already opened checkpoint of the given
// size.
func Decode(r io.ReaderAt, size int64) (StateDict, *LoadInfo, error) {
	sd, info, err := decode(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", bound(err))
	}
	return sd, info, nil
}

// decode sniffs the format and dispatches.
func decode(r io.ReaderAt, size int64) (StateDict, *LoadInfo, error) {
	if size == 0 {
		return nil, nil, fmt.Errorf("empty file: %w", ErrUnknownFormat)
	}
	var head [9]byte
	n, err := r.ReadAt(head[:], 0)
	if n < len(head) && int64(n) < size {
		return nil, nil, fmt.Errorf("reading: %w", err)
	}
	b := head[:n]
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return decodePTH(r, size)
	case len(b) == 9 && b[8] == '{' && binary.LittleEndian.Uint64(b) <= maxSafetensorsHeader:
		return decodeSafetensors(r, size)
	case len(b) >= 2 && b[0] == 0x80 && b[1] <= 5:
		return nil, nil, fmt.Errorf("%w: this is a bare pickle, maybe the legacy (PyTorch < 1.6) torch.save format; re-save it with a recent PyTorch", ErrUnknownFormat)
	}
	return nil, nil, ErrUnknownFormat
}

// WriteFile writes sd to path in the format its extension names:
// ".safetensors" (WriteSafetensors, no metadata) or ".pth" (WritePTH with
// the BasicSR wrapping {'params': state_dict}). It writes a temporary file
// in the same directory and renames it over path only once everything is
// written and synced, so an error never leaves a partial file at path.
func WriteFile(path string, sd StateDict) error {
	var write func(io.Writer) error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".safetensors":
		write = func(w io.Writer) error { return writeSafetensors(w, sd, nil) }
	case ".pth":
		write = func(w io.Writer) error { return writePTH(w, sd, "params") }
	default:
		return fmt.Errorf("checkpoint: %s: unknown extension %q (want .pth or .safetensors)", path, ext)
	}
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return nil
}
