package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/internal/atomicfile"
)

func init() {
	register("upscale", "upscale images with GRFormer weights", runUpscale)
}

const upscaleHelp = `Usage:
  grformer upscale [-weights FILE] [flags] IN OUT
  grformer upscale [-weights FILE] [flags] -o OUTDIR INPUT...

Upscales images by the scale the weights were trained for (x2, x3 or x4);
-outscale gives any other final size. Without -weights it uses the weights
that ship with grformer for -scale (default 4; x2, x3 and x4 ship, trained by
this project: "grformer info" lists them with their scores).

The image's edges get 8 pixels of reflected context before the model runs
(-border-context), cropped off after: the model's zero padding then never
touches the image, which keeps flat areas at the edges flat. With
-border-context -1 the output is exactly the reference's forward pass.

Inputs: PNG (8/16-bit, gray, gray+alpha, palette, RGBA), JPEG, WebP, BMP
and TIFF, recognised by content; the EXIF orientation (JPEG, PNG, WebP) or
TIFF orientation is applied. An INPUT may be a folder: the image files
directly in it (.png .jpg .jpeg .jpe .webp .bmp .tif .tiff, any case; not
sub-folders, not hidden files) are upscaled in name order. The image size is
checked from the header before decoding (-max-pixels), so a decompression
bomb is refused without allocating. IN may be - for stdin, read within the
same limits (and at most 8 bytes a pixel of -max-pixels).

Outputs: PNG, JPEG, WebP (lossless, 8-bit) or TIFF. A 16-bit input gives a
16-bit PNG or TIFF, a gray input a gray image (but in WebP), alpha is kept
(upscaled by the model, or bicubic with -alpha bicubic; a JPEG output is
composited over white). So are the ICC profile (not in TIFF), the EXIF data
(PNG, JPEG, WebP; its orientation set to 1, as the pixels are turned) and
the density in dots per inch, scaled with the size so that the print size
stays the same (PNG pHYs, JPEG JFIF and EXIF, TIFF).

In the IN OUT form, OUT's extension chooses the format (or -format, which
must agree with it), an existing OUT is replaced, and OUT may not be IN
(nor a link to it). OUT may be - for stdout, in the -format given (default
PNG); stdout is written as the image is encoded, not atomically, and is
refused when it is a terminal.

With -o, INPUT dir/NAME.EXT gives OUTDIR/NAME<suffix>.EXT (EXT: -format's
if given, else the input's for PNG and JPEG inputs, else .png; OUTDIR is
created if needed) and outputs that exist already are skipped
unless -overwrite. Outputs of an earlier run are recognised and skipped as
inputs: in OUTDIR itself (-o into the input folder), an image file
NAME<suffix>.EXT beside an image file NAME.* (photo_x2.png beside
photo.jpg, with any extensions) is taken for an output and not upscaled
again; this needs a -suffix that is not empty.

Before the model runs, the output is checked: its folder must exist (or,
with -o, be created) and accept a new file, and the format must be known;
so a bad output path costs nothing.

Large images are processed in overlapping tiles blended smoothly; by default
the tile size follows -max-memory, and an image that fits in one tile is
processed whole. The result is encoded as its rows are done, so only a band
of it is held (all of it with -outscale or -tta, or in WebP or TIFF).

Outputs are written to a temporary file and renamed into place, so a failed
or interrupted (Ctrl-C) run leaves no partial file. A file that cannot be
read or upscaled is reported and the others are still processed; the exit
status is 1 if any failed or the run was interrupted, 2 for bad flags or
arguments. Flags may come before or after the file names; -- ends them.
Progress goes to stderr: a progress bar on a terminal, log lines otherwise.

Example:
  grformer upscale photo.png photo_x2.png
  grformer upscale -weights GRFormer_x4.pth photo.png photo_x4.png
  grformer upscale -weights GRFormer_x4.pth -o out/ holiday/ extra.jpg
      (out/IMG_001_x4.jpg, ..., out/extra_x4.jpg; run it again to resume)
  grformer upscale -weights GRFormer_x2.pth -tta -alpha bicubic logo.png logo2.png
  grformer upscale -weights GRFormer_x4.pth -outscale 3 -format jpeg -quality 95 -o out/ scan.tiff
  grformer upscale -weights GRFormer_x4.pth -max-memory 512MiB -threads 4 big.png big_x4.png
  grformer upscale photo.jpg photo_x2.webp -tta
  cat photo.jpg | grformer upscale -format jpeg - - > photo_x2.jpg`

