package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/internal/atomicfile"
)

// countModelRuns counts the inputs the model runs on until the test ends.
func countModelRuns(t *testing.T) *[]string {
	var ran []string
	beforeModel = func(in string) { ran = append(ran, in) }
	t.Cleanup(func() { beforeModel = nil })
	return &ran
}

// smallPNG writes a w x h PNG with a pattern.
func smallPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := imageio.NewImage(w, h, false, false, 8)
	for i := range img.Pix {
		img.Pix[i] = float32(i%17) / 16
	}
	if err := imageio.WriteFile(path, img, imageio.EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestUpscaleOutputCheckedFirst (item 10): a bad output fails before the
// weights are loaded and before the model runs: the weights named do not
// even exist, and the error is about the output.
func TestUpscaleOutputCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.png")
	smallPNG(t, in, 12, 10)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	os.Mkdir(filepath.Join(dir, "adir.png"), 0o755)
	readOnly := filepath.Join(dir, "ro")
	os.Mkdir(readOnly, 0o555)
	noWeights := filepath.Join(dir, "never-loaded.pth")
	type tc struct {
		name string
		args []string
		want string
		code int
	}
	cases := []tc{
		{"missing folder", []string{in, filepath.Join(dir, "no", "out.png")}, "no such file", 1},
		{"folder is a file", []string{in, filepath.Join(file, "out.png")}, "file/out.png: folder", 1},
		{"output is a folder", []string{in, filepath.Join(dir, "adir.png")}, "not a regular file", 1},
		{"unknown format", []string{in, filepath.Join(dir, "out.gif")}, "out.gif", 2},
		{"-o is a file", []string{"-o", file, in}, "file", 1},
	}
	if os.Getuid() != 0 { // root writes into read-only folders
		cases = append(cases,
			tc{"read-only folder", []string{in, filepath.Join(readOnly, "out.png")}, "permission denied", 1},
			tc{"-o read-only folder", []string{"-o", readOnly, in}, "permission denied", 1})
	}
	if runtime.GOOS == "linux" { // no file can be created there, even by root
		cases = append(cases,
			tc{"unwritable folder", []string{in, "/proc/self/out.png"}, "/proc/self/out.png", 1},
			tc{"-o unwritable folder", []string{"-o", "/proc/self", in}, "/proc/self", 1})
	}
	ran := countModelRuns(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, append([]string{"upscale", "-weights", noWeights}, c.args...)...)
			if code != c.code || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "never-loaded") {
				t.Errorf("exit %d (want %d), stderr %q: want an error about the output (%q), not the weights", code, c.code, stderr, c.want)
			}
			if strings.Contains(stderr, ".tmp-") {
				t.Errorf("stderr names a temporary file: %s", stderr)
			}
		})
	}
	// With -o, an output that cannot be written fails before the model runs
	// on that image; the others are done.
	out := t.TempDir()
	smallPNG(t, filepath.Join(dir, "b.png"), 12, 10)
	os.Mkdir(filepath.Join(out, "in_x2.png"), 0o755) // in a folder's way
	code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-overwrite", "-o", out, in, filepath.Join(dir, "b.png"))
	if code != 1 || !strings.Contains(stderr, "not a regular file") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if len(*ran) != 1 || (*ran)[0] != filepath.Join(dir, "b.png") {
		t.Errorf("the model ran on %v, want only b.png", *ran)
	}
}

// TestUpscaleRefusesInPlace (item 11): OUT may not be IN, by name or
// through a symbolic or hard link; the input is left as it was.
func TestUpscaleRefusesInPlace(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "a.png")
	smallPNG(t, in, 12, 10)
	before, _ := os.ReadFile(in)
	sym, hard := filepath.Join(dir, "sym.png"), filepath.Join(dir, "hard.png")
	if err := os.Symlink(in, sym); err != nil {
		t.Skip(err)
	}
	if err := os.Link(in, hard); err != nil {
		t.Skip(err)
	}
	ran := countModelRuns(t)
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, in, out string }{
		{"same name", in, in},
		{"same file, other spelling", in, filepath.Join(dir, ".", "a.png")},
		{"relative and absolute", rel, in},
		{"symbolic link", in, sym},
		{"link as input", sym, in},
		{"hard link", in, hard},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, c.in, c.out)
			if code == 0 || !strings.Contains(stderr, "is the input") {
				t.Errorf("exit %d: %s", code, stderr)
			}
			if after, _ := os.ReadFile(in); !bytes.Equal(before, after) {
				t.Fatal("the input changed")
			}
		})
	}
	if len(*ran) != 0 {
		t.Errorf("the model ran on %v", *ran)
	}
}

