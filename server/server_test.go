package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grformer/grformer"
	"github.com/grformer/grformer/imageio"
)

const golden = "../testdata/golden"

var (
	loadOnce sync.Once
	tinyX2   *grformer.Model
	tinyX3   *grformer.Model
	loadErr  error
)

// tinyModels loads the tiny golden x2 and x3 models (fast to run).
func tinyModels(t *testing.T) []Model {
	t.Helper()
	loadOnce.Do(func() {
		if tinyX2, loadErr = grformer.Load(golden + "/tiny_x2/weights.pth"); loadErr != nil {
			return
		}
		tinyX3, loadErr = grformer.Load(golden + "/tiny_x3/weights.pth")
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return []Model{{tinyX2, "tiny_x2", "test"}, {tinyX3, "tiny_x3", "test"}}
}

// newTest starts a server with the tiny models on an httptest server.
func newTest(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(cfg, tinyModels(t))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

// picture encodes a w x h gradient with a disc as PNG (or JPEG).
func picture(t *testing.T, w, h int, format string) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(255 * x / w), uint8(255 * y / h), 128, 255}
			if (x-w/2)*(x-w/2)+(y-h/2)*(y-h/2) < h*h/9 {
				c = color.NRGBA{240, 240, 240, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	} else {
		err = png.Encode(&b, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func post(t *testing.T, ctx context.Context, url, query string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+UpscalePath+query, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func mustPost(t *testing.T, url, query string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, b, err := post(t, context.Background(), url, query, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// metric reads one sample of the server's /metrics, e.g.
// `grformer_http_requests_total{code="200",handler="upscale"}`; 0 if absent.
func metric(t *testing.T, url, sample string) float64 {
	t.Helper()
	resp, err := http.Get(url + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUpscale checks the answers to good requests: sizes, formats, headers,
// and that the pixels are exactly the library's.
func TestUpscale(t *testing.T) {
	_, ts := newTest(t, Config{})
	pngIn := picture(t, 40, 30, "png")
	webp, err := os.ReadFile("../testdata/upscale/photo.webp")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query string
		body        []byte
		format      string // of the answer
		w, h, scale int
	}{
		{"png default x2", "", pngIn, "png", 80, 60, 2},
		{"scale 3", "?scale=3", pngIn, "png", 120, 90, 3},
		{"jpeg in keeps jpeg", "?quality=80", picture(t, 40, 30, "jpeg"), "jpeg", 80, 60, 2},
		{"format jpeg", "?format=jpg&quality=70", pngIn, "jpeg", 80, 60, 2},
		{"webp in gives png", "", webp, "png", 300, 206, 2},
		{"outscale 1.5 uses x2", "?outscale=1.5", pngIn, "png", 60, 45, 2},
		{"outscale 2.5 uses x3", "?outscale=2.5", pngIn, "png", 100, 75, 3},
		{"tta", "?tta=true&alpha=bicubic", pngIn, "png", 80, 60, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := mustPost(t, ts.URL, tc.query, tc.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "image/"+tc.format {
				t.Errorf("Content-Type %q, want image/%s", ct, tc.format)
			}
			if got := resp.Header.Get("X-Grformer-Scale"); got != strconv.Itoa(tc.scale) {
				t.Errorf("X-Grformer-Scale %s, want %d", got, tc.scale)
			}
			cfg, err := imageio.DecodeConfig(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Format != tc.format || cfg.Width != tc.w || cfg.Height != tc.h {
				t.Errorf("got %s %dx%d, want %s %dx%d", cfg.Format, cfg.Width, cfg.Height, tc.format, tc.w, tc.h)
			}
			if want := strconv.Itoa(tc.w) + "x" + strconv.Itoa(tc.h); resp.Header.Get("X-Grformer-Output-Size") != want {
				t.Errorf("X-Grformer-Output-Size %q, want %s", resp.Header.Get("X-Grformer-Output-Size"), want)
			}
		})
	}

	// The answer is exactly what the library and imageio give.
	img, err := imageio.Decode(bytes.NewReader(pngIn), imageio.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tinyX2.UpscaleImage(context.Background(), img, grformer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := imageio.Encode(&want, res, imageio.EncodeOptions{Format: "png"}); err != nil {
		t.Fatal(err)
	}
	if _, body := mustPost(t, ts.URL, "", pngIn); !bytes.Equal(body, want.Bytes()) {
		t.Error("the served PNG differs from the library's result")
	}

	// Counted in the metrics.
	if n := metric(t, ts.URL, `grformer_http_requests_total{code="200",handler="upscale"}`); n != 9 {
		t.Errorf("requests with 200: %v, want 9", n)
	}
	if n := metric(t, ts.URL, `grformer_input_pixels_total`); n < 8*1200 {
		t.Errorf("input pixels %v, want at least %d", n, 8*1200)
	}
	if n := metric(t, ts.URL, `grformer_upscale_duration_seconds_count{code="200"}`); n != 9 {
		t.Errorf("latency observations %v, want 9", n)
	}
	if n := metric(t, ts.URL, `grformer_forward_passes_total`); n < 9+7 {
		t.Errorf("forward passes %v, want at least 16 (tta makes 8)", n)
	}
}

func TestModelsHealthReady(t *testing.T) {
	_, ts := newTest(t, Config{MaxPixels: 1000})
	resp, err := http.Get(ts.URL + ModelsPath)
	if err != nil {
		t.Fatal(err)
	}
	var mr ModelsResponse
	err = json.NewDecoder(resp.Body).Decode(&mr)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(mr.Models) != 2 || mr.Models[0].Scale != 2 || mr.Models[1].Scale != 3 || !mr.Models[0].Default || mr.Models[1].Default {
		t.Errorf("models %+v, want x2 (default) and x3", mr.Models)
	}
	if p := tinyX2.Config().NumParams(); mr.Models[0].Params != p || p == 0 {
		t.Errorf("x2 params %d, want %d", mr.Models[0].Params, p)
	}
	if mr.Limits.MaxPixels != 1000 || mr.Limits.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Errorf("limits %+v", mr.Limits)
	}
	for _, p := range []string{HealthPath, ReadyPath, "/", "/app.js", "/style.css"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) == 0 {
			t.Errorf("GET %s: %d, %d bytes", p, resp.StatusCode, len(b))
		}
	}
	if resp, _ := http.Get(ts.URL + "/nothing"); resp.StatusCode != 404 {
		t.Errorf("GET /nothing: %d, want 404", resp.StatusCode)
	}
	if n := metric(t, ts.URL, `grformer_http_requests_total{code="200",handler="healthz"}`); n != 1 {
		t.Errorf("healthz count %v, want 1", n)
	}
	for _, m := range []string{"grformer_queue_length", "grformer_in_flight_requests", "grformer_concurrency_limit", "go_goroutines", "process_resident_memory_bytes"} {
		resp, _ := http.Get(ts.URL + MetricsPath)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(b, []byte("\n"+m+" ")) {
			t.Errorf("/metrics has no %s", m)
		}
	}
}

// TestRefusals checks each refusal's status and that it costs nothing.
func TestRefusals(t *testing.T) {
	_, ts := newTest(t, Config{MaxBodyBytes: 64 << 10, MaxPixels: 1 << 20})
	bomb, err := os.ReadFile("../testdata/imageio/bomb.png") // 100000x100000 declared
	if err != nil {
		t.Fatal(err)
	}
	truncated, err := os.ReadFile("../testdata/imageio/truncated.png")
	if err != nil {
		t.Fatal(err)
	}
	small := picture(t, 16, 16, "png")
	big := make([]byte, 65<<10)
	copy(big, small)
	for _, tc := range []struct {
		name, method, query string
		body                []byte
		chunked             bool
		code                int
		msg                 string
	}{
		{"oversize body", "POST", "", big, false, 413, "over the limit"},
		{"oversize chunked body", "POST", "", big, true, 413, "over the limit"},
		{"bomb header", "POST", "", bomb, false, 413, "100000x100000"},
		{"wrong format", "POST", "", []byte("GIF89a, or rather some text that is no image"), false, 415, "unknown image format"},
		{"corrupt png", "POST", "", truncated, false, 400, "png"},
		{"empty body", "POST", "", nil, false, 400, "empty body"},
		{"GET", "GET", "", nil, false, 405, "POST"},
		{"unknown parameter", "POST", "?scael=2", small, false, 400, "unknown parameter"},
		{"scale not loaded", "POST", "?scale=4", small, false, 400, "no x4 model"},
		{"bad scale", "POST", "?scale=two", small, false, 400, "scale"},
		{"bad outscale", "POST", "?outscale=-1", small, false, 400, "outscale"},
		{"huge outscale", "POST", "?outscale=1e9", small, false, 400, "outscale"},
		{"bad format", "POST", "?format=gif", small, false, 400, "format"},
		{"bad quality", "POST", "?quality=101", small, false, 400, "quality"},
		{"bad tta", "POST", "?tta=maybe", small, false, 400, "tta"},
		{"bad alpha", "POST", "?alpha=nearest", small, false, 400, "alpha"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length: chunked
			}
			req, err := http.NewRequest(tc.method, ts.URL+UpscalePath+tc.query, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct{ Error string }
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, b)
			}
			if err := json.Unmarshal(b, &e); err != nil || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("answer %q: want JSON with an error containing %q", b, tc.msg)
			}
		})
	}
	if n := metric(t, ts.URL, `grformer_forward_passes_total`); n != 0 {
		t.Errorf("%v forward passes for refused requests", n)
	}
	if n := metric(t, ts.URL, `grformer_http_requests_total{code="413",handler="upscale"}`); n != 3 {
		t.Errorf("413 count %v, want 3", n)
	}
}

// TestMemoryShare: an image whose result does not fit the per-request
// share is refused with 413 before the model runs, and the share follows
// MaxMemory and Concurrency.
func TestMemoryShare(t *testing.T) {
	s, ts := newTest(t, Config{MaxMemory: 200 << 20, Concurrency: 4, MaxPixels: 1 << 30, MaxBodyBytes: 1 << 30})
	if per := s.RequestMemory(); per > (200<<20-baseMemory)/4 || per < 30<<20 {
		t.Fatalf("per-request share %d", per)
	}
	// 2000x2000 -> 4000x4000 x2: the float result alone is 192 MB.
	resp, body := mustPost(t, ts.URL, "", picture(t, 2000, 2000, "png"))
	if resp.StatusCode != 413 || !bytes.Contains(body, []byte("per request")) {
		t.Errorf("status %d %s, want 413 naming the share", resp.StatusCode, body)
	}
	if n := metric(t, ts.URL, `grformer_forward_passes_total`); n != 0 {
		t.Errorf("%v forward passes for a refused image", n)
	}
	if _, err := New(Config{MaxMemory: 100 << 20, Concurrency: 8}, tinyModels(t)); err == nil {
		t.Error("New accepted 100 MiB for 8 requests")
	}
}

// block makes the server's upscales wait, after their first forward pass,
// until release is closed or their context ends; started gets one value
// per upscale that reached it.
type block struct {
	started chan struct{}
	release chan struct{}
}

func blocking(s *Server) *block {
	b := &block{started: make(chan struct{}, 16), release: make(chan struct{})}
	s.progress = func(ctx context.Context, done, total int) {
		if done != 1 {
			return
		}
		b.started <- struct{}{}
		select {
		case <-b.release:
		case <-ctx.Done():
		}
	}
	return b
}

// TestQueueFull: with one slot and a queue of one, a third request gets
// 429 at once, and the other two complete.
func TestQueueFull(t *testing.T) {
	s, ts := newTest(t, Config{Concurrency: 1, Queue: 1})
	b := blocking(s)
	in := picture(t, 24, 24, "png")
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			resp, _, err := post(t, context.Background(), ts.URL, "", in)
			if err != nil {
				codes <- -1
				return
			}
			codes <- resp.StatusCode
		}()
	}
	<-b.started
	waitFor(t, "a queued request", func() bool { return s.admitted.Load() == 2 })
	if q := metric(t, ts.URL, "grformer_queue_length"); q != 1 {
		t.Errorf("queue length %v, want 1", q)
	}
	if q := metric(t, ts.URL, "grformer_in_flight_requests"); q != 1 {
		t.Errorf("in flight %v, want 1", q)
	}
	resp, body := mustPost(t, ts.URL, "", in)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third request: %d (Retry-After %q) %s, want 429", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	close(b.release)
	for range 2 {
		if c := <-codes; c != 200 {
			t.Errorf("blocked request: %d, want 200", c)
		}
	}
	if n := metric(t, ts.URL, `grformer_http_requests_total{code="429",handler="upscale"}`); n != 1 {
		t.Errorf("429 count %v", n)
	}
}

// TestClientGone: a client that goes away cancels its upscale between
// forward passes: fewer passes than planned run, and 499 is counted.
func TestClientGone(t *testing.T) {
	s, ts := newTest(t, Config{})
	var mu sync.Mutex
	var last, total int
	b := &block{started: make(chan struct{}, 1)}
	s.progress = func(ctx context.Context, done, tot int) {
		mu.Lock()
		last, total = done, tot
		mu.Unlock()
		if done == 1 {
			b.started <- struct{}{}
			select { // wait until the server sees the client go
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := post(t, ctx, ts.URL, "?tta=true", picture(t, 32, 32, "png")) // 8 passes
		errc <- err
	}()
	<-b.started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error %v, want context.Canceled", err)
	}
	waitFor(t, "the upscale to stop", func() bool { return s.admitted.Load() == 0 })
	mu.Lock()
	defer mu.Unlock()
	if last != 1 || total != 8 {
		t.Errorf("ran %d of %d passes, want 1 of 8", last, total)
	}
	waitFor(t, "499 counted", func() bool {
		return metric(t, ts.URL, `grformer_http_requests_total{code="499",handler="upscale"}`) == 1
	})
}

// TestTimeout: past Config.Timeout the upscale stops with 504, and a
// request that times out in the queue gets 504 too.
func TestTimeout(t *testing.T) {
	s, ts := newTest(t, Config{Timeout: 300 * time.Millisecond, Concurrency: 1})
	// The first upscale holds its slot, past its deadline, until release.
	b := &block{started: make(chan struct{}, 1), release: make(chan struct{})}
	s.progress = func(ctx context.Context, done, total int) {
		if done == 1 {
			b.started <- struct{}{}
			<-b.release
		}
	}
	in := picture(t, 24, 24, "png")
	codes := make(chan int, 1)
	go func() {
		resp, _ := mustPost(t, ts.URL, "?tta=1", in)
		codes <- resp.StatusCode
	}()
	<-b.started
	resp, body := mustPost(t, ts.URL, "", in) // waits in the queue
	if resp.StatusCode != http.StatusGatewayTimeout || !bytes.Contains(body, []byte("queue")) {
		t.Errorf("queued: %d %s, want 504 in the queue", resp.StatusCode, body)
	}
	close(b.release)
	if c := <-codes; c != http.StatusGatewayTimeout {
		t.Errorf("running: %d, want 504", c)
	}
}

// TestShutdownDuringRequest: when Run's context ends during an upscale,
// /readyz and new upscales get 503 while draining, the running request
// completes with its image, and Run returns nil.
func TestShutdownDuringRequest(t *testing.T) {
	s, err := New(Config{DrainDelay: 300 * time.Millisecond}, tinyModels(t))
	if err != nil {
		t.Fatal(err)
	}
	b := blocking(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx, ln) }()

	type answer struct {
		code int
		body []byte
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, body, err := post(t, context.Background(), url, "?tta=true", picture(t, 24, 20, "png"))
		if err != nil {
			done <- answer{err: err}
			return
		}
		done <- answer{resp.StatusCode, body, nil}
	}()
	<-b.started
	stop() // what SIGTERM does in grformer serve
	waitFor(t, "draining", func() bool { return !s.Ready() })
	// A fresh connection during the drain delay.
	tr := &http.Transport{DisableKeepAlives: true}
	c := &http.Client{Transport: tr}
	if resp, err := c.Get(url + ReadyPath); err != nil || resp.StatusCode != 503 {
		t.Errorf("readyz while draining: %v %v, want 503", resp, err)
	}
	req, _ := http.NewRequest("POST", url+UpscalePath, bytes.NewReader(picture(t, 8, 8, "png")))
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 503 {
		t.Errorf("upscale while draining: %v %v, want 503", resp, err)
	}
	close(b.release)
	a := <-done
	if a.err != nil || a.code != 200 {
		t.Fatalf("in-flight request: %d %v", a.code, a.err)
	}
	if cfg, err := imageio.DecodeConfig(bytes.NewReader(a.body)); err != nil || cfg.Width != 48 || cfg.Height != 40 {
		t.Errorf("in-flight result %+v %v, want a 48x40 image", cfg, err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := c.Get(url + HealthPath); err == nil {
		t.Error("the listener is still open after Run returned")
	}
}

func TestConfigErrors(t *testing.T) {
	ms := tinyModels(t)
	for _, tc := range []struct {
		cfg    Config
		models []Model
	}{
		{Config{}, nil},
		{Config{Concurrency: -1}, ms},
		{Config{Threads: -2}, ms},
		{Config{Timeout: -time.Second}, ms},
		{Config{Tile: -1}, ms},
		{Config{MaxMemory: 40 << 20}, ms},
		{Config{}, []Model{ms[0], ms[0]}},
	} {
		if _, err := New(tc.cfg, tc.models); err == nil {
			t.Errorf("New(%+v, %d models) accepted", tc.cfg, len(tc.models))
		}
	}
	s, err := New(Config{Concurrency: 3}, ms)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c.Threads < 1 || c.Queue != DefaultQueue || c.Addr != DefaultAddr {
		t.Errorf("defaults not filled: %+v", c)
	}
}