// upscaleConfig is what the flags say.
type upscaleConfig struct {
	weights   string
	outDir    string
	suffix    string
	format    string
	quality   int
	overwrite bool
	scale     int
	outscale  float64
	maxPixels int64
	maxMemory byteSize
	opt       grformer.Options
}

func runUpscale(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C, a second one kills at once.
		<-ctx.Done()
		stop()
	}()
	return upscaleMain(ctx, args, stdout, stderr)
}

// upscaleMain is the upscale command with its context, for tests.
func upscaleMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c upscaleConfig
	c.maxMemory = grformer.DefaultMaxMemory
	fs := newFlagSet("upscale", upscaleHelp, stdout, stderr)
	fs.StringVar(&c.weights, "weights", "", "weights `file`: BasicSR .pth or .safetensors (default: the weights that ship\nwith grformer, light x2 only so far)")
	fs.StringVar(&c.outDir, "o", "", "output `folder` for the -o form; the inputs are files or folders")
	fs.StringVar(&c.suffix, "suffix", "_x{scale}", "added to each output `name` with -o; {scale} is the model's scale or the -outscale factor\n(\"\" keeps the names)")
	fs.StringVar(&c.format, "format", "", "output `format`: png, jpeg, webp or tiff (with -o, default: the input's for PNG/JPEG\ninputs, else png; with OUT -, default png; otherwise OUT's extension, which it must agree with)")
	fs.IntVar(&c.quality, "quality", imageio.DefaultJPEGQuality, "JPEG `quality` of JPEG outputs, 1-100")
	fs.BoolVar(&c.overwrite, "overwrite", false, "with -o, replace outputs that exist (default: skip them)")
	fs.IntVar(&c.scale, "scale", 0, "model `scale`: which shipped weights without -weights (0: 4), else an error if the weights have another")
	fs.Float64Var(&c.outscale, "outscale", 0, "final size `factor` relative to the input (e.g. 1.5 or 3), when it differs from the model's\nscale: the model's output is resized by MATLAB's bicubic with antialiasing (imresize), in float64,\nalpha premultiplied; the size is round(factor*input) (0: the model's scale, no resize)")
	fs.IntVar(&c.opt.Tile, "tile", 0, "tile side in input `pixels`, rounded up to a multiple of the model's window (0: chosen from -max-memory,\nthe whole image when it fits); 128 or more, with the default overlap, stays within 1/255 of untiled")
	fs.IntVar(&c.opt.TileOverlap, "tile-overlap", 0, "context in input `pixels` that each tile has beyond the part it contributes, raised to at least\nthe model's window side (0: the default, 32; -1: none, seams show)")
	fs.Var(&c.maxMemory, "max-memory", "memory `budget`, e.g. 2GiB, 512MiB, 1.5GB: sets the tile size and the Go memory limit; an image whose\nresult does not fit fails before the model runs")
	fs.BoolVar(&c.opt.TTA, "tta", false, "self-ensemble: average the 8 flips/rotations (8x the time, a little sharper)")
	fs.IntVar(&c.opt.BorderContext, "border-context", 0, "reflected context in input `pixels` given to the image's edges and cropped off, so that\nthe model's zero padding never touches the image (0: the default, 8; -1: none, the reference's plain forward pass)")
	c.opt.Alpha = grformer.AlphaModel
	fs.Func("alpha", "how alpha is upscaled: `model` (the default: as a gray image, sharp) or bicubic (MATLAB's, cheaper)", func(v string) error {
		a, err := grformer.ParseAlphaMode(v)
		c.opt.Alpha = a
		return err
	})
	fs.Int64Var(&c.maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse inputs with more `pixels` than this (checked before decoding)")
	fs.IntVar(&c.opt.Threads, "threads", 0, "goroutines to use (0: all cores)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case c.quality < 1 || c.quality > 100:
		return usagef("-quality %d out of range 1-100", c.quality)
	case c.opt.TileOverlap < grformer.NoTileOverlap:
		return usagef("-tile-overlap %d: want a context in pixels, 0 for the default or -1 for none", c.opt.TileOverlap)
	case c.opt.BorderContext < grformer.NoBorderContext:
		return usagef("-border-context %d: want a context in pixels, 0 for the default or -1 for none", c.opt.BorderContext)
	case c.opt.Tile < 0:
		return usagef("-tile %d is negative (0 chooses it from -max-memory)", c.opt.Tile)
	case c.outscale < 0 || math.IsNaN(c.outscale) || math.IsInf(c.outscale, 0):
		return usagef("-outscale %v: want a positive factor", c.outscale)
	case c.maxMemory <= 0:
		return usagef("-max-memory must be positive")
	case c.opt.Threads < 0:
		return usagef("-threads %d is negative (0: all cores)", c.opt.Threads)
	case c.maxPixels <= 0:
		return usagef("-max-pixels %d: want a positive number of pixels", c.maxPixels)
	}
	if c.format != "" {
		f, err := imageio.ParseFormat(c.format)
		if err != nil {
			return usagef("-format: %v", err)
		}
		c.format = f
	}

	// Everything about the outputs is checked before the model is loaded
	// and run: a bad output costs nothing.
	var jobs []job
	single := c.outDir == ""
	if single {
		if fs.NArg() != 2 {
			fs.Usage()
			return usagef("need an input and an output path, or -o OUTDIR and inputs; got %d arguments", fs.NArg())
		}
		j, err := singleJob(fs.Arg(0), fs.Arg(1), c.format, stdout)
		if err != nil {
			return err
		}
		jobs = []job{j}
	} else {
		if fs.NArg() == 0 {
			fs.Usage()
			return usagef("no inputs given")
		}
		for _, in := range fs.Args() {
			if in == "-" {
				return usagef("- (stdin) is an input of the IN OUT form only, not of -o")
			}
		}
		if err := os.MkdirAll(c.outDir, 0o777); err != nil {
			return err
		}
		atomicfile.CleanStale(c.outDir) // temporary files of a killed run
		if err := atomicfile.Check(filepath.Join(c.outDir, "grformer-check")); err != nil {
			return fmt.Errorf("output folder %s: %w", c.outDir, err)
		}
	}

	var m *grformer.Model
	var err error
	if c.weights == "" {
		// The shipped weights: x4 (as other upscalers), or -scale.
		scale := c.scale
		if scale == 0 {
			scale = 4
		}
		c.weights = fmt.Sprintf("the shipped x%d weights", scale)
		m, err = grformer.LoadDefault(scale)
	} else {
		m, err = grformer.Load(c.weights)
	}
	if err != nil {
		return err
	}
	if c.scale != 0 && c.scale != m.Scale() {
		return fmt.Errorf("-scale %d, but %s is a x%d model: GRFormer upscales only by the scale it was trained for (use -outscale for other sizes)", c.scale, c.weights, m.Scale())
	}
	// The Go memory limit makes the garbage collector keep the heap within
	// the budget; it leaves a sixteenth for what is not heap (the program,
	// stacks, the runtime's own structures).
	old := debug.SetMemoryLimit(int64(c.maxMemory) - int64(c.maxMemory)/16)
	defer debug.SetMemoryLimit(old)

	rep := newReporter(stderr)
	if single {
		j := jobs[0]
		rep.begin(0, j.label())
		img, res, err := upscaleOne(ctx, m, &c, j, rep, stdout)
		rep.clear()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted; %s not written", j.outLabel())
			}
			return err
		}
		fmt.Fprintf(stderr, "%s (%dx%d) -> %s (%dx%d, x%d)\n", j.label(), img.W, img.H, j.outLabel(), res.W, res.H, m.Scale())
		return nil
	}

	scaleText := strconv.Itoa(m.Scale())
	if c.outscale > 0 {
		scaleText = strconv.FormatFloat(c.outscale, 'g', -1, 64)
	}
	jobs, bad, outputs := planJobs(fs.Args(), c.outDir, strings.ReplaceAll(c.suffix, "{scale}", scaleText), c.format)
	rep.images = len(jobs) + len(bad)
	failed := len(bad)
	for _, b := range bad {
		rep.line("FAILED %v", b)
	}
	for _, o := range outputs {
		rep.line("skipped %s: the output of %s (this run's naming, in the output folder)", o.in, o.of)
	}
	if rep.images == 0 {
		if len(outputs) > 0 {
			fmt.Fprintf(stderr, "0 upscaled, %d skipped (outputs of a run), 0 failed\n", len(outputs))
			return nil
		}
		return errors.New("no images found in the inputs")
	}
	done, skipped := 0, 0
	for i, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		rep.begin(len(bad)+i, j.in)
		tag := fmt.Sprintf("[%d/%d] ", len(bad)+i+1, rep.images)
		if j.err != nil {
			failed++
			rep.line("%sFAILED %s: %v", tag, j.in, j.err)
			continue
		}
		if !c.overwrite {
			if _, err := os.Lstat(j.out); err == nil {
				skipped++
				rep.line("%sskipped %s: %s exists (-overwrite replaces it)", tag, j.in, j.out)
				continue
			}
		}
		if err := atomicfile.Check(j.out); err != nil { // before the model runs
			failed++
			rep.line("%sFAILED %s: %v", tag, j.in, err)
			continue
		}
		t0 := time.Now()
		img, res, err := upscaleOne(ctx, m, &c, j, rep, stdout)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failed++
			rep.line("%sFAILED %v", tag, err)
			continue
		}
		done++
		rep.line("%s%s (%dx%d) -> %s (%dx%d) in %.1fs", tag, j.in, img.W, img.H, j.out, res.W, res.H, time.Since(t0).Seconds())
	}
	rep.clear()
	left := rep.images - done - skipped - failed
	fmt.Fprintf(stderr, "%d upscaled, %d skipped (exist)", done, skipped)
	if len(outputs) > 0 {
		fmt.Fprintf(stderr, ", %d skipped (outputs of a run)", len(outputs))
	}
	fmt.Fprintf(stderr, ", %d failed", failed)
	if left > 0 {
		fmt.Fprintf(stderr, ", %d not done", left)
	}
	fmt.Fprintln(stderr)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted; %d images not done, no partial files written", left)
	case failed > 0:
		return fmt.Errorf("%d of %d images failed", failed, rep.images)
	}
	return nil
}

