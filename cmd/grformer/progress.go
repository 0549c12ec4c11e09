package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// reporter shows the progress of an upscale run on stderr: on a terminal a
// bar redrawn in place (images done, tiles of the current image, time
// left) that always fits in one line of the terminal, elsewhere plain log
// lines (one per image, and one every plainEvery for images of several
// tiles).
type reporter struct {
	w      io.Writer
	tty    bool
	width  func() int // terminal columns, asked at each redraw (windows resize)
	images int        // images in the run; 0 for a single image

	index       int    // current image, 0-based
	name        string // current image, as named in messages
	done, total int    // tiles of the current image
	start       time.Time
	lastDraw    time.Time
	drawn       bool
	now         func() time.Time
}

// plainEvery is how often tile progress is logged when not on a terminal
// (a variable for tests).
var plainEvery = 10 * time.Second

func newReporter(w io.Writer) *reporter {
	r := &reporter{w: w, tty: isTerminal(w), now: time.Now}
	r.width = func() int {
		if c, ok := terminalWidth(w); ok && c > 0 {
			return c
		}
		if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 0 {
			return c
		}
		return 80
	}
	return r
}

// isTerminal reports whether w is a terminal other than a dumb one.
func isTerminal(w io.Writer) bool {
	_, ok := terminalWidth(w)
	return ok && os.Getenv("TERM") != "dumb"
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
		label := ""
		if r.name != "" {
			label = r.name + ": "
		}
		fmt.Fprintf(r.w, "%stile %d/%d (%d%%)%s\n", label, done, total, 100*done/total, r.eta())
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

// draw redraws the bar in place, within the terminal's width less one
// column (a line that fills the last column wraps on some terminals): on
// a narrow one the bar shortens, then the name, the time left, the tile
// count and the bar give way, in that order.
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
	pct := fmt.Sprintf(" %3d%%", int(100*overall))
	tiles, eta := "", ""
	if r.total > 1 {
		tiles = fmt.Sprintf("  tile %d/%d", r.done, r.total)
		eta = r.eta()
	}
	name := filepath.Base(r.name)
	if r.name == "" {
		name = ""
	}
	room := max(r.width()-1, 1)
	barW := 24
	width := func() int {
		n := runes(head) + runes(pct) + runes(tiles) + runes(eta)
		if barW > 0 {
			n += barW + 2
		}
		if name != "" {
			n += runes(name) + 1
		}
		return n
	}
	if over := width() - room; over > 0 { // a shorter bar
		barW = max(barW-over, 10)
	}
	if over := width() - room; over > 0 && name != "" {
		// Shorten the name to its end, then drop it.
		keep := runes(name) - over - 3
		if keep >= 4 {
			rs := []rune(name)
			name = "..." + string(rs[len(rs)-keep:])
		} else {
			name = ""
		}
	}
	if width() > room {
		eta = ""
	}
	if width() > room {
		tiles = ""
	}
	if width() > room {
		barW = 0
	}
	bar := ""
	if barW > 0 {
		fill := min(int(overall*float64(barW)), barW)
		bar = "[" + strings.Repeat("=", fill) + strings.Repeat(" ", barW-fill) + "]"
	}
	line := head
	if name != "" {
		line += name + " "
	}
	line += bar + pct + tiles + eta
	if rs := []rune(line); len(rs) > room {
		line = string(rs[:room])
	}
	fmt.Fprintf(r.w, "\r\x1b[K%s", line)
	r.drawn = true
}

// runes is the length of s in characters, the columns it takes for most
// text.
func runes(s string) int { return utf8.RuneCountInString(s) }

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
