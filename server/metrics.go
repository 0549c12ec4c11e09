package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, in a registry of its own
// (so that several servers can live in one process, as in tests), with the
// Go runtime's and the process's collectors.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec   // handler, code
	latency   *prometheus.HistogramVec // code; upscale requests only
	queue     prometheus.Gauge
	inFlight  prometheus.Gauge
	inPixels  prometheus.Counter
	outPixels prometheus.Counter
	passes    prometheus.Counter
}

func newMetrics(cfg Config) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grformer_http_requests_total",
			Help: "HTTP requests answered, by handler and status code (499: the client went away first).",
		}, []string{"handler", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grformer_upscale_duration_seconds",
			Help:    "Time from receiving an upscale request to the end of its answer, queue included, by status code.",
			Buckets: []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 600},
		}, []string{"code"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "grformer_queue_length",
			Help: "Upscale requests waiting for a slot.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "grformer_in_flight_requests",
			Help: "Upscale requests holding a slot (reading, decoding, upscaling or sending).",
		}),
		inPixels: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grformer_input_pixels_total",
			Help: "Pixels of the images upscaled successfully.",
		}),
		outPixels: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grformer_output_pixels_total",
			Help: "Pixels of the results of successful upscales.",
		}),
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grformer_forward_passes_total",
			Help: "Forward passes of the model (tiles, times 8 with tta), cancelled requests included.",
		}),
	}
	limit := func(name, help string, v int) prometheus.Collector {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(float64(v))
		return g
	}
	m.reg.MustRegister(m.requests, m.latency, m.queue, m.inFlight, m.inPixels, m.outPixels, m.passes,
		limit("grformer_concurrency_limit", "Upscales run at once (Config.Concurrency).", cfg.Concurrency),
		limit("grformer_queue_limit", "Upscale requests that may wait (Config.Queue).", cfg.Queue),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// recorder remembers the status written through it; handlers may set code
// themselves for answers never sent (499).
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// recorderOf returns the recorder instrument put around w, or a throwaway
// one.
func recorderOf(w http.ResponseWriter) *recorder {
	if r, ok := w.(*recorder); ok {
		return r
	}
	return &recorder{ResponseWriter: w}
}

// instrument counts the answers of h by code and, for upscales, observes
// their duration; a handler that panics (an answer cut short) is counted
// too.
func (s *Server) instrument(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		start := time.Now()
		defer func() {
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			c := strconv.Itoa(code)
			s.metrics.requests.WithLabelValues(name, c).Inc()
			if name == "upscale" {
				s.metrics.latency.WithLabelValues(c).Observe(time.Since(start).Seconds())
			}
		}()
		h.ServeHTTP(rec, r)
	})
}