// TestUpscaleIntoInputFolderTwice (item 12): "-o DIR DIR" run again skips
// its own outputs, exits 0 and writes no NAME_x2_x2.
func TestUpscaleIntoInputFolderTwice(t *testing.T) {
	dir := t.TempDir()
	smallPNG(t, filepath.Join(dir, "a.png"), 12, 10)
	smallPNG(t, filepath.Join(dir, "b.png"), 10, 8)
	var b bytes.Buffer
	jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 9, 7)), nil)
	os.WriteFile(filepath.Join(dir, "c.jpg"), b.Bytes(), 0o644)
	names := func() string {
		es, _ := os.ReadDir(dir)
		var n []string
		for _, e := range es {
			n = append(n, e.Name())
		}
		return strings.Join(n, " ")
	}
	const want = "a.png a_x2.png b.png b_x2.png c.jpg c_x2.jpg"
	if code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-o", dir, dir); code != 0 || names() != want {
		t.Fatalf("first run: exit %d, files %s: %s", code, names(), stderr)
	}
	first, _ := os.ReadFile(filepath.Join(dir, "a_x2.png"))
	ran := countModelRuns(t)
	for _, c := range []struct {
		name string
		args []string
		runs int
	}{
		{"again", []string{"-o", dir, dir}, 0},
		{"again, relative", []string{"-o", dir, filepath.Join(dir, ".")}, 0},
		{"an output named", []string{"-o", dir, filepath.Join(dir, "a_x2.png")}, 0},
		{"-overwrite", []string{"-overwrite", "-o", dir, dir}, 3}, // the originals again, not the outputs
		{"-format png", []string{"-format", "png", "-o", dir, filepath.Join(dir, "c_x2.jpg")}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			*ran = nil
			code, _, stderr := runCmd(t, append([]string{"upscale", "-weights", tinyX2}, c.args...)...)
			if code != 0 || !strings.Contains(stderr, "skipped") || !strings.Contains(stderr, "output of") {
				t.Errorf("exit %d: %s", code, stderr)
			}
			if names() != want {
				t.Errorf("files %s, want %s", names(), want)
			}
			if len(*ran) != c.runs {
				t.Errorf("the model ran on %v, want %d images", *ran, c.runs)
			}
		})
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "a_x2.png")); !bytes.Equal(first, again) {
		t.Error("a_x2.png changed") // -overwrite rewrites it with the same pixels
	}
	// Elsewhere, or with -suffix "", a file named like an output is an
	// input like any other.
	other := t.TempDir()
	*ran = nil
	if code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-o", other, filepath.Join(dir, "a_x2.png")); code != 0 || len(*ran) != 1 {
		t.Errorf("into another folder: exit %d, model runs %v: %s", code, *ran, stderr)
	}
}

