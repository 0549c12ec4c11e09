package eval

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // benchmark images may be JPEG
	"image/png"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/grformer/grformer/internal/atomicfile"

	"github.com/grformer/grformer/metrics"
	"github.com/grformer/grformer/resize"
)

// Method is a super-resolution method under evaluation.
type Method interface {
	// Name identifies the method in reports.
	Name() string
	// SuperResolve upscales lr by the integer factor scale. lr is the image
	// as decoded: *image.Gray for grayscale files, so a method that works on
	// RGB converts it. The result must be scale times the size of lr; it is
	// scored after rounding to 8 bits.
	SuperResolve(ctx context.Context, lr image.Image, scale int) (image.Image, error)
}

// Bicubic is the literature's baseline: MATLAB's imresize(lr, scale,
// 'bicubic') on 8-bit data (see resize.Upscale). Gray stays gray.
type Bicubic struct{}

// Name returns "bicubic".
func (Bicubic) Name() string { return "bicubic" }

// SuperResolve upscales lr with MATLAB-exact bicubic interpolation.
func (Bicubic) SuperResolve(ctx context.Context, lr image.Image, scale int) (image.Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return resize.Upscale(lr, scale)
}

// Func adapts a function to Method.
type Func struct {
	MethodName string
	F          func(ctx context.Context, lr image.Image, scale int) (image.Image, error)
}

// Name returns f.MethodName.
func (f Func) Name() string { return f.MethodName }

// SuperResolve calls f.F.
func (f Func) SuperResolve(ctx context.Context, lr image.Image, scale int) (image.Image, error) {
	return f.F(ctx, lr, scale)
}

// Config says what to evaluate.
type Config struct {
	// Dir holds one folder per set: Dir/<Set>/HR/*.png (PNG or JPEG), and
	// optionally Dir/<Set>/LR_bicubic/X<scale>/<name>x<scale>.png.
	Dir   string
	Sets  []string
	Scale int
	// CropBorder is the number of pixels removed from every border before
	// scoring. Negative means "equal to Scale" (the usual convention).
	CropBorder int
	// SaveDir, when not empty, receives the SR outputs as
	// SaveDir/<Set>/X<scale>/<name>.png (written atomically).
	SaveDir string
	// Progress, when not nil, is called after every image, scored or not.
	Progress func(Progress)
}

// Progress reports one finished image.
type Progress struct {
	Set          string
	Index, Total int // 1-based position of the image in its set, and set size
	Result       *ImageResult
}

// ImageResult is the outcome for one image.
type ImageResult struct {
	Set, Name   string // Name is the HR file name without extension
	HRPath      string
	LRPath      string // the LR file read; empty when LR was made from HR
	LRGenerated bool   // LR made from HR with resize.Downscale
	Width       int    // size of the scored HR image (cropped to a multiple of the scale)
	Height      int
	Score       metrics.Score // valid when Err is nil
	Err         error         // why the image could not be scored
	SavedPath   string        // where the SR output was saved
	SaveErr     error         // why saving failed (the image is still scored)
	Elapsed     time.Duration // time spent in the method
}

// Failed reports whether the image could not be scored or saved.
func (r *ImageResult) Failed() bool { return r.Err != nil || r.SaveErr != nil }

// SetResult gathers the results of one set.
type SetResult struct {
	Set        string
	Scale      int
	CropBorder int
	Images     []ImageResult // every image, in file-name order
	Scored     int           // images with a score
	PSNR, SSIM float64       // means over the scored images (NaN when none)
	Err        error         // set-level failure, e.g. no HR folder
}

// Report is the outcome of Run.
type Report struct {
	Method     string
	Scale      int
	CropBorder int
	Sets       []SetResult
}

// Failure is one problem found by Run: a set that could not be read (Name
// empty) or an image that could not be scored or saved.
type Failure struct {
	Set, Name string
	Scale     int
	Err       error
}

func (f Failure) Error() string {
	where := f.Set
	if f.Name != "" {
		where += "/" + f.Name
	}
	return fmt.Sprintf("%s (x%d): %v", where, f.Scale, f.Err)
}

func (f Failure) Unwrap() error { return f.Err }

// Failures lists every failure of the report, in order.
func (r *Report) Failures() []Failure {
	var out []Failure
	for i := range r.Sets {
		s := &r.Sets[i]
		if s.Err != nil {
			out = append(out, Failure{Set: s.Set, Scale: s.Scale, Err: s.Err})
		}
		for j := range s.Images {
			im := &s.Images[j]
			if im.Err != nil {
				out = append(out, Failure{Set: s.Set, Name: im.Name, Scale: s.Scale, Err: im.Err})
			}
			if im.SaveErr != nil {
				out = append(out, Failure{Set: s.Set, Name: im.Name, Scale: s.Scale, Err: im.SaveErr})
			}
		}
	}
	return out
}

// Err returns nil when nothing failed, otherwise an error that counts the
// failures and joins them (errors.Is/As see each one).
func (r *Report) Err() error {
	fs := r.Failures()
	if len(fs) == 0 {
		return nil
	}
	errs := make([]error, len(fs))
	for i, f := range fs {
		errs[i] = f
	}
	return &FailuresError{Failures: fs, joined: errors.Join(errs...)}
}

