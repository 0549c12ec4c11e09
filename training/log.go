package training

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/grformer/grformer/internal/atomicfile"
	"io"
	"io/fs"
	"os"
)

// LogEntry is one line of log.jsonl.
type LogEntry struct {
	Iter int `json:"iter"`
	// Loss is the mean training loss of the iterations since the
	// previous line.
	Loss float64 `json:"loss"`
	// LR is the learning rate of this iteration.
	LR float64 `json:"lr"`
	// ItPerS is the speed since the previous line (iterations run by this
	// process only).
	ItPerS float64 `json:"it_per_s"`
	// ElapsedS is the training time so far, across resumes.
	ElapsedS float64 `json:"elapsed_s"`
	// Validation, when this iteration was validated.
	ValPSNR    *float64 `json:"val_psnr,omitempty"`
	ValSSIM    *float64 `json:"val_ssim,omitempty"`
	ValWeights string   `json:"val_weights,omitempty"` // "ema" or "net"
}

// appendLog appends one line to the log with a single write; a write cut
// short (a full disk) is undone, so the log never holds a torn line.
func appendLog(path string, e LogEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := atomicfile.Append(path, append(b, '\n')); err != nil {
		return fmt.Errorf("training: log: %w", err)
	}
	return nil
}

// ReadLog reads a log.jsonl file. A torn last line (no newline) is
// ignored; any other unreadable line is an error.
func ReadLog(path string) ([]LogEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("training: log: %w", err)
	}
	lines := bytes.Split(b, []byte("\n"))
	// The last element is empty when the file ends with a newline, and
	// a torn line otherwise: either way it is not a whole line.
	lines = lines[:len(lines)-1]
	var out []LogEntry
	for i, l := range lines {
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		var e LogEntry
		if err := json.Unmarshal(l, &e); err != nil {
			return nil, fmt.Errorf("training: %s line %d: %w", path, i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// repairLog keeps the log entries up to iteration last and rewrites the
// file atomically when anything was dropped.
func repairLog(path string, last int) ([]LogEntry, error) {
	all, err := ReadLog(path)
	if err != nil {
		return nil, err
	}
	keep := all[:0:0]
	for _, e := range all {
		if e.Iter <= last {
			keep = append(keep, e)
		}
	}
	raw, _ := os.ReadFile(path)
	var buf bytes.Buffer
	for _, e := range keep {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if len(keep) == len(all) && bytes.Equal(raw, buf.Bytes()) {
		return keep, nil
	}
	if err := atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	}); err != nil {
		return nil, fmt.Errorf("training: log: %w", err)
	}
	return keep, nil
}