// job is one input and where its output goes.
type job struct {
	in, out string // "-": stdin, stdout
	format  string
	err     error // a problem found while planning
}

// label and outLabel name the input and output in messages.
func (j job) label() string    { return stdName(j.in, "stdin") }
func (j job) outLabel() string { return stdName(j.out, "stdout") }

func stdName(p, std string) string {
	if p == "-" {
		return std
	}
	return p
}

// singleJob checks the IN OUT form's paths: the format, that OUT is not
// IN, and that OUT can be written (its folder exists and takes a new
// file; stdout is not a terminal).
func singleJob(in, out, format string, stdout io.Writer) (job, error) {
	f := format
	if out == "-" {
		if f == "" {
			f = "png"
		}
		if isTerminal(stdout) {
			return job{}, usagef("output - is a terminal: redirect stdout to a file or a pipe")
		}
		return job{in: in, out: out, format: f}, nil
	}
	f, err := imageio.FormatFromExt(out)
	if err != nil {
		return job{}, usagef("output %s: %v", out, err)
	}
	if format != "" && format != f {
		return job{}, usagef("-format %s, but output %s is %s by its extension", format, out, f)
	}
	if in != "-" && (absPath(in) == absPath(out) || sameFile(in, out)) {
		return job{}, fmt.Errorf("output %s is the input %s: it would be replaced (choose another output name)", out, in)
	}
	atomicfile.CleanStale(filepath.Dir(out)) // temporary files of a killed run
	if err := atomicfile.Check(out); err != nil {
		return job{}, fmt.Errorf("output: %w", err)
	}
	return job{in: in, out: out, format: f}, nil
}

