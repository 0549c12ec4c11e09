//go:build unix

package onnx

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/grformer/grformer/model"
)

// BenchmarkORT times one forward pass of the light x4 model on a 320x180
// image in ONNX Runtime (onnxruntime-node, CPU) beside model.Forward, with
// the same number of threads. The ORT figure is ONNX Runtime's own run time
// (session creation excluded, one warm-up run), so ns/op compares like with
// like. On a busy machine, compare the cpu-ms/op figures (CPU time of the
// process, user + system, per pass), which depend less on the other load
// than the wall time:
//
//	go test -run '^$' -bench ORT -benchtime 5x ./onnx
func BenchmarkORT(b *testing.B) {
	const n, h, w = 1, 180, 320
	cfg := model.Light(4)
	sd, err := model.InitStateDict(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	m, err := model.New(cfg, sd)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n*3*h*w)
	for i := range x {
		x[i] = r.Float32()
	}
	threads := []int{1}
	if c := runtime.GOMAXPROCS(0); c > 1 {
		threads = append(threads, c)
	}
	for _, th := range threads {
		b.Run(fmt.Sprintf("go/threads=%d", th), func(b *testing.B) {
			if _, err := m.Forward(x, n, h, w, model.Options{Threads: th}); err != nil { // warm-up
				b.Fatal(err)
			}
			b.ResetTimer()
			c0 := cpuTime(b)
			for range b.N {
				if _, err := m.Forward(x, n, h, w, model.Options{Threads: th}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-c0)/1e6/float64(b.N), "cpu-ms/op")
		})
		b.Run(fmt.Sprintf("ort/threads=%d", th), func(b *testing.B) {
			o := findORT(b)
			path := filepath.Join(b.TempDir(), "light_x4.onnx")
			if err := WriteFile(path, cfg, sd); err != nil {
				b.Fatal(err)
			}
			_, res := o.run(b, path, x, n, 3, h, w, b.N+1, th)
			runs := res.Ms[1:]
			total := 0.0
			for _, v := range runs {
				total += v
			}
			b.ReportMetric(total*1e6/float64(len(runs)), "ns/op")
			b.ReportMetric(slices.Min(runs), "min-ms")
			cpu := 0.0
			for _, v := range res.CPUMs[1:] {
				cpu += v
			}
			b.ReportMetric(cpu/float64(len(runs)), "cpu-ms/op")
			b.ReportMetric(res.LoadMs, "load-ms")
		})
	}
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
