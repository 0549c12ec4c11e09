package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/grformer/grformer"
)

// Paths the server answers; the Kubernetes example in deploy/ probes
// HealthPath and ReadyPath.
const (
	UpscalePath = "/v1/upscale"
	ModelsPath  = "/v1/models"
	HealthPath  = "/healthz"
	ReadyPath   = "/readyz"
	MetricsPath = "/metrics"
)

// Defaults of Config (the zero value of a field means its default).
const (
	DefaultAddr            = ":8080"
	DefaultConcurrency     = 2
	DefaultQueue           = 16
	DefaultMaxMemory       = 2 << 30
	DefaultMaxBodyBytes    = 32 << 20
	DefaultMaxPixels       = 2048 * 2048
	DefaultTimeout         = 5 * time.Minute
	DefaultShutdownTimeout = 10 * time.Minute
)

// baseMemory is the share of Config.MaxMemory kept for what is not a
// request: the program, the runtime, idle connections, the models' weights
// (added per model). An idle server with the shipped x2 model has an RSS of
// about 20 MiB.
const baseMemory = 48 << 20

// minRequestMemory is the least per-request budget New accepts.
const minRequestMemory = 32 << 20

// Config is the server's configuration. The zero value of each field means
// its default.
type Config struct {
	// Addr is the address ListenAndServe listens on (DefaultAddr).
	Addr string

	// Concurrency is the number of upscales run at once (DefaultConcurrency).
	Concurrency int

	// Queue is the number of upscale requests that may wait for one of
	// the Concurrency slots (DefaultQueue); past Concurrency+Queue
	// requests a request is refused at once with 429 Too Many Requests.
	// A negative value means no queue.
	Queue int

	// Threads is the goroutines each upscale uses; 0 means
	// GOMAXPROCS/Concurrency, at least 1.
	Threads int

	// MaxMemory bounds the memory of the whole process, in bytes
	// (DefaultMaxMemory). After a fixed reserve for the program and the
	// models' weights, it is split evenly among the Concurrency slots: each
	// upscale plans its request body, decoded input, tiles, result and
	// encoding within its share (tiles are chosen to fit, and an image that
	// cannot fit is refused with 413). Queued requests hold no memory (their
	// bodies are read once they get a slot). The program should also set
	// the Go memory limit (runtime/debug.SetMemoryLimit) a little below
	// MaxMemory, as grformer serve does, so that garbage is collected in
	// time.
	MaxMemory int64

	// MaxBodyBytes refuses request bodies larger than this with 413
	// (DefaultMaxBodyBytes).
	MaxBodyBytes int64

	// MaxPixels refuses images with more pixels than this with 413, from
	// the header, before any pixel memory is allocated (DefaultMaxPixels,
	// 2048x2048).
	MaxPixels int64

	// Timeout bounds each upscale request, the time in the queue included
	// (DefaultTimeout); past it the upscale stops and the client gets 504.
	Timeout time.Duration

	// ShutdownTimeout bounds how long Run waits for in-flight and queued
	// requests after its context is done (DefaultShutdownTimeout); those
	// still running then are cancelled.
	ShutdownTimeout time.Duration

	// DrainDelay is how long Run keeps serving, with /readyz answering 503
	// and new upscales refused with 503, before it closes the listener:
	// time for a load balancer to see that the replica is going away.
	// 0 means none.
	DrainDelay time.Duration

	// Tile is the tile side in input pixels (grformer.Options.Tile); 0
	// chooses it from each request's memory share.
	Tile int

	// Logger receives one line per upscale request and the server's
	// events; nil means none.
	Logger *slog.Logger
}

// Model is one model the server offers.
type Model struct {
	Model *grformer.Model
	// Name names the weights, e.g. the file name.
	Name string
	// Source says where they came from: "shipped" or the file's path.
	Source string
}

// Server is the HTTP service. Create it with New; it is safe for
// concurrent use and holds no state between requests but its counters.
type Server struct {
	cfg       Config
	models    []Model // by scale, ascending
	reqMemory int64   // per-request memory share
	log       *slog.Logger
	metrics   *metrics
	handler   http.Handler

	slots    chan struct{} // one token per running upscale
	admitted atomic.Int64  // running and queued upscales
	draining atomic.Bool

	// progress, when set (tests), is called with each upscale's progress
	// and its context, on the upscaling goroutine.
	progress func(ctx context.Context, done, total int)
}

// New checks cfg and the models (at least one, one per scale) and returns
// a server. It starts nothing; see Handler, Run and ListenAndServe.
func New(cfg Config, models []Model) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if len(models) == 0 {
		return nil, errors.New("server: no models")
	}
	ms := slices.Clone(models)
	slices.SortFunc(ms, func(a, b Model) int { return a.Model.Scale() - b.Model.Scale() })
	reserve := int64(baseMemory)
	for i, m := range ms {
		if m.Model == nil {
			return nil, errors.New("server: nil model")
		}
		if i > 0 && ms[i-1].Model.Scale() == m.Model.Scale() {
			return nil, fmt.Errorf("server: two x%d models (%s and %s)", m.Model.Scale(), ms[i-1].Source, m.Source)
		}
		reserve += 4 * int64(m.Model.Config().NumParams())
	}
	per := (cfg.MaxMemory - reserve) / int64(cfg.Concurrency)
	if per < minRequestMemory {
		return nil, fmt.Errorf("server: memory budget %s leaves %s per request for concurrency %d (after %s for the program and models); want at least %s",
			grformer.FormatBytes(cfg.MaxMemory), grformer.FormatBytes(max(per, 0)), cfg.Concurrency, grformer.FormatBytes(reserve), grformer.FormatBytes(minRequestMemory))
	}
	s := &Server{cfg: cfg, models: ms, reqMemory: per, log: cfg.Logger,
		slots: make(chan struct{}, cfg.Concurrency)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.metrics = newMetrics(cfg)
	mux := http.NewServeMux()
	mux.Handle(UpscalePath, s.instrument("upscale", http.HandlerFunc(s.handleUpscale)))
	mux.Handle("GET "+ModelsPath, s.instrument("models", http.HandlerFunc(s.handleModels)))
	mux.Handle("GET "+HealthPath, s.instrument("healthz", http.HandlerFunc(s.handleHealth)))
	mux.Handle("GET "+ReadyPath, s.instrument("readyz", http.HandlerFunc(s.handleReady)))
	mux.Handle("GET "+MetricsPath, s.metrics.handler())
	mux.Handle("/", s.instrument("web", webHandler()))
	s.handler = mux
	return s, nil
}

