package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/server"
	"github.com/grformer/grformer/weights"
)

func init() {
	register("serve", "run the HTTP service: upscale API, web page, probes, metrics", runServe)
}

const serveHelp = `Usage:
  grformer serve [-addr :8080] [-weights FILE[,FILE]] [flags]

Runs grformer as an HTTP service (package server has the details):

  POST /v1/upscale   image in (the body), image out; query parameters scale,
                     outscale, format (png, jpeg), quality, tta, alpha
  GET  /v1/models    the loaded models and the limits (JSON)
  GET  /healthz      liveness; GET /readyz readiness (503 while shutting down)
  GET  /metrics      Prometheus metrics
  GET  /             a web page: drop an image, compare before/after, download

Models: the weights that ship with grformer (light x2 so far) and those of
-weights, one model per scale (a -weights file replaces the shipped model of
its scale). Requests choose one with scale=N.

At most -concurrency upscales run at once and -queue more wait; further
requests get 429 at once. -max-memory bounds the process: after a reserve
for the program and the models it is split among the -concurrency slots, and
each request plans its body, image, tiles and result within its share (an
image that cannot fit gets 413). It also sets the Go memory limit.

Every flag can be given as an environment variable instead: GRFORMER_ and
the flag's name in capitals with _ for -, e.g. GRFORMER_ADDR=:9000,
GRFORMER_MAX_MEMORY=4GiB. A flag on the command line wins over its variable.

On SIGTERM or SIGINT the server stops being ready (/readyz and new upscales
answer 503), waits -drain-delay, stops listening and finishes the requests
running and queued (up to -shutdown-timeout), then exits 0.

Example:
  grformer serve -addr 127.0.0.1:8080
  curl --data-binary @photo.png 'http://127.0.0.1:8080/v1/upscale?scale=2' -o photo_x2.png
  GRFORMER_MAX_MEMORY=4GiB grformer serve -weights GRFormer_x4.pth -concurrency 2`

// envPrefix starts the environment variable of every serve flag.
const envPrefix = "GRFORMER_"

func runServe(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveMain(ctx, args, os.Getenv, stdout, stderr)
}

// serveMain is the serve command with its context and environment, for
// tests; it returns when ctx is done and the server has shut down.
func serveMain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var (
		cfg       server.Config
		weightsFs string
		shipped   bool
		maxMemory = byteSize(server.DefaultMaxMemory)
		maxBody   = byteSize(server.DefaultMaxBodyBytes)
		queue     int
		logFormat string
	)
	fs := newFlagSet("serve", serveHelp, stdout, stderr)
	fs.StringVar(&cfg.Addr, "addr", server.DefaultAddr, "`address` to listen on")
	fs.StringVar(&weightsFs, "weights", "", "weights `files`, comma-separated (BasicSR .pth or .safetensors), one per scale, besides the shipped ones")
	fs.BoolVar(&shipped, "shipped", true, "offer the weights that ship with grformer (light x2)")
	fs.IntVar(&cfg.Concurrency, "concurrency", server.DefaultConcurrency, "`number` of upscales run at once")
	fs.IntVar(&queue, "queue", server.DefaultQueue, "`number` of upscale requests that may wait for a slot; more get 429 (0: none)")
	fs.IntVar(&cfg.Threads, "threads", 0, "`goroutines` per upscale (0: cores / -concurrency, at least 1)")
	fs.Var(&maxMemory, "max-memory", "memory `budget` of the whole process, e.g. 2GiB, 512MiB: split among the -concurrency slots; also the Go memory limit")
	fs.Var(&maxBody, "max-body", "largest request body `size`, e.g. 32MiB (larger: 413)")
	fs.Int64Var(&cfg.MaxPixels, "max-pixels", server.DefaultMaxPixels, "largest input in `pixels`, checked from the header before decoding (larger: 413)")
	fs.DurationVar(&cfg.Timeout, "timeout", server.DefaultTimeout, "time limit of one upscale request, queue included (past it: 504)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "on SIGTERM, how long running and queued requests may take to finish")
	fs.DurationVar(&cfg.DrainDelay, "drain-delay", 0, "on SIGTERM, how long to keep answering (readyz 503) before closing the listener,\nfor load balancers to notice (e.g. 5s in Kubernetes)")
	fs.IntVar(&cfg.Tile, "tile", 0, "tile side in input `pixels` (0: chosen from each request's memory share)")
	fs.StringVar(&logFormat, "log-format", "text", "log `format` on stderr: text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := applyEnv(fs.FlagSet, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usagef("serve takes no arguments, got %q", fs.Args())
	}
	cfg.MaxMemory, cfg.MaxBodyBytes = int64(maxMemory), int64(maxBody)
	cfg.Queue = queue
	if queue == 0 {
		cfg.Queue = -1 // the server's "none"
	}
	switch {
	case cfg.Concurrency < 1:
		return fmt.Errorf("-concurrency %d: want at least 1", cfg.Concurrency)
	case queue < 0:
		return fmt.Errorf("-queue %d is negative", queue)
	case cfg.MaxMemory <= 0 || cfg.MaxBodyBytes <= 0 || cfg.MaxPixels <= 0:
		return fmt.Errorf("-max-memory, -max-body and -max-pixels must be positive")
	case cfg.Timeout <= 0 || cfg.ShutdownTimeout <= 0:
		return fmt.Errorf("-timeout and -shutdown-timeout must be positive")
	}
	switch logFormat {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	default:
		return fmt.Errorf("-log-format %q: want text or json", logFormat)
	}

	models, err := loadServeModels(weightsFs, shipped)
	if err != nil {
		return err
	}
	srv, err := server.New(cfg, models)
	if err != nil {
		return err
	}
	// The Go memory limit keeps the heap within the budget, leaving a
	// sixteenth for what is not heap (as grformer upscale does).
	old := debug.SetMemoryLimit(cfg.MaxMemory - cfg.MaxMemory/16)
	defer debug.SetMemoryLimit(old)
	return srv.ListenAndServe(ctx)
}

// applyEnv sets each flag not given on the command line from its
// environment variable, if set.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", name, v, e)
			}
		}
	})
	return err
}

// envName is the environment variable of a flag: GRFORMER_MAX_MEMORY for
// -max-memory.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// loadServeModels loads the -weights files and, unless shipped is false,
// the shipped weights of the scales no file covers.
func loadServeModels(files string, shipped bool) ([]server.Model, error) {
	var ms []server.Model
	have := map[int]string{}
	for _, f := range strings.Split(files, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		m, err := grformer.Load(f)
		if err != nil {
			return nil, err
		}
		if prev, dup := have[m.Scale()]; dup {
			return nil, fmt.Errorf("-weights: %s and %s are both x%d models; give one per scale", prev, f, m.Scale())
		}
		have[m.Scale()] = f
		ms = append(ms, server.Model{Model: m, Name: filepath.Base(f), Source: f})
	}
	if shipped {
		scales := weights.Scales()
		slices.Sort(scales)
		for _, sc := range scales {
			if _, ok := have[sc]; ok {
				continue
			}
			_, info, err := weights.For(sc)
			if err != nil {
				return nil, err
			}
			m, err := grformer.LoadDefault(sc)
			if err != nil {
				return nil, err
			}
			ms = append(ms, server.Model{Model: m, Name: info.Name, Source: "shipped"})
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no models: give -weights or leave -shipped on")
	}
	return ms, nil
}
