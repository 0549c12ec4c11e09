package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grformer/grformer/server"
)

// runMainEnv makes the test binary run the grformer command line instead
// of the tests (see TestMain), so that tests can start a real grformer
// serve process and signal it.
const runMainEnv = "GRFORMER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenRe = regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)

// waitListening waits for the server's "listening" log line and returns
// its base URL.
func waitListening(t *testing.T, log *syncBuffer, exited <-chan struct{}) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		if m := listenRe.FindStringSubmatch(log.String()); m != nil {
			return "http://" + m[1]
		}
		select {
		case <-exited:
			t.Fatalf("server exited: %s", log.String())
		case <-deadline:
			t.Fatalf("server did not start: %s", log.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// serveProc is a grformer serve child process.
type serveProc struct {
	cmd    *exec.Cmd
	url    string
	log    *syncBuffer
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// startServe starts `grformer serve -addr 127.0.0.1:0 args...` as a child
// process (the test binary itself, see TestMain) with the extra
// environment env; it is killed at the end of the test if still running.
func startServe(t *testing.T, env []string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{log: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)...)
	p.cmd.Env = append(append(os.Environ(), runMainEnv+"=1"), env...)
	p.cmd.Stderr = p.log
	p.cmd.Stdout = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	p.url = waitListening(t, p.log, p.exited)
	return p
}

// metricOf reads one sample from /metrics; -1 if absent.
func metricOf(t *testing.T, url, sample string) float64 {
	t.Helper()
	resp, err := http.Get(url + server.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// gradientPNG is a w x h test picture.
func gradientPNG(t testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(255 * x / w), uint8(255 * y / h), uint8((x * y) % 256), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestServeSIGTERM sends SIGTERM to a grformer serve process during an
// upscale: the request completes with its image and the process exits 0.
func TestServeSIGTERM(t *testing.T) {
	p := startServe(t, nil, "-weights", tinyX2, "-shipped=false", "-threads", "1", "-concurrency", "1")
	type answer struct {
		code int
		body []byte
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		// The self-ensemble on 160x160: 8 passes, long enough to signal during.
		resp, err := http.Post(p.url+server.UpscalePath+"?tta=true", "image/png", bytes.NewReader(gradientPNG(t, 160, 160)))
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- answer{resp.StatusCode, b, err}
	}()
	for metricOf(t, p.url, "grformer_in_flight_requests") != 1 {
		time.Sleep(2 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err != nil || a.code != 200 {
		t.Fatalf("request in flight at SIGTERM: %d %v %s", a.code, a.err, a.body)
	}
	if img, err := png.DecodeConfig(bytes.NewReader(a.body)); err != nil || img.Width != 320 || img.Height != 320 {
		t.Errorf("result %+v %v, want a 320x320 PNG", img, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	if p.err != nil {
		t.Errorf("serve exited with %v: %s", p.err, p.log.String())
	}
	log := p.log.String()
	if !strings.Contains(log, "msg=\"shutting down\"") || !strings.Contains(log, "in_flight=1") || !strings.Contains(log, "msg=\"shut down\"") {
		t.Errorf("log does not show a shutdown with one request in flight:\n%s", log)
	}
}

// TestServeConfig: environment variables configure, flags win, bad values
// are named; the server shuts down when its context ends.
func TestServeConfig(t *testing.T) {
	env := map[string]string{
		"GRFORMER_QUEUE":       "3", // the flag wins
		"GRFORMER_MAX_PIXELS":  "100",
		"GRFORMER_CONCURRENCY": "3",
		"GRFORMER_ADDR":        "127.0.0.1:1", // the flag wins
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	log := &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- serveMain(ctx, []string{"-addr", "127.0.0.1:0", "-weights", tinyX2, "-shipped=false", "-queue", "5"}, getenv, log, log)
	}()
	exited := make(chan struct{})
	go func() {
		// waitListening fails the test if serveMain returns first.
		for {
			select {
			case err := <-errc:
				errc <- err
				close(exited)
				return
			case <-time.After(5 * time.Millisecond):
				if listenRe.MatchString(log.String()) {
					return
				}
			}
		}
	}()
	url := waitListening(t, log, exited)
	resp, err := http.Get(url + server.ModelsPath)
	if err != nil {
		t.Fatal(err)
	}
	var mr server.ModelsResponse
	json.NewDecoder(resp.Body).Decode(&mr)
	resp.Body.Close()
	if mr.Limits.MaxPixels != 100 || len(mr.Models) != 1 || mr.Models[0].Source != tinyX2 {
		t.Errorf("models %+v", mr)
	}
	if q := metricOf(t, url, "grformer_queue_limit"); q != 5 {
		t.Errorf("queue limit %v, want 5 (the flag over GRFORMER_QUEUE)", q)
	}
	if c := metricOf(t, url, "grformer_concurrency_limit"); c != 3 {
		t.Errorf("concurrency %v, want 3 (GRFORMER_CONCURRENCY)", c)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return")
	}

	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"GRFORMER_MAX_PIXELS": "lots"}, "GRFORMER_MAX_PIXELS"},
		{nil, map[string]string{"GRFORMER_MAX_MEMORY": "2 apples"}, "GRFORMER_MAX_MEMORY"},
		{[]string{"-concurrency", "0"}, nil, "-concurrency"},
		{[]string{"-queue", "-1"}, nil, "-queue"},
		{[]string{"-log-format", "xml"}, nil, "-log-format"},
		{[]string{"-shipped=false"}, nil, "no models"},
		{[]string{"-weights", tinyX2 + "," + tinyX2}, nil, "one per scale"},
		{[]string{"-weights", "nothing.pth"}, nil, "nothing.pth"},
		{[]string{"extra"}, nil, "no arguments"},
		{[]string{"-max-memory", "40MiB"}, nil, "memory budget"},
	} {
		err := serveMain(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, tc.args...),
			func(k string) string { return tc.env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want one naming %q", tc.args, tc.env, err, tc.want)
		}
	}
}
