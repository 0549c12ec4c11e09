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
	"strings"
	"syscall"
	"time"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/training"
)

func init() {
	register("train", "train a GRFormer model (from scratch, fine-tune, resume)", runTrain)
}

const trainHelp = `Usage:
  grformer train -data DIR[,DIR...] -scale S -iters N -out RUNDIR [flags]
  grformer train -config FILE [flags]
  grformer train -resume RUNDIR -iters N [flags]

Trains GRFormer with the paper's recipe by default: random 64x64 LR patches
(HR 64*s) of the HR images in -data, whose LR images are made with MATLAB's
bicubic (cached in memory, and in -cache DIR if given), random horizontal
flip, vertical flip and transpose, batch 16, mean L1 loss, Adam 2e-4 with
betas (0.9, 0.99), MultiStepLR halving the rate at 50%, 80%, 90% and 95% of
the iterations (the paper's 250k, 400k, 450k, 475k of 500k), stochastic depth
rising to 0.1. Every random draw derives from -seed and the iteration
number, so a run is reproducible and a resumed run continues exactly: its
weights are bit-identical to those of an uninterrupted run.

From scratch, the light model (C=60, 4x6 blocks, window 8x32) is
initialised from -seed; -config can change the architecture (model: ...).
-init FILE starts from a checkpoint instead (fine-tuning); with weights of
another scale (x2 -> x4), all but the upsampler (upsample.*) are loaded and
the upsampler is initialised fresh.

RUNDIR receives log.jsonl (one JSON object per logged iteration: iter, loss,
lr, it_per_s, elapsed_s, and val_psnr/val_ssim when validated), plot.png
(loss and validation PSNR), last.safetensors (latest weights, parameters
only, PyTorch keys; last_ema.safetensors with -ema), checkpoints/iter_N.*
every -save-every iterations, and state.safetensors/state.json (optimiser
moments, EMA, iteration, schedule, config) for -resume. Every file is
written atomically. Ctrl-C finishes the current iteration, saves the state
and exits; resume with -resume RUNDIR -iters N. Validation (-val, e.g.
../shared/datasets/benchmark/Set5) scores PSNR/SSIM on the Y channel,
crop = scale, as "grformer eval" does, with the EMA weights when -ema is on.

Progress goes to stderr: a progress bar with loss, it/s and ETA on a
terminal, plain log lines otherwise. Export the weights for PyTorch with
"grformer export".

Flags given on the command line override the config file. With -resume only
-iters, -val, -val-every, -save-every, -log-every, -threads, -cache and
-quiet may be given; the rest is the run's.

`

