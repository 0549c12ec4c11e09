package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/imageio"
)

// statusClientGone is the status recorded (never sent) for a request whose
// client went away before the answer: nginx's 499.
const statusClientGone = 499

// maxOutscale bounds the outscale parameter.
const maxOutscale = 16

// params are the query parameters of an upscale request.
type params struct {
	scale    int     // 0: chosen
	outscale float64 // 0: the model's scale
	format   string  // "": the input's if PNG or JPEG, else png
	quality  int
	tta      bool
	alpha    grformer.AlphaMode
}

// httpError is an error with the status it is answered with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *httpError {
	return &httpError{code, fmt.Sprintf(format, args...)}
}

var knownParams = []string{"scale", "outscale", "format", "quality", "tta", "alpha"}

func parseParams(q url.Values) (params, error) {
	p := params{quality: imageio.DefaultJPEGQuality, alpha: grformer.AlphaModel}
	for k := range q {
		if !containsString(knownParams, k) {
			return p, errorf(http.StatusBadRequest, "unknown parameter %q (known: %s)", k, strings.Join(knownParams, ", "))
		}
	}
	var err error
	if v := q.Get("scale"); v != "" {
		if p.scale, err = strconv.Atoi(v); err != nil || p.scale < 1 {
			return p, errorf(http.StatusBadRequest, "scale %q: want 2, 3 or 4", v)
		}
	}
	if v := q.Get("outscale"); v != "" {
		p.outscale, err = strconv.ParseFloat(v, 64)
		if err != nil || !(p.outscale > 0) || p.outscale > maxOutscale {
			return p, errorf(http.StatusBadRequest, "outscale %q: want a factor in (0, %d]", v, maxOutscale)
		}
	}
	switch v := strings.ToLower(q.Get("format")); v {
	case "":
	case "png":
		p.format = "png"
	case "jpeg", "jpg":
		p.format = "jpeg"
	default:
		return p, errorf(http.StatusBadRequest, "format %q: want png or jpeg", v)
	}
	if v := q.Get("quality"); v != "" {
		if p.quality, err = strconv.Atoi(v); err != nil || p.quality < 1 || p.quality > 100 {
			return p, errorf(http.StatusBadRequest, "quality %q: want 1 to 100", v)
		}
	}
	if v := q.Get("tta"); v != "" {
		if p.tta, err = strconv.ParseBool(v); err != nil {
			return p, errorf(http.StatusBadRequest, "tta %q: want true or false", v)
		}
	}
	if p.alpha, err = grformer.ParseAlphaMode(q.Get("alpha")); err != nil {
		return p, errorf(http.StatusBadRequest, "%v", err)
	}
	return p, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// model picks the model for p: the one of p.scale; else, with an
// outscale, the smallest scale that reaches it (the largest if none does);
// else the smallest scale.
func (s *Server) model(p params) (*grformer.Model, error) {
	if p.scale != 0 {
		for _, m := range s.models {
			if m.Model.Scale() == p.scale {
				return m.Model, nil
			}
		}
		return nil, errorf(http.StatusBadRequest, "no x%d model loaded (loaded: %s)", p.scale, s.scaleList())
	}
	if p.outscale > 0 {
		for _, m := range s.models {
			if float64(m.Model.Scale()) >= p.outscale {
				return m.Model, nil
			}
		}
		return s.models[len(s.models)-1].Model, nil
	}
	return s.models[0].Model, nil
}

func (s *Server) scaleList() string {
	var b []string
	for _, sc := range s.scales() {
		b = append(b, "x"+strconv.Itoa(sc))
	}
	return strings.Join(b, ", ")
}

// handleUpscale answers POST /v1/upscale. The order of the checks keeps
// refusals cheap: parameters and the declared body size before the queue,
// the pixel count from the header before decoding, the memory plan before
// the model runs.
func (s *Server) handleUpscale(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := recorderOf(w)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.fail(w, r, errorf(http.StatusMethodNotAllowed, "use POST with the image as the body"))
		return
	}
	if !s.Ready() {
		w.Header().Set("Retry-After", "5")
		s.fail(w, r, errorf(http.StatusServiceUnavailable, "shutting down"))
		return
	}
	p, err := parseParams(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.model(p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		s.fail(w, r, errorf(http.StatusRequestEntityTooLarge, "body of %d bytes over the limit of %d", r.ContentLength, s.cfg.MaxBodyBytes))
		return
	}

	// Admission: Concurrency running plus Queue waiting, no more.
	if n := s.admitted.Add(1); n > int64(s.cfg.Concurrency+s.cfg.Queue) {
		s.admitted.Add(-1)
		w.Header().Set("Retry-After", "1")
		s.fail(w, r, errorf(http.StatusTooManyRequests, "queue full (%d running, %d waiting); retry later", s.cfg.Concurrency, s.cfg.Queue))
		return
	}
	defer s.admitted.Add(-1)

	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	// The deadline also bounds reading the body; writing the answer gets
	// a Timeout of its own (writeDeadline).
	_ = http.NewResponseController(w).SetReadDeadline(start.Add(s.cfg.Timeout))

	s.metrics.queue.Inc()
	select {
	case s.slots <- struct{}{}:
		s.metrics.queue.Dec()
	case <-ctx.Done():
		s.metrics.queue.Dec()
		s.fail(w, r, ctxError(ctx, r, "in the queue"))
		return
	}
	defer func() { <-s.slots }()
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	queued := time.Since(start)

	info, err := s.upscale(ctx, w, r, m, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("upscale", "status", rec.code, "in", fmt.Sprintf("%dx%d", info.inW, info.inH),
		"out", fmt.Sprintf("%dx%d", info.outW, info.outH), "scale", m.Scale(), "tta", p.tta,
		"format", info.format, "queue_s", queued.Seconds(), "total_s", time.Since(start).Seconds())
}

// done describes a finished upscale.
type done struct {
	inW, inH, outW, outH int
	format               string
}

// upscale reads, checks, decodes, upscales and encodes one image, writing
// the answer. An error means nothing was written.
func (s *Server) upscale(ctx context.Context, w http.ResponseWriter, r *http.Request, m *grformer.Model, p params) (done, error) {
	var d done
	t0 := time.Now()
	body, err := readBody(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), r.ContentLength)
	if err != nil {
		if mb := (*http.MaxBytesError)(nil); errors.As(err, &mb) {
			return d, errorf(http.StatusRequestEntityTooLarge, "body over the limit of %d bytes", mb.Limit)
		}
		if ctx.Err() != nil {
			return d, ctxError(ctx, r, "reading the body")
		}
		return d, errorf(http.StatusBadRequest, "reading the body: %v", err)
	}
	if len(body) == 0 {
		return d, errorf(http.StatusBadRequest, "empty body: send the image file as the request body")
	}
	tRead := time.Since(t0)

	cfg, err := imageio.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		return d, decodeError(err)
	}
	n := int64(cfg.Width) * int64(cfg.Height)
	if n > s.cfg.MaxPixels {
		return d, errorf(http.StatusRequestEntityTooLarge, "%s image %dx%d is %d pixels, over the limit of %d",
			cfg.Format, cfg.Width, cfg.Height, n, s.cfg.MaxPixels)
	}
	if need := int64(cap(body)) + decodeMemory(n, cfg.Orientation); need > s.reqMemory {
		return d, errorf(http.StatusRequestEntityTooLarge, "decoding a %dx%d image needs about %s, over this server's %s per request",
			cfg.Width, cfg.Height, grformer.FormatBytes(need), grformer.FormatBytes(s.reqMemory))
	}
	format := p.format
	if format == "" {
		format = "png"
		if cfg.Format == "jpeg" {
			format = "jpeg"
		}
	}
	sc := m.Scale()
	ow, oh := cfg.Width*sc, cfg.Height*sc
	if p.outscale > 0 && p.outscale != float64(sc) {
		ow = max(1, int(math.Round(p.outscale*float64(cfg.Width))))
		oh = max(1, int(math.Round(p.outscale*float64(cfg.Height))))
	}
	if format == "jpeg" && (ow > 65535 || oh > 65535) {
		return d, errorf(http.StatusRequestEntityTooLarge, "a %dx%d result is too large for JPEG (65535 at most); ask for png", ow, oh)
	}

	t1 := time.Now()
	img, err := imageio.Decode(bytes.NewReader(body), imageio.DecodeOptions{MaxPixels: s.cfg.MaxPixels})
	if err != nil {
		return d, decodeError(err)
	}
	extra := int64(cap(body)) + grformer.ExtraMemory(img, sc, ow, oh, format)
	opt := grformer.Options{Threads: s.cfg.Threads, Tile: s.cfg.Tile, TTA: p.tta, Alpha: p.alpha,
		MaxMemory: s.reqMemory - extra,
		Progress: func(done, total int) {
			if done > 0 {
				s.metrics.passes.Inc()
			}
			if s.progress != nil {
				s.progress(ctx, done, total)
			}
		}}
	if opt.MaxMemory <= minRequestMemory/4 {
		return d, errorf(http.StatusRequestEntityTooLarge, "a %dx%d image and its %dx%d result need about %s besides the model, over this server's %s per request",
			img.W, img.H, ow, oh, grformer.FormatBytes(extra), grformer.FormatBytes(s.reqMemory))
	}
	tDecode := time.Since(t1)

	t2 := time.Now()
	res, err := m.UpscaleImage(ctx, img, opt)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return d, ctxError(ctx, r, "upscaling")
		case errors.Is(err, grformer.ErrMemoryBudget):
			return d, errorf(http.StatusRequestEntityTooLarge, "%v (this server's share per request is %s)", err, grformer.FormatBytes(s.reqMemory))
		case errors.Is(err, grformer.ErrEmptyImage):
			return d, errorf(http.StatusBadRequest, "%v", err)
		}
		return d, errorf(http.StatusInternalServerError, "upscaling: %v", err)
	}
	if ow != res.W || oh != res.H {
		if res, err = grformer.Resize(res, ow, oh); err != nil {
			return d, errorf(http.StatusInternalServerError, "resizing: %v", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return d, ctxError(ctx, r, "upscaling")
	}
	tUpscale := time.Since(t2)
	s.metrics.inPixels.Add(float64(img.W * img.H))
	s.metrics.outPixels.Add(float64(res.W * res.H))

	h := w.Header()
	h.Set("Content-Type", "image/"+format)
	h.Set("X-Grformer-Scale", strconv.Itoa(sc))
	h.Set("X-Grformer-Input-Size", fmt.Sprintf("%dx%d", img.W, img.H))
	h.Set("X-Grformer-Output-Size", fmt.Sprintf("%dx%d", res.W, res.H))
	h.Set("Server-Timing", fmt.Sprintf("read;dur=%.1f, decode;dur=%.1f, upscale;dur=%.1f",
		ms(tRead), ms(tDecode), ms(tUpscale)))
	h.Set("Cache-Control", "no-store")
	s.writeDeadline(w)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	err = imageio.Encode(bw, res, imageio.EncodeOptions{Format: format, Quality: p.quality})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		// The status is sent: all that is left is to cut the answer short
		// so that the client sees an error, not a truncated image.
		rec := recorderOf(w)
		rec.code = statusClientGone
		if r.Context().Err() == nil {
			rec.code = http.StatusInternalServerError
		}
		s.log.Warn("upscale: writing the answer", "err", err)
		panic(http.ErrAbortHandler)
	}
	return done{img.W, img.H, res.W, res.H, format}, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// readBody reads the whole body, in one allocation when its length is
// known.
func readBody(r io.Reader, length int64) ([]byte, error) {
	if length > 0 {
		b := make([]byte, length)
		n, err := io.ReadFull(r, b)
		if err != nil {
			return nil, err
		}
		// Reach EOF so that a body longer than announced is noticed.
		if k, _ := r.Read(make([]byte, 1)); k > 0 {
			return nil, errors.New("body longer than its Content-Length")
		}
		return b[:n], nil
	}
	return io.ReadAll(r)
}

// decodeError maps an imageio error to its status.
func decodeError(err error) error {
	switch {
	case errors.Is(err, imageio.ErrUnknownFormat):
		return errorf(http.StatusUnsupportedMediaType, "%v", err)
	case errors.Is(err, imageio.ErrTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "%v", err)
	}
	return errorf(http.StatusBadRequest, "%v", err)
}

// ctxError tells a timeout (504) from a client that went away (499).
func ctxError(ctx context.Context, r *http.Request, during string) error {
	if r.Context().Err() != nil {
		return errorf(statusClientGone, "client went away %s", during)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errorf(http.StatusGatewayTimeout, "timed out %s", during)
	}
	return errorf(http.StatusServiceUnavailable, "cancelled %s", during)
}

// fail answers err as JSON {"error": "..."} with its status (500 for
// errors without one); for a client that went away it only records 499.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	he, ok := err.(*httpError)
	if !ok {
		he = &httpError{http.StatusInternalServerError, err.Error()}
	}
	rec := recorderOf(w)
	if he.code == statusClientGone {
		rec.code = statusClientGone
	} else {
		s.writeDeadline(w)
		writeJSON(w, he.code, map[string]string{"error": he.msg})
	}
	lvl := s.log.Info
	switch {
	case he.code == http.StatusTooManyRequests:
		lvl = s.log.Debug // expected under load, counted in the metrics
	case he.code >= 500 && he.code != http.StatusServiceUnavailable:
		lvl = s.log.Warn
	}
	lvl("upscale refused", "status", he.code, "err", he.msg, "remote", r.RemoteAddr)
}

// writeDeadline gives writing the answer Config.Timeout from now.
func (s *Server) writeDeadline(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.Timeout))
}

// decodeMemory estimates the peak memory of decoding an image of n pixels:
// the decoder's image (8 bytes a pixel at most, 16-bit RGBA), the float
// planes (16 bytes a pixel with alpha) and, for an EXIF orientation, the
// rotated copy.
func decodeMemory(n int64, orientation int) int64 {
	b := 24 * n
	if orientation > 1 {
		b += 16 * n
	}
	return b
}