// TestFlagsAnywhere (item 13): flags mix with file names, "--" ends them,
// bad values exit 2, -h prints to stdout, version exists.
func TestFlagsAnywhere(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.png")
	smallPNG(t, in, 20, 14)
	outs := map[string][]byte{}
	for name, args := range map[string][]string{
		"before": {"upscale", "-weights", tinyX2, "-tta", "-border-context", "2", in, filepath.Join(dir, "before.png")},
		"after":  {"upscale", in, filepath.Join(dir, "after.png"), "-tta", "-weights", tinyX2, "--border-context=2"},
		"mixed":  {"upscale", in, "-weights=" + tinyX2, "-tta=true", filepath.Join(dir, "mixed.png"), "-border-context", "2"},
	} {
		code, _, stderr := runCmd(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		outs[name], _ = os.ReadFile(filepath.Join(dir, name+".png"))
	}
	if !bytes.Equal(outs["before"], outs["after"]) || !bytes.Equal(outs["before"], outs["mixed"]) {
		t.Error("flags after the names give another output")
	}
	// "--" ends the flags: a file named -x.png.
	weights := absPath(tinyX2)
	t.Chdir(dir)
	if code, _, stderr := runCmd(t, "upscale", "-weights", weights, "in.png", "--", "-x.png"); code != 0 {
		t.Errorf("--: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "-x.png")); err != nil {
		t.Errorf("-- then -x.png: %v", err)
	}

	for _, bad := range [][]string{
		{"-quality", "0"}, {"-quality", "many"}, {"-tile", "-3"}, {"-tile-overlap", "-3"}, {"-border-context", "-5"},
		{"-outscale", "NaN"}, {"-outscale", "-1"}, {"-format", "gif"}, {"-max-memory", "lots"}, {"-max-memory", "0"},
		{"-alpha", "nearest"}, {"-threads", "-1"}, {"-max-pixels", "0"}, {"-bogus"},
	} {
		args := append([]string{"upscale", "-weights", weights, "in.png", "o.png"}, bad...)
		if code, stdout, stderr := runCmd(t, args...); code != 2 || stderr == "" || stdout != "" {
			t.Errorf("%v: exit %d (want 2), stderr %q", bad, code, stderr)
		}
	}
	for _, args := range [][]string{{"upscale"}, {"upscale", "in.png"}, {"upscale", "-o", dir}, {"upscale", "a", "b", "c"}, {"info", "-preset", "light-x2", "extra"}} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if _, err := os.Stat("o.png"); err == nil {
		t.Error("an output was written by a refused run")
	}

	for _, args := range [][]string{{"upscale", "-h"}, {"upscale", "in.png", "--help"}, {"help", "upscale"}, {"info", "-h"}, {"serve", "-help"}, {"version", "-h"}} {
		code, stdout, stderr := runCmd(t, args...)
		if code != 0 || !strings.Contains(stdout, "Usage:") || stderr != "" {
			t.Errorf("%v: exit %d, stdout %.60q, stderr %.60q: want the help on stdout", args, code, stdout, stderr)
		}
	}
	for _, args := range [][]string{{"version"}, {"-version"}, {"--version"}} {
		code, stdout, _ := runCmd(t, args...)
		if code != 0 || !strings.HasPrefix(stdout, "grformer ") || !strings.Contains(stdout, runtime.Version()) {
			t.Errorf("%v: exit %d, %q", args, code, stdout)
		}
	}
}

// TestParseFlags: the shared parser's rules.
func TestParseFlags(t *testing.T) {
	for _, c := range []struct {
		args  []string
		rest  string
		tta   bool
		tile  int
		fails bool
	}{
		{[]string{"a", "b"}, "a b", false, 0, false},
		{[]string{"a", "-tta", "b", "-tile", "3"}, "a b", true, 3, false},
		{[]string{"-tile=-1", "a"}, "a", false, -1, false},
		{[]string{"-tile", "-1", "a"}, "a", false, -1, false}, // a value that starts with -
		{[]string{"a", "--", "-tta", "-"}, "a -tta -", false, 0, false},
		{[]string{"-", "-tta"}, "-", true, 0, false},
		{[]string{"-tta=false", "x"}, "x", false, 0, false},
		{[]string{"a", "-tile"}, "", false, 0, true},
		{[]string{"a", "-nope"}, "", false, 0, true},
	} {
		var o, e bytes.Buffer
		fs := newFlagSet("t", "head", &o, &e)
		tta := fs.Bool("tta", false, "")
		tile := fs.Int("tile", 0, "")
		err := parseFlags(fs, c.args)
		if c.fails {
			if !errors.Is(err, errFlags) {
				t.Errorf("%q: error %v, want errFlags", c.args, err)
			}
			continue
		}
		if err != nil || strings.Join(fs.Args(), " ") != c.rest || *tta != c.tta || *tile != c.tile {
			t.Errorf("%q: %v, args %q, tta %v, tile %d", c.args, err, fs.Args(), *tta, *tile)
		}
	}
}

// TestProgressMessages (item 15): a single image is named in progress
// lines (no ": tile"), the bar fits narrow terminals, and messages repeat
// no prefix and name no temporary file.
func TestProgressMessages(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.png")
	smallPNG(t, in, 200, 140)
	plainEvery = 0
	defer func() { plainEvery = 10 * time.Second }()
	code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, "-tile", "96", in, filepath.Join(dir, "out.png"))
	if code != 0 || !strings.Contains(stderr, in+": tile 1/") {
		t.Fatalf("exit %d, stderr %q: want tile lines naming %s", code, stderr, in)
	}
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, ": ") || strings.HasPrefix(l, ".: ") {
			t.Errorf("unlabelled line %q", l)
		}
	}

	// The bar: never wider than the terminal less a column.
	now := time.Unix(0, 0)
	for _, width := range []int{200, 80, 50, 30, 12, 5, 1} {
		var b bytes.Buffer
		r := &reporter{w: &b, tty: true, width: func() int { return width }, images: 120, now: func() time.Time { return now }}
		r.begin(99, "some/folder/a_picture_with_a_rather_long_name_ünïcode.png")
		for i := 0; i <= 460; i += 23 {
			now = now.Add(time.Second)
			r.tiles(i, 460)
		}
		r.clear()
		for _, l := range strings.Split(b.String(), "\r\x1b[K") {
			if n := len([]rune(l)); n > max(width-1, 1) {
				t.Errorf("width %d: line of %d columns: %q", width, n, l)
			}
		}
		if width >= 80 && (!strings.Contains(b.String(), "left") || !strings.Contains(b.String(), "ünïcode.png")) {
			t.Errorf("width %d: %q lacks the name or the time left", width, b.String())
		}
	}

	// Messages: a corrupt PNG does not say "png: png:".
	// (An IHDR with a bad checksum: the decoder says "png: invalid format".)
	bad := filepath.Join(dir, "bad-file")
	os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x00\x00\x00\x00"), 0o644)
	_, _, stderr = runCmd(t, "upscale", "-weights", tinyX2, bad, filepath.Join(dir, "o.png"))
	if strings.Contains(stderr, "png: png:") || strings.Contains(stderr, ": png: bad header: png:") || !strings.Contains(stderr, "bad-file: png: ") {
		t.Errorf("corrupt PNG: %q", stderr)
	}
	// A write that fails late names the output, not its temporary file.
	atomicfile.BeforeRename = func(tmp string) error {
		return &os.PathError{Op: "sync", Path: tmp, Err: errors.New("input/output error")}
	}
	defer func() { atomicfile.BeforeRename = nil }()
	out := filepath.Join(dir, "late.png")
	code, _, stderr = runCmd(t, "upscale", "-weights", tinyX2, in, out)
	if code == 0 || strings.Contains(stderr, ".tmp-") || !strings.Contains(stderr, out) {
		t.Errorf("late write failure: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCmd(t, "upscale", "-weights", tinyX2, "-o", filepath.Join(dir, "o"), in)
	if code == 0 || strings.Contains(stderr, ".tmp-") || !strings.Contains(stderr, filepath.Join(dir, "o", "in_x2.png")) {
		t.Errorf("late write failure with -o: exit %d, %q", code, stderr)
	}
}

// exifBlob builds EXIF data: IFD0 with Make "TestCam", Orientation and
// X/YResolution 72 per inch.
func exifBlob(orientation uint16) []byte {
	bo := binary.LittleEndian
	b := []byte("II*\x00")
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, 4)
	end := 8 + 2 + 4*12 + 4
	ent := func(tag, typ uint16, count, val uint32) {
		b = bo.AppendUint16(b, tag)
		b = bo.AppendUint16(b, typ)
		b = bo.AppendUint32(b, count)
		b = bo.AppendUint32(b, val)
	}
	ent(0x010f, 2, 8, uint32(end))
	ent(0x0112, 3, 1, uint32(orientation))
	ent(0x011a, 5, 1, uint32(end+8))
	ent(0x011b, 5, 1, uint32(end+8))
	b = bo.AppendUint32(b, 0)
	b = append(b, "TestCam\x00"...)
	b = bo.AppendUint32(b, 72)
	return bo.AppendUint32(b, 1)
}

