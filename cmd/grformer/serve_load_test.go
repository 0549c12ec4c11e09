package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/grformer/grformer/server"
)

var serveLoad = flag.Duration("serve-load", 0,
	"run TestServeLoad with 32 clients for this long against the shipped x2 model (e.g. 60s); 0: the short run (4 clients, 12 requests, tiny model)")

// TestServeLoad runs a load test against a grformer serve process limited
// to 2 cores (GOMAXPROCS=2): clients post images in a loop, backing off
// 100-200 ms on 429 (deliberate refusals of a full queue), for a bounded
// time and number of requests, to 127.0.0.1 only. It fails on any other
// refusal or error and if the server's peak RSS exceeds its -max-memory,
// and logs the latency percentiles and the throughput.
//
//	go test -run TestServeLoad -serve-load 60s -v ./cmd/grformer
func TestServeLoad(t *testing.T) {
	type setup struct {
		clients     int
		duration    time.Duration
		maxRequests int64
		args        []string
		budget      int64
		body        []byte
		what        string
	}
	var s setup
	if *serveLoad > 0 {
		photo, err := os.ReadFile("../../testdata/upscale/photo.webp")
		if err != nil {
			t.Fatal(err)
		}
		s = setup{clients: 32, duration: *serveLoad, maxRequests: 100_000, budget: 512 << 20, body: photo,
			args: []string{"-concurrency", "2", "-queue", "8", "-max-memory", "512MiB"},
			what: "shipped light x2, photo.webp 150x103 -> 300x206 PNG"}
	} else {
		s = setup{clients: 4, duration: 60 * time.Second, maxRequests: 12, budget: 256 << 20, body: gradientPNG(t, 48, 40),
			args: []string{"-weights", tinyX2, "-shipped=false", "-concurrency", "1", "-queue", "1", "-max-memory", "256MiB"},
			what: "tiny x2, 48x40 PNG"}
	}
	p := startServe(t, []string{"GOMAXPROCS=2"}, s.args...)
	if !strings.HasPrefix(p.url, "http://127.0.0.1:") {
		t.Fatalf("load test only against 127.0.0.1, not %s", p.url)
	}
	pid := p.cmd.Process.Pid

	// Sample the server's RSS while the load runs.
	var maxRSS atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if v := procStatus(pid, "VmRSS"); v > maxRSS.Load() {
				maxRSS.Store(v)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	var (
		mu        sync.Mutex
		latencies []time.Duration
		services  []time.Duration // the model's time, from Server-Timing
		failures  []string
		refused   atomic.Int64 // 429s
		sent      atomic.Int64
		outBytes  atomic.Int64
	)
	client := &http.Client{Timeout: 5 * time.Minute}
	start := time.Now()
	deadline := start.Add(s.duration)
	var wg sync.WaitGroup
	for c := range s.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for time.Now().Before(deadline) && sent.Add(1) <= s.maxRequests {
				t0 := time.Now()
				resp, err := client.Post(p.url+server.UpscalePath, "application/octet-stream", bytes.NewReader(s.body))
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				switch {
				case err == nil && resp.StatusCode == http.StatusOK:
					outBytes.Add(n)
					mu.Lock()
					latencies = append(latencies, d)
					services = append(services, upscaleTiming(resp.Header.Get("Server-Timing")))
					mu.Unlock()
				case resp.StatusCode == http.StatusTooManyRequests:
					refused.Add(1)
					sent.Add(-1) // a refusal is not a request served: retry
					time.Sleep(time.Duration(100+rng.IntN(100)) * time.Millisecond)
				default:
					mu.Lock()
					failures = append(failures, fmt.Sprintf("status %d: %v", resp.StatusCode, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopSampling)
	<-sampled
	peak := procStatus(pid, "VmHWM")
	passes := metricOf(t, p.url, "grformer_forward_passes_total")
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.exited

	if len(failures) > 0 {
		t.Errorf("%d failed requests, e.g. %s", len(failures), failures[0])
	}
	if len(latencies) == 0 {
		t.Fatal("no request succeeded")
	}
	if peak > s.budget || maxRSS.Load() > s.budget {
		t.Errorf("peak RSS %d MiB (sampled max %d MiB) over the budget of %d MiB", peak>>20, maxRSS.Load()>>20, s.budget>>20)
	}
	if peak == 0 {
		t.Error("could not read the server's peak RSS")
	}
	slices.Sort(latencies)
	pct := func(q float64) time.Duration { return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))] }
	t.Logf("load: %s; server %s; %d clients for %.1f s", s.what, strings.Join(s.args, " "), s.clients, elapsed.Seconds())
	t.Logf("  %d ok (%.2f req/s, %.2f MB/s out), %d deliberate 429s, %d failed, %v forward passes",
		len(latencies), float64(len(latencies))/elapsed.Seconds(), float64(outBytes.Load())/1e6/elapsed.Seconds(),
		refused.Load(), len(failures), passes)
	t.Logf("  latency p50 %.2f s, p90 %.2f s, p99 %.2f s, max %.2f s (queue included)",
		pct(0.5).Seconds(), pct(0.9).Seconds(), pct(0.99).Seconds(), latencies[len(latencies)-1].Seconds())
	slices.Sort(services)
	t.Logf("  the model's time per request (Server-Timing upscale): p50 %.2f s, p99 %.2f s",
		services[len(services)/2].Seconds(), services[min(len(services)-1, int(0.99*float64(len(services))))].Seconds())
	t.Logf("  server RSS: peak %d MiB (VmHWM), sampled max %d MiB, budget %d MiB", peak>>20, maxRSS.Load()>>20, s.budget>>20)
}

// upscaleTiming reads the upscale duration of a Server-Timing header.
func upscaleTiming(h string) time.Duration {
	for _, part := range strings.Split(h, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "upscale;dur="); ok {
			ms, _ := strconv.ParseFloat(v, 64)
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	return 0
}

// procStatus reads a "kB" field of /proc/PID/status, in bytes; 0 if absent.
func procStatus(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestServeMemoryBudget posts two large images at once to a server whose
// per-request share makes them go in tiles: both succeed and the peak RSS
// stays within -max-memory. Not in -short (about 10 s on 2 cores).
func TestServeMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: two 640x640 upscales in tiles")
	}
	const budget = 160 << 20
	p := startServe(t, []string{"GOMAXPROCS=2"}, "-weights", tinyX2, "-shipped=false", "-concurrency", "2",
		"-max-memory", "160MiB", "-max-pixels", "1000000")
	body := gradientPNG(t, 640, 640)
	codes := make(chan string, 2)
	for range 2 {
		go func() {
			resp, err := http.Post(p.url+server.UpscalePath, "image/png", bytes.NewReader(body))
			if err != nil {
				codes <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				codes <- fmt.Sprintf("%d %s", resp.StatusCode, b)
				return
			}
			codes <- ""
		}()
	}
	for range 2 {
		if c := <-codes; c != "" {
			t.Error(c)
		}
	}
	passes := metricOf(t, p.url, "grformer_forward_passes_total")
	peak := procStatus(p.cmd.Process.Pid, "VmHWM")
	t.Logf("2 x 640x640 -> 1280x1280 in %v forward passes; peak RSS %d MiB of %d MiB", passes, peak>>20, budget>>20)
	if passes < 4 {
		t.Errorf("%v forward passes: the images were not tiled, the test proves little", passes)
	}
	if peak == 0 || peak > budget {
		t.Errorf("peak RSS %d MiB, budget %d MiB", peak>>20, budget>>20)
	}
}
