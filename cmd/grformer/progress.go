package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// reporter shows the progress of an upscale run on stderr: on a terminal a
// bar redrawn in place (images done, tiles of the current image, time
// left), elsewhere plain log lines (one per image, and one every
// plainEvery for images of several tiles).
type reporter struct {
	w      io.Writer
	tty    bool
	width  int // terminal columns
	images int // images in the run; 0 for a single image

	index       int // current image, 0-based
	name        string
	done, total int // tiles of the current image
	start       time.Time
	lastDraw    time.Time
	drawn       bool
	now         func() time.Time
}

// plainEvery is how often tile progress is logged when not on a terminal.
const plainEvery = 10 * time.Second

func newReporter(w io.Writer) *reporter {
	r := &reporter{w: w, tty: isTerminal(w), width: 80, now: time.Now}
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c >= 40 {
		r.width = c
	}
	return r
}

// isTerminal reports whether w is a character device (a terminal) other
// than a dumb one. No cgo: the file mode says it.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// begin starts image i (0-based) of the run.
func (r *reporter) begin(i int, name string) {
	r.index, r.name = i, name
	r.done, r.total = 0, 0
	r.start = r.now()
	r.lastDraw = time.Time{}
	if r.tty {
		r.draw()
	}
}

// tiles is the library's progress callback for the current image.
func (r *reporter) tiles(done, total int) {
	r.done, r.total = done, total
	if r.start.IsZero() {
		r.start = r.now()
	}
	now := r.now()
	if r.tty {
		if done == total || now.Sub(r.lastDraw) >= 100*time.Millisecond {
			r.draw()
		}
		return
	}
	if total > 1 && done > 0 && done < total && now.Sub(r.lastDraw) >= plainEvery {
		r.lastDraw = now
		fmt.Fprintf(r.w, "%s: tile %d/%d (%d%%)%s\n", r.name, done, total, 100*done/total, r.eta())
	}
	if r.lastDraw.IsZero() {
		r.lastDraw = now
	}
}

// eta estimates the time left for the current image.
func (r *reporter) eta() string {
	if r.done == 0 || r.done >= r.total {
		return ""
	}
	el := r.now().Sub(r.start)
	left := time.Duration(float64(el) * float64(r.total-r.done) / float64(r.done))
	return ", " + left.Round(time.Second).String() + " left"
}

// draw redraws the bar in place.
func (r *reporter) draw() {
	r.lastDraw = r.now()
	frac := 0.0
	if r.total > 0 {
		frac = float64(r.done) / float64(r.total)
	}
	head := ""
	overall := frac
	if r.images > 0 {
		head = fmt.Sprintf("[%d/%d] ", r.index+1, r.images)
		overall = (float64(r.index) + frac) / float64(r.images)
	}
	tail := fmt.Sprintf(" %3d%%", int(100*overall))
	if r.total > 1 {
		tail += fmt.Sprintf("  tile %d/%d%s", r.done, r.total, r.eta())
	}
	const barW = 24
	fill := int(overall * barW)
	bar := "[" + strings.Repeat("=", fill) + strings.Repeat(" ", barW-fill) + "]"
	name := filepath.Base(r.name)
	room := r.width - 1 - len(head) - len(bar) - len(tail) - 2
	if room < 4 {
		name = ""
	} else if len(name) > room {
		name = "..." + name[len(name)-(room-3):]
	}
	fmt.Fprintf(r.w, "\r\x1b[K%s%s %s%s", head, name, bar, tail)
	r.drawn = true
}

// line prints a permanent line, keeping the bar below it.
func (r *reporter) line(format string, args ...any) {
	if r.tty && r.drawn {
		fmt.Fprint(r.w, "\r\x1b[K")
	}
	fmt.Fprintf(r.w, format+"\n", args...)
	if r.tty && r.drawn {
		r.draw()
	}
}

// clear removes the bar.
func (r *reporter) clear() {
	if r.tty && r.drawn {
		fmt.Fprint(r.w, "\r\x1b[K")
		r.drawn = false
	}
}