// trainFlags are the flags that decide the weights: not allowed with -resume.
var trainFlags = []string{"data", "scale", "out", "batch", "patch", "lr", "seed", "config", "init", "ema", "drop-path", "flat", "schedule", "warmup"}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", trainHelp+training.ConfigHelp, stdout, stderr)
	def := training.DefaultConfig()
	data := fs.String("data", "", "comma-separated `folders` of HR training images")
	scale := fs.Int("scale", 0, "upscaling `factor` (2, 3 or 4)")
	iters := fs.Int("iters", 0, "train up to iteration `N` (the total, also when resuming)")
	out := fs.String("out", "", "run `folder` (created)")
	batch := fs.Int("batch", def.Batch, "patches per iteration")
	patch := fs.Int("patch", def.Patch, "LR patch side in `pixels` (HR: patch*scale)")
	lr := fs.Float64("lr", def.LR, "base learning `rate`")
	seed := fs.Uint64("seed", 0, "`seed` of the initial weights, the data order, patches, flips and drop path")
	val := fs.String("val", "", "benchmark set `folder` to validate on (with HR/, e.g. ../shared/datasets/benchmark/Set5)")
	valEvery := fs.Int("val-every", def.ValEvery, "validate every `N` iterations (and at the end); 0: only at the end")
	saveEvery := fs.Int("save-every", def.SaveEvery, "checkpoint every `N` iterations (and at the end); 0: only at the end")
	logEvery := fs.Int("log-every", def.LogEvery, "log every `N` iterations (and at the end); 0: only at the end")
	configFile := fs.String("config", "", "YAML config `file` (fields below)")
	initFile := fs.String("init", "", "start from these weights (`file` .pth or .safetensors) instead of random ones")
	ema := fs.Float64("ema", 0, "EMA `decay` of the weights, e.g. 0.999 (0: off)")
	dropPath := fs.Float64("drop-path", def.DropPath, "maximum stochastic-depth `rate`")
	flat := fs.Float64("flat", 0, "`fraction` of samples that are flat patches of a random colour (teaches flat image borders)")
	schedule := fs.String("schedule", "", "learning-rate `schedule`: multistep (default), cosine or constant")
	warmup := fs.Int("warmup", 0, "linear warm-up `iterations`")
	threads := fs.Int("threads", 0, "goroutines (0: all cores)")
	cache := fs.String("cache", "", "keep the bicubic LR images in this `folder` between runs")
	resume := fs.String("resume", "", "continue the run in `RUNDIR`")
	quiet := fs.Bool("quiet", false, "no progress output, only errors and the final summary")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *threads < 0 {
		return fmt.Errorf("invalid -threads %d", *threads)
	}

	var cfg training.RunConfig
	var net training.Trainable
	if *resume != "" {
		for _, n := range trainFlags {
			if set[n] {
				return fmt.Errorf("-%s cannot be changed when resuming (the run's own settings are used)", n)
			}
		}
		if !set["iters"] {
			return errors.New("-resume needs -iters N: the iteration to train up to")
		}
		saved, err := training.ReadRun(*resume)
		if err != nil {
			return err
		}
		cfg = saved.State.Config
		cfg.Dir, cfg.Resume = *resume, true
		n, err := newTrainNet(saved.State.Model, saved.Weights, *threads)
		if err != nil {
			return err
		}
		net = n
	} else {
		cfg = def
		if *configFile != "" {
			if err := training.LoadConfigFile(*configFile, &cfg); err != nil {
				return err
			}
		}
		if set["data"] {
			cfg.Data = nil
			for _, d := range strings.Split(*data, ",") {
				if d = strings.TrimSpace(d); d != "" {
					cfg.Data = append(cfg.Data, d)
				}
			}
		}
		over := func(name string, apply func()) {
			if set[name] {
				apply()
			}
		}
		over("scale", func() { cfg.Scale = *scale })
		over("out", func() { cfg.Dir = *out })
		over("batch", func() { cfg.Batch = *batch })
		over("patch", func() { cfg.Patch = *patch })
		over("lr", func() { cfg.LR = *lr })
		over("seed", func() { cfg.Seed = *seed })
		over("init", func() { cfg.Init = *initFile })
		over("ema", func() { cfg.EMA = *ema })
		over("drop-path", func() { cfg.DropPath = *dropPath })
		over("flat", func() { cfg.Flat = *flat })
		over("schedule", func() { cfg.Schedule.Kind = *schedule })
		over("warmup", func() { cfg.Schedule.Warmup = *warmup })
		switch {
		case len(cfg.Data) == 0:
			fs.Usage()
			return errors.New("need -data DIR[,DIR...] (or data: in the config file)")
		case cfg.Scale == 0:
			return errors.New("need -scale S (or scale: in the config file)")
		case cfg.Dir == "":
			return errors.New("need -out RUNDIR (or out: in the config file)")
		}
		if !set["iters"] && cfg.Iters == 0 {
			return errors.New("need -iters N (or iters: in the config file)")
		}
		n, err := newRunNet(&cfg, *threads, stderr)
		if err != nil {
			return err
		}
		net = n
	}
	over := func(name string, apply func()) {
		if set[name] {
			apply()
		}
	}
	over("iters", func() { cfg.Iters = *iters })
	over("val", func() { cfg.Val = *val })
	over("val-every", func() { cfg.ValEvery = *valEvery })
	over("save-every", func() { cfg.SaveEvery = *saveEvery })
	over("log-every", func() { cfg.LogEvery = *logEvery })
	over("threads", func() { cfg.Threads = *threads })
	over("cache", func() { cfg.CacheDir = *cache })
	if err := cfg.Validate(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once (every file is written atomically)
	}()

	show := newTrainProgress(stderr, *quiet)
	start := time.Now()
	res, err := training.Run(ctx, net, cfg, show.event)
	show.finish()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%w\nresume with: grformer train -resume %s -iters %d", err, cfg.Dir, cfg.Iters)
		}
		return err
	}
	fmt.Fprintf(stderr, "train: done, %d iterations in %s; weights in %s\n", res.Iter, time.Since(start).Round(time.Second),
		filepath.Join(cfg.Dir, training.LastFile))
	if !math.IsNaN(res.BestPSNR) {
		fmt.Fprintf(stderr, "train: validation PSNR %.4f dB / SSIM %.4f at the end; best %.4f dB at iteration %d\n",
			res.ValPSNR, res.ValSSIM, res.BestPSNR, res.BestIter)
	}
	return nil
}

