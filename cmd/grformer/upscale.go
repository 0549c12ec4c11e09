package main

import (
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
that ship with grformer (light x2, trained by this project; see package
weights for what they score).

Inputs: PNG (8/16-bit, gray, gray+alpha, palette, RGBA), JPEG (the EXIF
orientation is applied), WebP, BMP and TIFF, recognised by content. An INPUT
may be a folder: the image files directly in it (.png .jpg .jpeg .jpe .webp
.bmp .tif .tiff, any case; not sub-folders, not hidden files) are upscaled in
name order. The image size is checked from the header before decoding
(-max-pixels), so a decompression bomb is refused without allocating.

Outputs: PNG or JPEG. A 16-bit input gives a 16-bit PNG, a gray input a gray
image, alpha is kept (upscaled by the model, or bicubic with -alpha bicubic;
a JPEG output is composited over white), and so is an ICC profile. In the IN
OUT form, OUT's extension chooses the format and an existing OUT is replaced.
With -o, INPUT dir/NAME.EXT gives OUTDIR/NAME<suffix>.EXT (EXT: -format if
given, else the input's for PNG and JPEG inputs, else .png; OUTDIR is created
if needed) and outputs that exist already are skipped unless -overwrite.

Large images are processed in overlapping tiles blended smoothly; by default
the tile size follows -max-memory, and an image that fits in one tile is
processed whole. The result is encoded as its rows are done, so only a band
of it is held (all of it with -outscale or -tta).

Outputs are written to a temporary file and renamed into place, so a failed
or interrupted (Ctrl-C) run leaves no partial file. A file that cannot be
read or upscaled is reported and the others are still processed; the exit
status is 1 if any failed or the run was interrupted, 2 for bad flags.
Progress goes to stderr: a progress bar on a terminal, log lines otherwise.

Example:
  grformer upscale photo.png photo_x2.png
  grformer upscale -weights GRFormer_x4.pth photo.png photo_x4.png
  grformer upscale -weights GRFormer_x4.pth -o out/ holiday/ extra.jpg
      (out/IMG_001_x4.jpg, ..., out/extra_x4.jpg; run it again to resume)
  grformer upscale -weights GRFormer_x2.pth -tta -alpha bicubic logo.png logo2.png
  grformer upscale -weights GRFormer_x4.pth -outscale 3 -format jpeg -quality 95 -o out/ scan.tiff
  grformer upscale -weights GRFormer_x4.pth -max-memory 512MiB -threads 4 big.png big_x4.png`

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
	fs := newFlagSet("upscale", upscaleHelp, stderr)
	fs.StringVar(&c.weights, "weights", "", "weights `file`: BasicSR .pth or .safetensors (default: the weights that ship\nwith grformer, light x2 only so far)")
	fs.StringVar(&c.outDir, "o", "", "output `folder` for the -o form; the inputs are files or folders")
	fs.StringVar(&c.suffix, "suffix", "_x{scale}", "added to each output `name` with -o; {scale} is the model's scale or the -outscale factor\n(\"\" keeps the names)")
	fs.StringVar(&c.format, "format", "", "output `format` with -o: png or jpeg (default: the input's for PNG/JPEG inputs, else png)")
	fs.IntVar(&c.quality, "quality", imageio.DefaultJPEGQuality, "JPEG `quality` of JPEG outputs, 1-100")
	fs.BoolVar(&c.overwrite, "overwrite", false, "with -o, replace outputs that exist (default: skip them)")
	fs.IntVar(&c.scale, "scale", 0, "expected model `scale`; an error if the weights have another (0: the weights' scale)")
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
		return fmt.Errorf("-quality %d out of range 1-100", c.quality)
	case c.opt.TileOverlap < grformer.NoTileOverlap:
		return fmt.Errorf("-tile-overlap %d: want a context in pixels, 0 for the default or -1 for none", c.opt.TileOverlap)
	case c.opt.BorderContext < grformer.NoBorderContext:
		return fmt.Errorf("-border-context %d: want a context in pixels, 0 for the default or -1 for none", c.opt.BorderContext)
	case c.opt.Tile < 0:
		return fmt.Errorf("-tile %d is negative (0 chooses it from -max-memory)", c.opt.Tile)
	case c.outscale < 0 || math.IsNaN(c.outscale) || math.IsInf(c.outscale, 0):
		return fmt.Errorf("-outscale %v: want a positive factor", c.outscale)
	case c.maxMemory <= 0:
		return fmt.Errorf("-max-memory must be positive")
	}
	if c.format != "" {
		f, err := outFormat(c.format)
		if err != nil {
			return err
		}
		c.format = f
	}

	var jobs []job
	single := c.outDir == ""
	if single {
		if fs.NArg() != 2 {
			fs.Usage()
			return fmt.Errorf("need an input and an output path, or -o OUTDIR and inputs; got %d arguments", fs.NArg())
		}
		in, out := fs.Arg(0), fs.Arg(1)
		f, err := imageio.FormatFromExt(out)
		if err != nil {
			return fmt.Errorf("output %s: %v", out, err)
		}
		if c.format != "" && c.format != f {
			return fmt.Errorf("-format %s, but output %s is %s by its extension", c.format, out, f)
		}
		jobs = []job{{in: in, out: out, format: f}}
		atomicfile.CleanStale(filepath.Dir(out)) // temporary files of a killed run
	} else if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no inputs given")
	}

	var m *grformer.Model
	var err error
	if c.weights == "" {
		// The shipped weights: x2 unless -scale asks for another.
		scale := c.scale
		if scale == 0 {
			scale = 2
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
		img, res, err := upscaleOne(ctx, m, &c, jobs[0], rep)
		rep.clear()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted; %s not written", jobs[0].out)
			}
			return err
		}
		fmt.Fprintf(stderr, "%s (%dx%d) -> %s (%dx%d, x%d)\n", jobs[0].in, img.W, img.H, jobs[0].out, res.W, res.H, m.Scale())
		return nil
	}

	if err := os.MkdirAll(c.outDir, 0o777); err != nil {
		return err
	}
	atomicfile.CleanStale(c.outDir) // temporary files of a killed run
	scaleText := strconv.Itoa(m.Scale())
	if c.outscale > 0 {
		scaleText = strconv.FormatFloat(c.outscale, 'g', -1, 64)
	}
	jobs, bad := planJobs(fs.Args(), c.outDir, strings.ReplaceAll(c.suffix, "{scale}", scaleText), c.format)
	rep.images = len(jobs) + len(bad)
	failed := len(bad)
	for _, b := range bad {
		rep.line("FAILED %v", b)
	}
	if rep.images == 0 {
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
		t0 := time.Now()
		img, res, err := upscaleOne(ctx, m, &c, j, rep)
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
	fmt.Fprintf(stderr, "%d upscaled, %d skipped (exist), %d failed", done, skipped, failed)
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
	in, out string
	format  string
	err     error // a problem found while planning
}

// imageExts are the extensions a folder's files are picked by.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".jpe": true,
	".webp": true, ".bmp": true, ".tif": true, ".tiff": true}

// planJobs expands the inputs (files, and folders one level deep) into
// jobs. Inputs that do not exist come back as errors; outputs that would
// overwrite an input or another job's output get a job error.
func planJobs(inputs []string, outDir, suffix, format string) ([]job, []error) {
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
			if strings.HasPrefix(n, ".") || !imageExts[strings.ToLower(filepath.Ext(n))] {
				continue
			}
			if e.IsDir() {
				continue
			}
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			jobs = append(jobs, newJob(filepath.Join(in, n), outDir, suffix, format))
		}
	}
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
	return jobs, bad
}

// newJob names the output of one input: OUTDIR/NAME+suffix+.EXT.
func newJob(in, outDir, suffix, format string) job {
	base := filepath.Base(in)
	ext := filepath.Ext(base)
	name := strings.TrimSuffix(base, ext)
	inFormat, err := imageio.FormatFromExt(in)
	if err != nil {
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
		outExt = map[string]string{"png": ".png", "jpeg": ".jpg"}[f]
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

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// outFormat normalises a -format value.
func outFormat(f string) (string, error) {
	switch strings.ToLower(f) {
	case "png":
		return "png", nil
	case "jpeg", "jpg":
		return "jpeg", nil
	}
	return "", fmt.Errorf("-format %q: want png or jpeg", f)
}

// upscaleOne reads, upscales, optionally resizes and writes one image.
// Errors name the input. Without a resize the result is written as it is
// computed (grformer.UpscaleRows into imageio.WriteFileRows): out then
// describes the output (size, layout) but holds no pixels.
func upscaleOne(ctx context.Context, m *grformer.Model, c *upscaleConfig, j job, rep *reporter) (in, out *imageio.Image, err error) {
	img, err := imageio.ReadFile(j.in, imageio.DecodeOptions{MaxPixels: c.maxPixels})
	if err != nil {
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
			j.in, grformer.ErrMemoryBudget, (int64(c.maxMemory)-opt.MaxMemory)>>20, c.maxMemory)
	}
	named := func(err error) error {
		if errors.Is(err, grformer.ErrMemoryBudget) {
			err = fmt.Errorf("%w (raise -max-memory, now %v)", err, c.maxMemory)
		}
		return fmt.Errorf("%s: %w", j.in, err)
	}
	encOpt := imageio.EncodeOptions{Format: j.format, Quality: c.quality}
	if ow == img.W*s && oh == img.H*s {
		res := &imageio.Image{W: ow, H: oh, Gray: img.Gray, Depth: img.Depth, ICC: img.ICC}
		hdr := img.Header()
		hdr.W, hdr.H = ow, oh
		err := imageio.WriteFileRows(j.out, hdr, encOpt, func(e *imageio.Encoder) error {
			var werr error
			err := m.UpscaleRows(ctx, img, opt, func(_ int, band *imageio.Image) error {
				werr = e.WriteRows(band)
				return werr
			})
			if err != nil && err != werr {
				err = named(err)
			}
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		return img, res, nil
	}
	res, err := m.UpscaleImage(ctx, img, opt)
	if err != nil {
		return nil, nil, named(err)
	}
	if res, err = grformer.Resize(res, ow, oh); err != nil {
		return nil, nil, named(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := imageio.WriteFile(j.out, res, encOpt); err != nil {
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