// imageExts are the extensions a folder's files are picked by.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".jpe": true,
	".webp": true, ".bmp": true, ".tif": true, ".tiff": true}

// anOutput is an input recognised as the output of another image.
type anOutput struct{ in, of string }

// planJobs expands the inputs (files, and folders one level deep) into
// jobs. Inputs that do not exist come back as errors; outputs that would
// overwrite an input or another job's output get a job error. Inputs that
// are outputs of an earlier run (see outputsIn) are left out and listed.
func planJobs(inputs []string, outDir, suffix, format string) ([]job, []error, []anOutput) {
	var jobs []job
	var bad []error
	for _, in := range inputs {
		fi, err := os.Stat(in)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		if !fi.IsDir() {
			jobs = append(jobs, newJob(in, outDir, suffix, format))
			continue
		}
		entries, err := os.ReadDir(in)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		var names []string
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || !isImageName(n) {
				continue
			}
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			jobs = append(jobs, newJob(filepath.Join(in, n), outDir, suffix, format))
		}
	}
	// Outputs of a run in the output folder are not inputs.
	producer := outputsIn(outDir, suffix)
	var outputs []anOutput
	kept := jobs[:0]
	for _, j := range jobs {
		base := filepath.Base(j.in)
		if of, ok := producer[strings.TrimSuffix(base, filepath.Ext(base))]; ok && sameFile(filepath.Dir(j.in), outDir) {
			outputs = append(outputs, anOutput{j.in, filepath.Join(filepath.Dir(j.in), of)})
			continue
		}
		kept = append(kept, j)
	}
	jobs = kept
	// Two inputs to one output, or an output onto an input: refuse.
	inputs2 := map[string]bool{}
	for _, j := range jobs {
		inputs2[absPath(j.in)] = true
	}
	owner := map[string]string{}
	for i := range jobs {
		j := &jobs[i]
		o := absPath(j.out)
		switch {
		case inputs2[o] || sameFile(j.in, j.out):
			j.err = fmt.Errorf("output %s would overwrite an input (choose another -o or -suffix)", j.out)
		case owner[o] != "":
			j.err = fmt.Errorf("output %s is also the output of %s (two inputs with one name)", j.out, owner[o])
		default:
			owner[o] = j.in
		}
	}
	return jobs, bad, outputs
}