// TestUpscaleMetadataFormatsStdio (item 16): EXIF and density kept and
// scaled, WebP and TIFF outputs with the same pixels as PNG, stdin and
// stdout.
func TestUpscaleMetadataFormatsStdio(t *testing.T) {
	dir := t.TempDir()
	// A JPEG, stored 16x12, shown 12x16 (orientation 6), 300 dpi (JFIF), with EXIF.
	src := image.NewRGBA(image.Rect(0, 0, 16, 12))
	for i := range src.Pix {
		src.Pix[i] = byte(i * 13)
	}
	var jb bytes.Buffer
	jpeg.Encode(&jb, src, &jpeg.Options{Quality: 95})
	seg := func(marker byte, p []byte) []byte {
		l := len(p) + 2
		return append([]byte{0xff, marker, byte(l >> 8), byte(l)}, p...)
	}
	jfif := []byte("JFIF\x00\x01\x02\x01\x01\x2c\x01\x2c\x00\x00") // 300 x 300 dpi
	file := append([]byte{0xff, 0xd8}, seg(0xe0, jfif)...)
	file = append(file, seg(0xe1, append([]byte("Exif\x00\x00"), exifBlob(6)...))...)
	file = append(file, jb.Bytes()[2:]...)
	in := filepath.Join(dir, "photo.jpg")
	os.WriteFile(in, file, 0o644)

	for _, out := range []string{"o.png", "o.jpg", "o.webp", "o.tif"} {
		t.Run(out, func(t *testing.T) {
			p := filepath.Join(dir, out)
			if code, _, stderr := runCmd(t, "upscale", "-weights", tinyX2, in, p); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got, err := imageio.ReadFile(p, imageio.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.W != 24 || got.H != 32 || got.Orientation != 1 {
				t.Fatalf("%dx%d orientation %d, want 24x32 upright (turned once)", got.W, got.H, got.Orientation)
			}
			if got.XDPI < 599.5 || got.XDPI > 600.5 || got.YDPI < 599.5 || got.YDPI > 600.5 {
				t.Errorf("density %v x %v, want 600 (300 scaled x2)", got.XDPI, got.YDPI)
			}
			if out != "o.tif" && !bytes.Contains(got.Exif, []byte("TestCam")) {
				t.Error("EXIF lost")
			}
		})
	}
	// Same pixels in PNG, WebP and TIFF.
	ref, _ := imageio.ReadFile(filepath.Join(dir, "o.png"), imageio.DecodeOptions{})
	for _, f := range []string{"o.webp", "o.tif"} {
		got, _ := imageio.ReadFile(filepath.Join(dir, f), imageio.DecodeOptions{})
		if got == nil || !equalPix(got.Pix, ref.Pix) {
			t.Errorf("%s: pixels differ from the PNG output", f)
		}
	}

	// stdin and stdout: the same bytes as the file form.
	png, _ := os.ReadFile(filepath.Join(dir, "o.png"))
	stdin = onlyReader{bytes.NewReader(file)}
	defer func() { stdin = os.Stdin }()
	var o, e bytes.Buffer
	if err := upscaleMain(context.Background(), []string{"-weights", tinyX2, "-", "-"}, &o, &e); err != nil {
		t.Fatalf("- -: %v: %s", err, e.String())
	}
	if !bytes.Equal(o.Bytes(), png) {
		t.Error("stdin to stdout differs from the file form")
	}
	if !strings.Contains(e.String(), "stdin") || !strings.Contains(e.String(), "stdout") {
		t.Errorf("stderr %q does not name stdin and stdout", e.String())
	}
	stdin = onlyReader{bytes.NewReader(file)}
	o.Reset()
	if err := upscaleMain(context.Background(), []string{"-weights", tinyX2, "-format", "webp", "-", "-"}, &o, &e); err != nil || !bytes.HasPrefix(o.Bytes(), []byte("RIFF")) {
		t.Errorf("-format webp - -: %v, %.12q", err, o.Bytes())
	}
	// Stdin keeps the limits: a bomb's header is refused.
	bomb := filepath.Join(dir, "bomb.png")
	writeBomb(t, bomb)
	raw, _ := os.ReadFile(bomb)
	stdin = onlyReader{bytes.NewReader(raw)}
	err := upscaleMain(context.Background(), []string{"-weights", tinyX2, "-", filepath.Join(dir, "b.png")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "too large") || !strings.Contains(err.Error(), "stdin") {
		t.Errorf("bomb on stdin: %v", err)
	}
	if code, _, _ := runCmd(t, "upscale", "-weights", tinyX2, "-o", dir, "-"); code != 2 {
		t.Errorf("- with -o: exit %d, want 2", code)
	}
}

// onlyReader hides Seek and ReadAt, as a pipe.
type onlyReader struct{ r io.Reader }

func (r onlyReader) Read(p []byte) (int, error) { return r.r.Read(p) }

func equalPix(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