// FailuresError is returned by Report.Err.
type FailuresError struct {
	Failures []Failure
	joined   error
}

func (e *FailuresError) Error() string {
	n := len(e.Failures)
	if n == 1 {
		return "1 failure: " + e.Failures[0].Error()
	}
	return fmt.Sprintf("%d failures:\n%s", n, e.joined.Error())
}

// Unwrap returns the individual failures.
func (e *FailuresError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f
	}
	return errs
}

// imageExts are the HR file types Run picks up.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true}

// ListImages returns the image files (PNG or JPEG; hidden files skipped)
// of dir, sorted by name.
func ListImages(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !imageExts[strings.ToLower(filepath.Ext(n))] {
			continue
		}
		out = append(out, filepath.Join(dir, n))
	}
	sort.Strings(out)
	return out, nil
}

// ReadImage decodes a PNG or JPEG file.
func ReadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if b := img.Bounds(); b.Empty() {
		return nil, fmt.Errorf("decode %s: empty image", path)
	}
	return img, nil
}

// WritePNG writes img to path atomically: it is encoded into a temporary
// file in the same folder, which is then renamed over path.
func WritePNG(path string, img image.Image) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		if err := png.Encode(w, img); err != nil {
			return fmt.Errorf("encode %s: %w", path, err)
		}
		return nil
	})
}

// MakeLR makes the benchmark LR image of hr: hr cropped to a multiple of
// scale, then downscaled with MATLAB's bicubic imresize (resize.Downscale).
func MakeLR(hr image.Image, scale int) (image.Image, error) {
	c, err := metrics.ModCrop(hr, scale)
	if err != nil {
		return nil, err
	}
	return resize.Downscale(c, scale)
}

// ErrSizeMismatch is wrapped by the errors for an LR image whose size is not
// the HR size (cropped to a multiple of the scale) divided by the scale.
var ErrSizeMismatch = errors.New("HR/LR size mismatch")