func isImageName(n string) bool {
	return !strings.HasPrefix(n, ".") && imageExts[strings.ToLower(filepath.Ext(n))]
}

// outputsIn maps the names (without extension) that this run's outputs
// have, or an earlier run's with another -format had, in dir for the image
// files in dir itself to those images' names: a file NAME<suffix>.EXT
// beside an image NAME.* is an output of a run into the input folder ("-o
// ." twice), not an image to upscale again. Empty when suffix is "":
// outputs then have their inputs' names, and cannot be told from them.
func outputsIn(dir, suffix string) map[string]string {
	m := map[string]string{}
	if suffix == "" {
		return m
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return m
	}
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && isImageName(n) {
			out := strings.TrimSuffix(n, filepath.Ext(n)) + suffix
			if _, taken := m[out]; !taken {
				m[out] = n
			}
		}
	}
	return m
}

// newJob names the output of one input: OUTDIR/NAME+suffix+.EXT.
func newJob(in, outDir, suffix, format string) job {
	base := filepath.Base(in)
	ext := filepath.Ext(base)
	name := strings.TrimSuffix(base, ext)
	// The input's format is kept for PNG and JPEG; other inputs give PNG
	// (a lossy WebP would grow as lossless, a TIFF lose its ICC profile).
	inFormat, err := imageio.FormatFromExt(in)
	if err != nil || (inFormat != "png" && inFormat != "jpeg") {
		inFormat = ""
	}
	f := format
	if f == "" {
		f = inFormat
		if f == "" {
			f = "png"
		}
	}
	outExt := ext
	if f != inFormat {
		outExt = imageio.FormatExt(f)
	}
	return job{in: in, out: filepath.Join(outDir, name+suffix+outExt), format: f}
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}

// sameFile reports whether a and b are one file (through links too).
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// stdin is what input - reads; tests replace it.
var stdin io.Reader = os.Stdin

// beforeModel, when set (by tests), is called with the input just before
// the model runs on it.
var beforeModel func(in string)

