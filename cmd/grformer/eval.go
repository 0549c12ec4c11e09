package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/eval"
	"github.com/grformer/grformer/weights"
)

func init() {
	register("eval", "PSNR/SSIM on benchmark sets", runEval)
}

// defaultBenchmark is where the project's benchmark sets live, relative to
// the working directory (the repository root).
const defaultBenchmark = "../shared/datasets/benchmark"

// modelMethod evaluates a GRFormer model. The LR image goes to the model as
// decoded: a grayscale image is fed as R = G = B and comes back gray (the
// mean of the three outputs), 8-bit in, 8-bit out.
type modelMethod struct {
	m    *grformer.Model
	name string
	opt  grformer.Options
}

func (mm *modelMethod) Name() string { return mm.name }

func (mm *modelMethod) SuperResolve(ctx context.Context, lr image.Image, scale int) (image.Image, error) {
	if scale != mm.m.Scale() {
		return nil, fmt.Errorf("the model upscales x%d, not x%d", mm.m.Scale(), scale)
	}
	return mm.m.Upscale(ctx, lr, mm.opt)
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", `Usage: grformer eval [-weights FILE | -model bicubic] [flags]

Scores a model on super-resolution benchmark sets as the literature does
(BasicSR conventions): PSNR and SSIM (11x11 Gaussian window, sigma 1.5) on the
Y channel of BT.601 YCbCr in float64, grayscale images on their gray values,
HR cropped to a multiple of the scale, crop_border pixels removed from every
side. The LR input is DATA/<Set>/LR_bicubic/X<s>/<name>x<s>.png when present,
otherwise the MATLAB-exact bicubic downscale of the HR image.

Prints a markdown table (or one JSON object per set with -json) on stdout and
one line per image on stderr. Failures (a missing set, an unreadable image,
an HR/LR size mismatch) are reported at the end and give a non-zero exit
status; the other images are still evaluated.

Without -weights (or with -weights shipped) it scores the weights that ship
with grformer, at every shipped scale (or at -scale). The model runs the
reference's plain forward pass (no border context), as the literature
measures it.

Examples:
  grformer eval                                   # the shipped weights
  grformer eval -model bicubic -scale 4
  grformer eval -weights GRFormer_x4.pth -sets Set5,Set14 -json
  grformer eval -model bicubic -scale 2,3,4 -save out/bicubic`, stdout, stderr)
	weightsFlag := fs.String("weights", "", "weights `file` of the model to evaluate (.pth or .safetensors; \"shipped\" or none: the shipped weights)")
	modelName := fs.String("model", "", "a built-in method instead of weights: bicubic")
	dataDir := fs.String("data", "", "benchmark `folder` holding <Set>/HR (default "+defaultBenchmark+" when it exists)")
	sets := fs.String("sets", "Set5,Set14,B100", "comma-separated `list` of sets (folders under -data)")
	scales := fs.String("scale", "", "upscaling `factor`, or a comma-separated list for -model bicubic (default: the model's scale; 4 for bicubic)")
	crop := fs.Int("crop-border", -1, "`pixels` removed from every border before scoring; -1: as many as the scale")
	saveDir := fs.String("save", "", "save the SR outputs as `DIR`/<Set>/X<s>/<name>.png")
	asJSON := fs.Bool("json", false, "print one JSON object per set and scale instead of a table")
	quiet := fs.Bool("quiet", false, "no per-image progress on stderr")
	threads := fs.Int("threads", 0, "goroutines the model may use (0: all cores)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}

	// Flags that need no files first.
	switch {
	case *weightsFlag != "" && *modelName != "":
		return errors.New("give -weights or -model, not both")
	case *modelName != "" && !strings.EqualFold(*modelName, "bicubic"):
		return fmt.Errorf("unknown -model %q (have: bicubic)", *modelName)
	}
	var scaleList []int
	if *scales != "" {
		for _, f := range strings.Split(*scales, ",") {
			s, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || s < 1 || s > 16 {
				return fmt.Errorf("invalid -scale %q: want an integer factor from 1 to 16", f)
			}
			scaleList = append(scaleList, s)
		}
	}
	if *threads < 0 {
		return fmt.Errorf("invalid -threads %d", *threads)
	}
	if *crop < -1 {
		return fmt.Errorf("invalid -crop-border %d", *crop)
	}
	var setList []string
	for _, s := range strings.Split(*sets, ",") {
		if s = strings.TrimSpace(s); s != "" {
			setList = append(setList, s)
		}
	}
	if len(setList) == 0 {
		return errors.New("-sets is empty")
	}
	dir := *dataDir
	if dir == "" {
		if st, err := os.Stat(defaultBenchmark); err != nil || !st.IsDir() {
			return fmt.Errorf("no -data folder given and %s not found", defaultBenchmark)
		}
		dir = defaultBenchmark
	}
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("-data: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("-data %s is not a folder", dir)
	}

	// The method of each scale.
	opt := grformer.Options{Threads: *threads, BorderContext: grformer.NoBorderContext}
	methods := map[int]eval.Method{}
	name := ""
	switch {
	case *modelName != "":
		if len(scaleList) == 0 {
			scaleList = []int{4}
		}
		for _, s := range scaleList {
			methods[s] = eval.Bicubic{}
		}
		name = eval.Bicubic{}.Name()
	case isShipped(*weightsFlag):
		if len(scaleList) == 0 {
			scaleList = weights.Scales()
		}
		for _, s := range scaleList {
			m, err := grformer.LoadDefault(s)
			if err != nil {
				return err
			}
			_, info, _ := weights.For(s)
			methods[s] = &modelMethod{m: m, name: "shipped " + info.Name, opt: opt}
		}
		name = "shipped weights"
	default:
		m, err := grformer.Load(*weightsFlag)
		if err != nil {
			return err
		}
		for _, s := range scaleList {
			if s != m.Scale() {
				return fmt.Errorf("-scale %d does not match the model, which upscales x%d", s, m.Scale())
			}
		}
		if len(scaleList) == 0 {
			scaleList = []int{m.Scale()}
		}
		name = filepath.Base(*weightsFlag)
		methods[m.Scale()] = &modelMethod{m: m, name: name, opt: opt}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var reports []*eval.Report
	var runErr error
	for _, s := range scaleList {
		method := methods[s]
		cropUsed := *crop
		if cropUsed < 0 {
			cropUsed = s
		}
		cfg := eval.Config{Dir: dir, Sets: setList, Scale: s, CropBorder: cropUsed, SaveDir: *saveDir}
		if !*quiet {
			fmt.Fprintf(stderr, "eval: %s x%d on %s, crop_border %d%s\n", method.Name(), s, dir, cropUsed, cropNote(*crop))
			cfg.Progress = func(p eval.Progress) { printProgress(stderr, p) }
		}
		rep, err := eval.Run(ctx, method, cfg)
		if rep != nil {
			reports = append(reports, rep)
		}
		if err != nil {
			runErr = err
			break
		}
	}

	if *asJSON {
		if err := writeJSON(stdout, reports); err != nil {
			return err
		}
	} else {
		writeTable(stdout, name, dir, *crop, reports)
	}
	if runErr != nil {
		return runErr
	}
	return summariseFailures(stderr, reports)
}

func cropNote(flagValue int) string {
	if flagValue < 0 {
		return " (= scale)"
	}
	return ""
}

func printProgress(w io.Writer, p eval.Progress) {
	r := p.Result
	prefix := fmt.Sprintf("  %s [%d/%d] %s", p.Set, p.Index, p.Total, r.Name)
	if r.Err != nil {
		fmt.Fprintf(w, "%s: FAILED: %v\n", prefix, r.Err)
		return
	}
	lr := "LR file"
	if r.LRGenerated {
		lr = "LR made from HR"
	}
	ch := "Y"
	if r.Score.Gray {
		ch = "gray"
	}
	fmt.Fprintf(w, "%s: PSNR %.4f dB  SSIM %.4f  (%s, %dx%d, %s, %.2fs)\n",
		prefix, r.Score.PSNR, r.Score.SSIM, ch, r.Width, r.Height, lr, r.Elapsed.Seconds())
	if r.SaveErr != nil {
		fmt.Fprintf(w, "%s: FAILED: %v\n", prefix, r.SaveErr)
	}
}

// jsonSet is the -json output for one set.
type jsonSet struct {
	Set        string   `json:"set"`
	Scale      int      `json:"scale"`
	PSNR       *float64 `json:"psnr"`
	SSIM       *float64 `json:"ssim"`
	Images     int      `json:"images"`
	CropBorder int      `json:"crop_border"`
}

// num maps values JSON cannot hold (the +Inf PSNR of identical images, NaN
// for a set without scores) to null.
func num(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

func writeJSON(w io.Writer, reports []*eval.Report) error {
	enc := json.NewEncoder(w)
	for _, rep := range reports {
		for _, s := range rep.Sets {
			if err := enc.Encode(jsonSet{Set: s.Set, Scale: s.Scale, PSNR: num(s.PSNR), SSIM: num(s.SSIM), Images: s.Scored, CropBorder: s.CropBorder}); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeTable(w io.Writer, method, dir string, cropFlag int, reports []*eval.Report) {
	cropText := "crop_border = scale"
	if cropFlag >= 0 {
		cropText = fmt.Sprintf("crop_border = %d", cropFlag)
	}
	fmt.Fprintf(w, "Method: %s; data: %s; PSNR/SSIM on Y (BT.601; gray images on gray values), %s\n\n", method, dir, cropText)
	fmt.Fprintln(w, "| Set | Scale | PSNR (dB) | SSIM | Images | crop_border |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, rep := range reports {
		for _, s := range rep.Sets {
			psnr, ssim := "–", "–"
			if s.Scored > 0 {
				psnr, ssim = fmt.Sprintf("%.4f", s.PSNR), fmt.Sprintf("%.4f", s.SSIM)
			}
			images := strconv.Itoa(s.Scored)
			switch n := len(s.Images); {
			case s.Err != nil:
				images = "failed"
			case n != s.Scored:
				images = fmt.Sprintf("%d of %d", s.Scored, n)
			}
			fmt.Fprintf(w, "| %s | x%d | %s | %s | %s | %d |\n", s.Set, s.Scale, psnr, ssim, images, s.CropBorder)
		}
	}
}

// summariseFailures lists every failure on w and returns an error counting
// them, or nil when there were none.
func summariseFailures(w io.Writer, reports []*eval.Report) error {
	var fails []eval.Failure
	images, badImages, badSets := 0, 0, 0
	for _, rep := range reports {
		fails = append(fails, rep.Failures()...)
		for _, s := range rep.Sets {
			if s.Err != nil {
				badSets++
			}
			images += len(s.Images)
			for i := range s.Images {
				if s.Images[i].Failed() {
					badImages++
				}
			}
		}
	}
	if len(fails) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nFailures (%d):\n", len(fails))
	for _, f := range fails {
		fmt.Fprintf(w, "  %v\n", f)
	}
	msg := fmt.Sprintf("%d of %d images failed", badImages, images)
	if badSets > 0 {
		msg += fmt.Sprintf(", %d set(s) could not be read", badSets)
	}
	return errors.New(msg + " (listed above)")
}