// fill applies the defaults and checks the values.
func (c *Config) fill() error {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	switch {
	case c.Queue == 0:
		c.Queue = DefaultQueue
	case c.Queue < 0:
		c.Queue = 0
	}
	if c.Threads == 0 {
		c.Threads = max(1, runtime.GOMAXPROCS(0)/max(c.Concurrency, 1))
	}
	def(&c.MaxMemory, DefaultMaxMemory)
	def(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	def(&c.MaxPixels, DefaultMaxPixels)
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	switch {
	case c.Concurrency < 0:
		return fmt.Errorf("server: concurrency %d is negative", c.Concurrency)
	case c.Threads < 0:
		return fmt.Errorf("server: threads %d is negative", c.Threads)
	case c.MaxMemory < 0, c.MaxBodyBytes < 0, c.MaxPixels < 0:
		return errors.New("server: memory, body and pixel limits must be positive")
	case c.Timeout < 0, c.ShutdownTimeout < 0, c.DrainDelay < 0:
		return errors.New("server: timeouts must be positive")
	case c.Tile < 0:
		return fmt.Errorf("server: tile %d is negative", c.Tile)
	}
	return nil
}

// Config returns the configuration with the defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// RequestMemory is each upscale's share of Config.MaxMemory, in bytes.
func (s *Server) RequestMemory() int64 { return s.reqMemory }

// Handler returns the HTTP handler of all the endpoints.
func (s *Server) Handler() http.Handler { return s.handler }

// Ready reports whether the server accepts upscales: false once Run's
// context is done (shutting down).
func (s *Server) Ready() bool { return !s.draining.Load() }

// ListenAndServe listens on Config.Addr and runs Run.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	return s.Run(ctx, ln)
}

// Run serves on ln until ctx is done, then shuts down gracefully: /readyz
// and new upscales answer 503 from then on; after Config.DrainDelay the
// listener closes and Run waits, up to Config.ShutdownTimeout, for the
// requests in flight and in the queue to finish, then cancels those left.
// It returns nil after a graceful shutdown, or the error that stopped
// serving.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	base, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "models", s.scales(),
		"concurrency", s.cfg.Concurrency, "queue", s.cfg.Queue, "threads", s.cfg.Threads,
		"max_memory", s.cfg.MaxMemory, "request_memory", s.reqMemory)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down", "drain_delay", s.cfg.DrainDelay.String(), "in_flight", s.admitted.Load())
	if s.cfg.DrainDelay > 0 {
		time.Sleep(s.cfg.DrainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		// Out of time: cancel the upscales left, and close.
		cancelAll()
		hs.Close()
		s.log.Warn("shutdown timed out; cancelled the requests left", "err", err)
		return fmt.Errorf("server: shutdown: %w", err)
	}
	s.log.Info("shut down")
	return nil
}

func (s *Server) scales() []int {
	var sc []int
	for _, m := range s.models {
		sc = append(sc, m.Model.Scale())
	}
	return sc
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "shutting down\n")
		return
	}
	io.WriteString(w, "ready\n")
}

// ModelInfo describes a loaded model in the /v1/models answer.
type ModelInfo struct {
	Scale    int    `json:"scale"`
	Name     string `json:"name"`
	Source   string `json:"source"`
	Params   int    `json:"params"`
	EmbedDim int    `json:"embed_dim"`
	Blocks   int    `json:"blocks"`
	Window   [2]int `json:"window"`
	Default  bool   `json:"default"`
}

// ModelsResponse is the /v1/models answer: the models and the limits a
// client should respect.
type ModelsResponse struct {
	Models []ModelInfo `json:"models"`
	Limits Limits      `json:"limits"`
}

// Limits are the request limits of the server.
type Limits struct {
	MaxBodyBytes   int64    `json:"max_body_bytes"`
	MaxPixels      int64    `json:"max_pixels"`
	TimeoutSeconds float64  `json:"timeout_seconds"`
	InputFormats   []string `json:"input_formats"`
	OutputFormats  []string `json:"output_formats"`
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	var resp ModelsResponse
	for i, m := range s.models {
		c := m.Model.Config()
		blocks := 0
		for _, d := range c.Depths {
			blocks += d
		}
		resp.Models = append(resp.Models, ModelInfo{Scale: c.Scale, Name: m.Name, Source: m.Source,
			Params: c.NumParams(), EmbedDim: c.EmbedDim, Blocks: blocks, Window: c.Window, Default: i == 0})
	}
	resp.Limits = Limits{MaxBodyBytes: s.cfg.MaxBodyBytes, MaxPixels: s.cfg.MaxPixels,
		TimeoutSeconds: s.cfg.Timeout.Seconds(),
		InputFormats:   []string{"png", "jpeg", "webp", "bmp", "tiff"},
		OutputFormats:  []string{"png", "jpeg"}}
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