// upscaleOne reads, upscales, optionally resizes and writes one image,
// with the input's metadata (density scaled). Errors name the input or the
// output. Without a resize, a PNG or JPEG result is written as it is
// computed (grformer.UpscaleRows into an imageio.Encoder, through
// imageio.WriteFileRows for a file): out then describes the output (size,
// layout, metadata) but holds no pixels. WebP and TIFF encoders take the
// whole image, so those results are made whole (UpscaleImage), within the
// memory budget.
func upscaleOne(ctx context.Context, m *grformer.Model, c *upscaleConfig, j job, rep *reporter, stdout io.Writer) (in, out *imageio.Image, err error) {
	dopt := imageio.DecodeOptions{MaxPixels: c.maxPixels}
	var img *imageio.Image
	if j.in == "-" {
		if img, err = imageio.Decode(stdin, dopt); err != nil {
			return nil, nil, fmt.Errorf("stdin: %w", err)
		}
	} else if img, err = imageio.ReadFile(j.in, dopt); err != nil {
		return nil, nil, err
	}
	s := m.Scale()
	ow, oh := img.W*s, img.H*s
	if c.outscale > 0 && c.outscale != float64(s) {
		ow, oh = max(1, int(math.Round(c.outscale*float64(img.W)))), max(1, int(math.Round(c.outscale*float64(img.H))))
	}
	opt := c.opt
	opt.Progress = rep.tiles
	opt.MaxMemory = int64(c.maxMemory) - grformer.ExtraMemory(img, s, ow, oh, j.format)
	if opt.MaxMemory <= 0 {
		return nil, nil, fmt.Errorf("%s: %w: the input and output alone need about %d MiB, more than -max-memory %v",
			j.label(), grformer.ErrMemoryBudget, (int64(c.maxMemory)-opt.MaxMemory)>>20, c.maxMemory)
	}
	if beforeModel != nil {
		beforeModel(j.in)
	}
	named := func(err error) error {
		if errors.Is(err, grformer.ErrMemoryBudget) {
			err = fmt.Errorf("%w (raise -max-memory, now %v)", err, c.maxMemory)
		}
		return fmt.Errorf("%s: %w", j.label(), err)
	}
	eopt := imageio.EncodeOptions{Format: j.format, Quality: c.quality}
	if ow == img.W*s && oh == img.H*s && (j.format == "png" || j.format == "jpeg") {
		res := &imageio.Image{W: ow, H: oh, Gray: img.Gray, Depth: img.Depth, Orientation: 1}
		imageio.CopyMetadata(res, img)
		hdr := res.Header()
		hdr.Alpha = img.Alpha != nil
		// rows upscales into e; an error of e's (werr) comes back as it is.
		var werr error
		rows := func(e *imageio.Encoder) error {
			err := m.UpscaleRows(ctx, img, opt, func(_ int, band *imageio.Image) error {
				werr = e.WriteRows(band)
				return werr
			})
			if err != nil && err != werr {
				err = named(err)
			}
			return err
		}
		if j.out != "-" {
			if err := imageio.WriteFileRows(j.out, hdr, eopt, rows); err != nil {
				return nil, nil, err
			}
			return img, res, nil
		}
		// Not atomic: what is encoded goes out at once.
		w := bufio.NewWriterSize(stdout, 1<<20)
		e, err := imageio.NewEncoder(w, hdr, eopt)
		if err != nil {
			return nil, nil, fmt.Errorf("stdout: %w", err)
		}
		if err := rows(e); err != nil {
			if err == werr {
				err = fmt.Errorf("stdout: %w", err)
			}
			return nil, nil, err
		}
		if err := e.Close(); err != nil {
			return nil, nil, fmt.Errorf("stdout: %w", err)
		}
		if err := w.Flush(); err != nil {
			return nil, nil, fmt.Errorf("stdout: %w", err)
		}
		return img, res, nil
	}
	res, err := m.UpscaleImage(ctx, img, opt)
	if err != nil {
		return nil, nil, named(err)
	}
	if ow != res.W || oh != res.H {
		if res, err = grformer.Resize(res, ow, oh); err != nil {
			return nil, nil, named(err)
		}
	}
	imageio.CopyMetadata(res, img)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if j.out == "-" {
		// Not atomic: what is encoded goes out at once.
		w := bufio.NewWriterSize(stdout, 1<<20)
		if err := imageio.Encode(w, res, eopt); err != nil {
			return nil, nil, fmt.Errorf("stdout: %w", err)
		}
		if err := w.Flush(); err != nil {
			return nil, nil, fmt.Errorf("stdout: %w", err)
		}
	} else if err := imageio.WriteFile(j.out, res, eopt); err != nil {
		return nil, nil, err
	}
	return img, res, nil
}

// byteSize is a flag holding a number of bytes, written with a unit.
type byteSize int64

func (b *byteSize) String() string {
	v := int64(*b)
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.size && v%u.size == 0 {
			return fmt.Sprintf("%d%s", v/u.size, u.name)
		}
	}
	return strconv.FormatInt(v, 10)
}

func (b *byteSize) Set(s string) error {
	v, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

// parseBytes reads a size such as "2GiB", "512MB", "1.5g" or "1048576":
// KiB, MiB, GiB, TiB and the one-letter K, M, G, T are powers of 1024; KB,
// MB, GB, TB powers of 1000; B or no unit bytes. Case does not matter.
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, unit := strings.TrimSpace(t[:i]), strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]float64{"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
		"t": 1 << 40, "tib": 1 << 40, "tb": 1e12}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v < 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("size %q: want a number and a unit such as 2GiB, 512MiB, 1.5GB", s)
	}
	b := v * mult
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(b), nil
}

var _ flag.Value = (*byteSize)(nil)
