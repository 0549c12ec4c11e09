package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/backprop"
	"github.com/grformer/grformer/internal/cpu"
	"github.com/grformer/grformer/model"
)

func init() {
	register("bench", "time the model on this machine", runBench)
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", `Usage: grformer bench [-scale S] [-size WxH] [flags]

Times full forward passes on an LR input of the given size and prints the
seconds, the effective GFLOP/s (2 x MACs of the padded size, attention
products included, per second) and the peak memory of the process. Without
-weights it uses the light preset with random weights.

With -train it times training steps instead (forward and backward with
mean L1 loss, drop path 0.1) on -batch random LR patches of -patch pixels.

Example:
  grformer bench -scale 4 -size 320x180
  grformer bench -scale 2 -size 640x360 -threads 1
  grformer bench -train -scale 4 -batch 16 -patch 64`, stdout, stderr)
	scale := fs.Int("scale", 4, "scale of the light preset (2, 3 or 4); ignored with -weights")
	size := fs.String("size", "320x180", "LR input size `WxH`")
	weights := fs.String("weights", "", "weights file instead of random light weights")
	threads := fs.Int("threads", 0, "goroutines (0: GOMAXPROCS)")
	runs := fs.Int("runs", 3, "timed runs (after one warm-up run)")
	generic := fs.Bool("generic", false, "force the portable Go kernels (no assembly)")
	trainMode := fs.Bool("train", false, "time training steps instead of forward passes")
	batch := fs.Int("batch", 16, "with -train: patches per step")
	patch := fs.Int("patch", 64, "with -train: LR patch side")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *trainMode {
		return benchTrain(stdout, *scale, *batch, *patch, *threads, *runs, *generic)
	}
	w, h, err := parseSize(*size)
	if err != nil {
		return err
	}
	if *runs < 1 {
		return fmt.Errorf("-runs %d: need at least 1", *runs)
	}
	if *generic {
		defer cpu.SetGeneric(cpu.SetGeneric(true))
	}
	var net *model.Model
	if *weights != "" {
		m, err := grformer.Load(*weights)
		if err != nil {
			return err
		}
		net = m.Net()
	} else {
		cfg := model.Light(*scale)
		sd, err := model.InitStateDict(cfg, 1)
		if err != nil {
			return err
		}
		if net, err = model.New(cfg, sd); err != nil {
			return err
		}
	}
	cfg := net.Cfg
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 3*h*w)
	for i := range x {
		x[i] = r.Float32()
	}
	th := *threads
	if th <= 0 {
		th = runtime.GOMAXPROCS(0)
	}
	hp, wp := cfg.PaddedSize(h, w)
	macs := cfg.TotalMACs(h, w, true)
	fmt.Fprintf(stdout, "x%d, LR %dx%d (padded %dx%d) -> %dx%d, %d threads, kernels %s, %.2f GMAC\n",
		cfg.Scale, w, h, wp, hp, w*cfg.Scale, h*cfg.Scale, th, cpu.Impl(), float64(macs)/1e9)
	best, median, err := timeRuns(stdout, *runs, func(int) error {
		_, err := net.Forward(x, 1, h, w, model.Options{Threads: th})
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "best %.3f s, median %.3f s, %.1f GFLOP/s effective, peak RSS %s\n",
		best, median, 2*float64(macs)/best/1e9, peakRSS())
	return nil
}

// benchTrain times training steps of the light model on random patches.
func benchTrain(stdout io.Writer, scale, batch, patch, threads, runs int, generic bool) error {
	if batch < 1 || patch < 1 || runs < 1 {
		return fmt.Errorf("-batch, -patch and -runs must be positive")
	}
	if generic {
		defer cpu.SetGeneric(cpu.SetGeneric(true))
	}
	cfg := model.Light(scale)
	sd, err := model.InitStateDict(cfg, 1)
	if err != nil {
		return err
	}
	n, err := backprop.NewNet(cfg, sd)
	if err != nil {
		return err
	}
	n.Threads = threads
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*3*patch*patch)
	y := make([]float32, batch*3*patch*scale*patch*scale)
	for _, s := range [][]float32{x, y} {
		for i := range s {
			s[i] = r.Float32()
		}
	}
	th := threads
	if th <= 0 {
		th = runtime.GOMAXPROCS(0)
	}
	macs := cfg.TotalMACs(patch, patch, true) * int64(batch)
	fmt.Fprintf(stdout, "train step x%d, batch %d of %dx%d LR patches, %d threads, kernels %s, forward %.2f GMAC\n",
		scale, batch, patch, patch, th, cpu.Impl(), float64(macs)/1e9)
	best, median, err := timeRuns(stdout, runs, func(i int) error {
		_, err := n.Step(x, y, batch, patch, patch, 0.1, uint64(i))
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "best %.3f s, median %.3f s per step, peak RSS %s\n", best, median, peakRSS())
	return nil
}

// timeRuns runs f once to warm up and then runs times, printing each
// duration, and returns the best and the median in seconds.
func timeRuns(stdout io.Writer, runs int, f func(i int) error) (best, median float64, err error) {
	times := make([]float64, 0, runs)
	for i := 0; i <= runs; i++ {
		t0 := time.Now()
		if err := f(i); err != nil {
			return 0, 0, err
		}
		d := time.Since(t0).Seconds()
		label := fmt.Sprintf("run %d", i)
		if i == 0 {
			label = "warm-up"
		} else {
			times = append(times, d)
		}
		fmt.Fprintf(stdout, "  %-8s %.3f s\n", label, d)
	}
	sort.Float64s(times)
	return times[0], times[len(times)/2], nil
}

// parseSize parses "WxH".
func parseSize(s string) (w, h int, err error) {
	a, b, ok := strings.Cut(strings.ToLower(s), "x")
	if ok {
		w, err = strconv.Atoi(a)
		if err == nil {
			h, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || w < 1 || h < 1 {
		return 0, 0, fmt.Errorf("bad size %q, want WxH such as 320x180", s)
	}
	return w, h, nil
}

// peakRSS reports the process's peak resident set size (Linux VmHWM), or the
// Go runtime's view of memory obtained from the OS elsewhere.
func peakRSS() string {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				f := strings.Fields(v)
				if kb, err := strconv.Atoi(f[0]); err == nil {
					return fmt.Sprintf("%.0f MB", float64(kb)/1024)
				}
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return fmt.Sprintf("%.0f MB (Go runtime Sys)", float64(ms.Sys)/1e6)
}