// newRunNet builds the network of a new run: the architecture from cfg, the
// weights from cfg.Init or a fresh initialisation from cfg.Seed.
func newRunNet(cfg *training.RunConfig, threads int, stderr io.Writer) (training.Trainable, error) {
	mcfg, err := cfg.ModelConfig()
	if err != nil {
		return nil, err
	}
	if p := mcfg.PadMultiple(); cfg.Patch%p != 0 {
		hp, _ := mcfg.PaddedSize(cfg.Patch, cfg.Patch)
		fmt.Fprintf(stderr, "train: warning: -patch %d is not a multiple of the window side %d: every patch is padded to %d and %.0f%% of the work is padding\n",
			cfg.Patch, p, hp, 100*(1-float64(cfg.Patch*cfg.Patch)/float64(hp*hp)))
	}
	var init checkpoint.StateDict
	if cfg.Init != "" {
		if init, err = checkpoint.Load(cfg.Init); err != nil {
			return nil, err
		}
	}
	sd, fresh, err := training.InitWeights(mcfg, cfg.Seed, init)
	if err != nil {
		if cfg.Init != "" {
			return nil, fmt.Errorf("-init %s: %w", cfg.Init, err)
		}
		return nil, err
	}
	if len(fresh) > 0 {
		fmt.Fprintf(stderr, "train: -init: %s initialised fresh (another scale)\n", strings.Join(fresh, ", "))
	}
	return newTrainNet(mcfg, sd, threads)
}

// trainProgress prints Run's events to stderr.
type trainProgress struct {
	w       io.Writer
	tty     bool
	quiet   bool
	barOn   bool
	lastBar time.Time
}

func newTrainProgress(w io.Writer, quiet bool) *trainProgress {
	return &trainProgress{w: w, tty: trainIsTTY(w), quiet: quiet}
}

// trainIsTTY reports whether w is a terminal (a character device, not TERM=dumb).
func trainIsTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// line prints a full line, above the progress bar on a terminal.
func (p *trainProgress) line(format string, a ...any) {
	if p.barOn {
		fmt.Fprint(p.w, "\r\033[K")
		p.barOn = false
	}
	fmt.Fprintf(p.w, format+"\n", a...)
}

func (p *trainProgress) finish() {
	if p.barOn {
		fmt.Fprintln(p.w)
		p.barOn = false
	}
}

func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

func (p *trainProgress) event(e training.Progress) {
	if p.quiet && e.Event != training.EventWarning {
		return
	}
	switch e.Event {
	case training.EventLoad:
		if p.tty {
			fmt.Fprintf(p.w, "\r\033[Kloading training images %d/%d", e.Done, e.Total)
			p.barOn = true
			if e.Done == e.Total {
				p.line("")
			}
		} else if e.Done == e.Total {
			p.line("train: loaded %d training images", e.Total)
		}
	case training.EventWarning:
		p.line("train: warning: %s", e.Message)
	case training.EventLog:
		le := e.Entry
		s := fmt.Sprintf("train: iter %d/%d  loss %.5f  lr %.3g  %.3g it/s  elapsed %s", le.Iter, e.Iters, le.Loss, le.LR, le.ItPerS, fmtDuration(e.Elapsed))
		if le.ValPSNR != nil {
			s += fmt.Sprintf("  val PSNR %.4f SSIM %.4f (%s)", *le.ValPSNR, *le.ValSSIM, le.ValWeights)
		}
		p.line("%s", s)
	case training.EventSave:
		if !p.tty && e.Iter > e.Start {
			p.line("train: saved iteration %d", e.Iter)
		}
	case training.EventStep:
		if !p.tty || time.Since(p.lastBar) < 200*time.Millisecond && e.Iter != e.Iters {
			return
		}
		p.lastBar = time.Now()
		const width = 30
		done := float64(e.Iter) / float64(max(e.Iters, 1))
		n := int(done * width)
		eta := "?"
		if e.Iter >= e.Iters {
			eta = "0m00s"
		} else if e.ETA > 0 {
			eta = fmtDuration(e.ETA)
		}
		fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d %5.1f%%  loss %.5f  %.3g it/s  ETA %s",
			strings.Repeat("=", n), strings.Repeat(" ", width-n), e.Iter, e.Iters, 100*done, e.Loss, e.ItPerS, eta)
		p.barOn = true
	}
}