// EvaluateImage super-resolves lr with m and scores the result against hr
// cropped to a multiple of scale, with cropBorder pixels removed from every
// side. When lr is nil it is made from hr with MakeLR. It returns the
// method's output too.
func EvaluateImage(ctx context.Context, m Method, hr, lr image.Image, scale, cropBorder int) (metrics.Score, image.Image, error) {
	if scale < 1 {
		return metrics.Score{}, nil, fmt.Errorf("invalid scale %d", scale)
	}
	hrc, err := metrics.ModCrop(hr, scale)
	if err != nil {
		return metrics.Score{}, nil, fmt.Errorf("HR: %w", err)
	}
	if lr == nil {
		if lr, err = resize.Downscale(hrc, scale); err != nil {
			return metrics.Score{}, nil, err
		}
	}
	hb, lb := hrc.Bounds(), lr.Bounds()
	if lb.Dx()*scale != hb.Dx() || lb.Dy()*scale != hb.Dy() {
		return metrics.Score{}, nil, fmt.Errorf("%w: LR is %dx%d, HR %dx%d (cropped to a multiple of %d) needs %dx%d",
			ErrSizeMismatch, lb.Dx(), lb.Dy(), hb.Dx(), hb.Dy(), scale, hb.Dx()/scale, hb.Dy()/scale)
	}
	sr, err := m.SuperResolve(ctx, lr, scale)
	if err != nil {
		return metrics.Score{}, nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	if sr == nil {
		return metrics.Score{}, nil, fmt.Errorf("%s returned no image", m.Name())
	}
	if sb := sr.Bounds(); sb.Dx() != hb.Dx() || sb.Dy() != hb.Dy() {
		return metrics.Score{}, sr, fmt.Errorf("%s returned %dx%d, want %dx%d", m.Name(), sb.Dx(), sb.Dy(), hb.Dx(), hb.Dy())
	}
	sc, err := metrics.Compare(hrc, sr, cropBorder)
	if err != nil {
		return metrics.Score{}, sr, err
	}
	return sc, sr, nil
}

// LRDir returns Dir/<set>/LR_bicubic/X<scale>.
func LRDir(dir, set string, scale int) string {
	return filepath.Join(dir, set, "LR_bicubic", fmt.Sprintf("X%d", scale))
}

// Run evaluates m on every set of cfg. Problems with a set or an image are
// recorded in the report (see Report.Failures) and the other images are
// still evaluated. The error is non-nil only for an invalid configuration
// or when ctx ends; the report then holds what was done.
func Run(ctx context.Context, m Method, cfg Config) (*Report, error) {
	if m == nil {
		return nil, errors.New("eval: no method")
	}
	if cfg.Scale < 1 {
		return nil, fmt.Errorf("eval: invalid scale %d", cfg.Scale)
	}
	if len(cfg.Sets) == 0 {
		return nil, errors.New("eval: no sets")
	}
	crop := cfg.CropBorder
	if crop < 0 {
		crop = cfg.Scale
	}
	rep := &Report{Method: m.Name(), Scale: cfg.Scale, CropBorder: crop}
	for _, set := range cfg.Sets {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Sets = append(rep.Sets, SetResult{Set: set, Scale: cfg.Scale, CropBorder: crop})
		sr := &rep.Sets[len(rep.Sets)-1]
		if err := runSet(ctx, m, cfg, crop, sr); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func runSet(ctx context.Context, m Method, cfg Config, crop int, res *SetResult) error {
	set := res.Set
	hrDir := filepath.Join(cfg.Dir, set, "HR")
	files, err := ListImages(hrDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("no HR folder %s", hrDir)
		}
		res.Err = err
		res.PSNR, res.SSIM = nan(), nan()
		return nil
	}
	if len(files) == 0 {
		res.Err = fmt.Errorf("no PNG or JPEG images in %s", hrDir)
		res.PSNR, res.SSIM = nan(), nan()
		return nil
	}
	lrDir := LRDir(cfg.Dir, set, cfg.Scale)
	haveLRDir := false
	if st, err := os.Stat(lrDir); err == nil && st.IsDir() {
		haveLRDir = true
	}
	saveDir := ""
	var saveDirErr error
	if cfg.SaveDir != "" {
		saveDir = filepath.Join(cfg.SaveDir, set, fmt.Sprintf("X%d", cfg.Scale))
		saveDirErr = os.MkdirAll(saveDir, 0o755)
	}
	res.Images = make([]ImageResult, len(files))
	var sumP, sumS float64
	for i, hrPath := range files {
		if err := ctx.Err(); err != nil {
			res.Images = res.Images[:i]
			finishSet(res, sumP, sumS)
			return err
		}
		base := filepath.Base(hrPath)
		ext := filepath.Ext(base)
		ir := &res.Images[i]
		*ir = ImageResult{Set: set, Name: strings.TrimSuffix(base, ext), HRPath: hrPath}
		var lrPath string
		if haveLRDir {
			lrPath = findLR(lrDir, ir.Name, ext, cfg.Scale)
		}
		sr := evalOne(ctx, m, cfg.Scale, crop, ir, lrPath)
		if ir.Err == nil {
			res.Scored++
			sumP += ir.Score.PSNR
			sumS += ir.Score.SSIM
		}
		if sr != nil && saveDir != "" {
			if saveDirErr != nil {
				ir.SaveErr = fmt.Errorf("save: %w", saveDirErr)
			} else {
				p := filepath.Join(saveDir, ir.Name+".png")
				if err := WritePNG(p, sr); err != nil {
					ir.SaveErr = fmt.Errorf("save: %w", err)
				} else {
					ir.SavedPath = p
				}
			}
		}
		if ctx.Err() != nil && ir.Err != nil {
			// Interrupted, not a failure of the image.
			res.Images = res.Images[:i]
			finishSet(res, sumP, sumS)
			return ctx.Err()
		}
		if cfg.Progress != nil {
			cfg.Progress(Progress{Set: set, Index: i + 1, Total: len(files), Result: ir})
		}
	}
	finishSet(res, sumP, sumS)
	return nil
}

func finishSet(res *SetResult, sumP, sumS float64) {
	if res.Scored == 0 {
		res.PSNR, res.SSIM = nan(), nan()
		return
	}
	res.PSNR = sumP / float64(res.Scored)
	res.SSIM = sumS / float64(res.Scored)
}

// findLR returns the LR file of the named image in lrDir, or "" when there
// is none: <name>x<scale><ext>, then <name>x<scale>.png.
func findLR(lrDir, name, ext string, scale int) string {
	for _, e := range []string{ext, ".png"} {
		p := filepath.Join(lrDir, fmt.Sprintf("%sx%d%s", name, scale, e))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// evalOne fills ir and returns the SR image (nil when there is none).
func evalOne(ctx context.Context, m Method, scale, crop int, ir *ImageResult, lrPath string) image.Image {
	hr, err := ReadImage(ir.HRPath)
	if err != nil {
		ir.Err = fmt.Errorf("HR: %w", err)
		return nil
	}
	hrc, err := metrics.ModCrop(hr, scale)
	if err != nil {
		ir.Err = fmt.Errorf("HR: %w", err)
		return nil
	}
	ir.Width, ir.Height = hrc.Bounds().Dx(), hrc.Bounds().Dy()
	var lr image.Image
	if lrPath != "" {
		ir.LRPath = lrPath
		if lr, err = ReadImage(lrPath); err != nil {
			ir.Err = fmt.Errorf("LR: %w", err)
			return nil
		}
	} else {
		ir.LRGenerated = true
		if lr, err = resize.Downscale(hrc, scale); err != nil {
			ir.Err = fmt.Errorf("making LR: %w", err)
			return nil
		}
	}
	start := time.Now()
	sc, sr, err := EvaluateImage(ctx, m, hrc, lr, scale, crop)
	ir.Elapsed = time.Since(start)
	if err != nil {
		if errors.Is(err, ErrSizeMismatch) && lrPath != "" {
			err = fmt.Errorf("%w (LR file %s)", err, lrPath)
		}
		ir.Err = err
		return nil
	}
	ir.Score = sc
	return sr
}

func nan() float64 { return math.NaN() }
