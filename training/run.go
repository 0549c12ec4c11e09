package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"time"

	"github.com/grformer/grformer/internal/atomicfile"
	"github.com/grformer/grformer/model"
)

// Event kinds of Progress.
const (
	EventLoad    = "load"    // loading the training images (Done/Total)
	EventWarning = "warning" // a recoverable problem (Message)
	EventStep    = "step"    // an iteration finished
	EventLog     = "log"     // a log line was written (Entry)
	EventVal     = "val"     // a validation finished (Entry has the scores)
	EventSave    = "save"    // a checkpoint was written (Message: the files)
)

// Progress reports what Run is doing. Run calls the callback from its own
// goroutine, between iterations.
type Progress struct {
	Event string
	// Iter is the iteration just finished (or being prepared), Iters the
	// one the run stops at, Start the iteration it started from.
	Iter, Iters, Start int
	// Loss is the loss of iteration Iter, LR its learning rate.
	Loss, LR float64
	// ItPerS is a moving average of the speed; ETA the remaining time at
	// that speed.
	ItPerS  float64
	Elapsed time.Duration
	ETA     time.Duration
	// Done and Total count images for EventLoad.
	Done, Total int
	// Entry is the log line for EventLog and EventVal.
	Entry *LogEntry
	// Message says what happened for EventWarning and EventSave.
	Message string
}

// Result is the outcome of a run that stopped normally.
type Result struct {
	Iter     int     // iterations done
	Loss     float64 // mean loss of the last logged interval
	ValPSNR  float64 // last validation PSNR (NaN when none)
	ValSSIM  float64
	BestPSNR float64 // best validation PSNR (NaN when none) and where
	BestIter int
}

// runner is the state of one Run call.
type runner struct {
	ctx      context.Context
	net      Trainable
	cfg      RunConfig
	mcfg     model.Config
	params   []*Param
	adam     *Adam
	ema      *EMA
	st       State
	sampler  *Sampler
	val      *ValSet
	progress func(Progress)
	entries  []LogEntry

	start      int       // iteration the loop started from
	t0         time.Time // loop start
	elapsed0   float64   // State.Elapsed at loop start
	lastLogT   time.Time
	lastLogIt  int
	lastPlot   time.Time
	rate       float64 // moving average of it/s
	lastStepT  time.Time
	lastResult Result
}

// Run trains net as cfg says, from scratch (the network's current weights)
// or, with cfg.Resume, from the state saved in cfg.Dir, up to iteration
// cfg.Iters. progress, when not nil, receives events.
//
// A cancelled ctx stops the run between iterations: the state is saved
// (atomically) and the error wraps ctx.Err(); resuming gives exactly the
// weights an uninterrupted run would have had.
func Run(ctx context.Context, net Trainable, cfg RunConfig, progress func(Progress)) (Result, error) {
	r := &runner{ctx: ctx, net: net, progress: progress}
	res := Result{ValPSNR: math.NaN(), ValSSIM: math.NaN(), BestPSNR: math.NaN()}
	if net == nil {
		return res, errors.New("training: no network")
	}
	if err := r.setup(cfg); err != nil {
		return res, err
	}
	err := r.loop()
	res.Iter = r.st.Iter
	res.Loss = r.lastResult.Loss
	res.ValPSNR, res.ValSSIM = r.lastResult.ValPSNR, r.lastResult.ValSSIM
	if r.st.BestIter > 0 {
		res.BestPSNR, res.BestIter = r.st.BestPSNR, r.st.BestIter
	}
	return res, err
}

func (r *runner) emit(p Progress) {
	if r.progress == nil {
		return
	}
	p.Iters, p.Start = r.cfg.Iters, r.start
	if p.Elapsed == 0 {
		p.Elapsed = r.elapsed()
	}
	r.progress(p)
}

func (r *runner) elapsed() time.Duration {
	if r.t0.IsZero() {
		return time.Duration(r.st.Elapsed * float64(time.Second))
	}
	return time.Duration((r.elapsed0 + time.Since(r.t0).Seconds()) * float64(time.Second))
}

func (r *runner) setup(cfg RunConfig) error {
	r.mcfg = r.net.Config()
	if err := r.mcfg.Validate(); err != nil {
		return fmt.Errorf("training: network config: %w", err)
	}
	r.params = r.net.Params()
	if err := checkParams(r.params); err != nil {
		return err
	}
	var saved *Saved
	if cfg.Resume {
		if cfg.Dir == "" {
			return errors.New("training: no run folder to resume")
		}
		var err error
		if saved, err = ReadRun(cfg.Dir); err != nil {
			return err
		}
		// The saved config decides the trajectory; cfg only the rest.
		sc := saved.State.Config
		sc.Dir, sc.Resume, sc.Iters = cfg.Dir, true, cfg.Iters
		sc.LogEvery, sc.ValEvery, sc.SaveEvery, sc.Val = cfg.LogEvery, cfg.ValEvery, cfg.SaveEvery, cfg.Val
		sc.Threads, sc.Prefetch, sc.CacheDir, sc.Dataset = cfg.Threads, cfg.Prefetch, cfg.CacheDir, cfg.Dataset
		cfg = sc
		if cfg.Iters <= saved.State.Iter && saved.State.Done == saved.State.Iter {
			return fmt.Errorf("training: the run in %s is already at iteration %d; give more iterations to continue it", cfg.Dir, saved.State.Iter)
		}
		if cfg.Iters < saved.State.Iter {
			return fmt.Errorf("training: the run in %s is at iteration %d, past %d", cfg.Dir, saved.State.Iter, cfg.Iters)
		}
		if !reflect.DeepEqual(saved.State.Model, r.mcfg) {
			return fmt.Errorf("training: the network's configuration differs from the run's (%+v vs saved %+v)", r.mcfg, saved.State.Model)
		}
		if !reflect.DeepEqual(saved.State.Params, paramInfos(r.params)) {
			return errors.New("training: the network's parameters (names, shapes, order) differ from the run's")
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Scale != 0 && cfg.Scale != r.mcfg.Scale {
		return fmt.Errorf("training: scale %d but the network upscales x%d", cfg.Scale, r.mcfg.Scale)
	}
	cfg.Scale = r.mcfg.Scale
	if cfg.Prefetch == 0 {
		cfg.Prefetch = 4
	}
	sched, err := cfg.Schedule.Resolve(cfg.Iters)
	if err != nil {
		return err
	}
	cfg.Schedule = sched
	r.cfg = cfg

	if !cfg.Resume {
		if err := freshDir(cfg.Dir); err != nil {
			return err
		}
	}
	if r.adam, err = NewAdam(r.params, cfg.Adam); err != nil {
		return err
	}
	if cfg.EMA > 0 {
		if r.ema, err = NewEMA(r.params, cfg.EMA); err != nil {
			return err
		}
	}
	if saved != nil {
		r.st = saved.State
		r.st.Config = cfg
		for i, p := range r.params {
			copy(p.Data, saved.Weights[p.Name].F32)
			copy(r.adam.M[i], saved.M[p.Name].F32)
			copy(r.adam.V[i], saved.V[p.Name].F32)
			if r.ema != nil {
				copy(r.ema.Shadow[i], saved.EMA[p.Name].F32)
			}
		}
		r.adam.Steps = r.st.AdamSteps
		// Temporary files of a killed run (state, snapshots, log) go.
		atomicfile.CleanStale(cfg.Dir)
		if r.entries, err = repairLog(filepath.Join(cfg.Dir, LogFile), r.st.LastLog); err != nil {
			return err
		}
	} else {
		r.st = State{Version: stateVersion, Config: cfg, Model: r.mcfg, Params: paramInfos(r.params)}
	}

	// Data.
	ds := cfg.Dataset
	if ds == nil {
		ds, err = LoadDataset(r.ctx, cfg.Data, r.mcfg.Scale, DataOptions{
			Patch: cfg.Patch, CacheDir: cfg.CacheDir, Threads: cfg.Threads,
			Warn:     func(m string) { r.emit(Progress{Event: EventWarning, Message: m}) },
			Progress: func(d, t int) { r.emit(Progress{Event: EventLoad, Done: d, Total: t}) },
		})
		if err != nil {
			return err
		}
	}
	if ds.Scale != r.mcfg.Scale {
		return fmt.Errorf("training: the dataset is for x%d, the network x%d", ds.Scale, r.mcfg.Scale)
	}
	fp := ds.Fingerprint()
	if saved != nil && r.st.Data != "" && r.st.Data != fp {
		r.emit(Progress{Event: EventWarning, Message: fmt.Sprintf(
			"the training images differ from the run's (fingerprint %s, saved %s): the resumed run will not match an uninterrupted one", fp, r.st.Data)})
	}
	r.st.Data = fp
	if r.sampler, err = NewSampler(ds, cfg.Seed, cfg.Batch, cfg.Patch); err != nil {
		return err
	}
	r.sampler.Flat = cfg.Flat
	if cfg.Val != "" {
		if r.val, err = LoadValSet(cfg.Val, r.mcfg.Scale); err != nil {
			return err
		}
	}
	if saved == nil {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return fmt.Errorf("training: run folder: %w", err)
		}
		// Iteration 0 is saved at once, so that a run killed before its
		// first checkpoint can still be resumed.
		if err := r.save(false); err != nil {
			return err
		}
	}
	return nil
}

// freshDir checks that dir can hold a new run: absent, or without a
// previous run's files.
func freshDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return nil // created later
	}
	if !st.IsDir() {
		return fmt.Errorf("training: run folder %s is a file", dir)
	}
	for _, f := range []string{StateFile, LogFile, LastFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("training: %s already holds a training run (%s); resume it or choose another folder", dir, f)
		}
	}
	return nil
}

func (r *runner) due(every, it int) bool {
	return it == r.cfg.Iters || (every > 0 && it%every == 0)
}

func (r *runner) loop() error {
	cfg := r.cfg
	r.start = r.st.Iter
	r.t0 = time.Now()
	r.elapsed0 = r.st.Elapsed
	r.lastLogT, r.lastLogIt, r.lastStepT = r.t0, r.start, r.t0
	r.lastPlot = r.t0

	// A resume of a run interrupted during its post-step tasks redoes them.
	if r.st.Done < r.st.Iter {
		if err := r.postStep(r.st.Iter); err != nil {
			return r.stop(err)
		}
	}
	if r.st.Iter >= cfg.Iters {
		return nil
	}
	threads := cfg.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	pf := startPrefetch(r.ctx, r.sampler, r.st.Iter+1, cfg.Iters, min(threads, 4), cfg.Prefetch)
	defer pf.stop()
	for it := r.st.Iter + 1; it <= cfg.Iters; it++ {
		if err := r.ctx.Err(); err != nil {
			return r.stop(err)
		}
		b := pf.next(r.ctx)
		if b == nil {
			if err := r.ctx.Err(); err != nil {
				return r.stop(err)
			}
			return fmt.Errorf("training: the data loader stopped at iteration %d", it)
		}
		if b.Iter != it {
			return fmt.Errorf("training: internal error: batch of iteration %d at iteration %d", b.Iter, it)
		}
		lr := cfg.Schedule.LR(cfg.LR, it)
		loss, err := r.net.Step(b.X, b.Y, b.N, b.P, b.P, cfg.DropPath, DropSeed(cfg.Seed, it))
		if err != nil {
			return fmt.Errorf("training: iteration %d: %w", it, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("training: iteration %d: the loss is %v; the weights of iteration %d are in %s", it, loss, r.st.Done, cfg.Dir)
		}
		r.adam.Step(lr)
		if r.ema != nil {
			r.ema.Update(r.params)
		}
		r.st.Iter, r.st.AdamSteps = it, r.adam.Steps
		r.st.LossSum += loss
		r.st.LossN++

		now := time.Now()
		dt := now.Sub(r.lastStepT).Seconds()
		r.lastStepT = now
		if dt > 0 {
			inst := 1 / dt
			if r.rate == 0 {
				r.rate = inst
			} else {
				r.rate = 0.9*r.rate + 0.1*inst
			}
		}
		var eta time.Duration
		if r.rate > 0 {
			eta = time.Duration(float64(cfg.Iters-it) / r.rate * float64(time.Second))
		}
		r.emit(Progress{Event: EventStep, Iter: it, Loss: loss, LR: lr, ItPerS: r.rate, ETA: eta})

		if err := r.postStep(it); err != nil {
			return r.stop(err)
		}
	}
	return nil
}

// stop handles an error of the loop: a cancellation saves the state and
// returns an error wrapping ctx.Err(); other errors are returned as they
// are.
func (r *runner) stop(err error) error {
	if r.ctx.Err() == nil || !errors.Is(err, r.ctx.Err()) {
		return err
	}
	if serr := r.save(false); serr != nil {
		return fmt.Errorf("training: interrupted at iteration %d, and saving the state failed: %v (%w)", r.st.Iter, serr, err)
	}
	return fmt.Errorf("training: interrupted at iteration %d, state saved in %s: %w", r.st.Iter, r.cfg.Dir, err)
}

// postStep runs what is due after iteration it: validation, the log line,
// the checkpoint.
func (r *runner) postStep(it int) error {
	cfg := r.cfg
	valDue := r.val != nil && r.due(cfg.ValEvery, it)
	logDue := r.due(cfg.LogEvery, it) || valDue
	var entry *LogEntry
	if logDue {
		e := LogEntry{Iter: it, LR: cfg.Schedule.LR(cfg.LR, it)}
		if r.st.LossN > 0 {
			e.Loss = r.st.LossSum / float64(r.st.LossN)
		}
		now := time.Now()
		if n := it - max(r.lastLogIt, r.start); n > 0 {
			if s := now.Sub(r.lastLogT).Seconds(); s > 0 {
				e.ItPerS = float64(n) / s
			}
		}
		entry = &e
	}
	if valDue {
		if err := r.validate(entry); err != nil {
			return err
		}
	}
	if entry != nil {
		entry.ElapsedS = r.elapsed().Seconds()
		if err := appendLog(filepath.Join(cfg.Dir, LogFile), *entry); err != nil {
			return err
		}
		r.entries = append(r.entries, *entry)
		r.st.LossSum, r.st.LossN, r.st.LastLog = 0, 0, it
		r.lastLogT, r.lastLogIt = time.Now(), it
		r.lastResult.Loss = entry.Loss
		r.emit(Progress{Event: EventLog, Iter: it, Loss: entry.Loss, LR: entry.LR, ItPerS: entry.ItPerS, Entry: entry})
		if valDue || time.Since(r.lastPlot) > 30*time.Second || it == cfg.Iters {
			r.plot()
		}
	}
	r.st.Done = it
	if r.due(cfg.SaveEvery, it) {
		if err := r.save(true); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) plot() {
	r.lastPlot = time.Now()
	title := fmt.Sprintf("GRFormer x%d, %s", r.mcfg.Scale, filepath.Base(filepath.Clean(r.cfg.Dir)))
	if err := WritePlot(filepath.Join(r.cfg.Dir, PlotFile), r.entries, title); err != nil {
		r.emit(Progress{Event: EventWarning, Iter: r.st.Iter, Message: err.Error()})
	}
}

func (r *runner) validate(entry *LogEntry) error {
	data, which := [][]float32(nil), "net"
	if r.ema != nil {
		data, which = r.ema.Shadow, "ema"
	}
	m, err := InferenceModel(r.mcfg, r.params, data)
	if err != nil {
		return fmt.Errorf("training: validation model: %w", err)
	}
	res, err := r.val.Evaluate(r.ctx, m, r.cfg.Threads)
	if err != nil {
		return err
	}
	entry.ValPSNR, entry.ValSSIM, entry.ValWeights = &res.PSNR, &res.SSIM, which
	r.lastResult.ValPSNR, r.lastResult.ValSSIM = res.PSNR, res.SSIM
	if r.st.BestIter == 0 || res.PSNR > r.st.BestPSNR {
		r.st.BestPSNR, r.st.BestIter = res.PSNR, entry.Iter
	}
	r.emit(Progress{Event: EventVal, Iter: entry.Iter, Entry: entry})
	return nil
}

// save writes the checkpoint of the current iteration; periodic adds the
// numbered copies in checkpoints/.
func (r *runner) save(periodic bool) error {
	dir := r.cfg.Dir
	it := r.st.Iter
	var ema [][]float32
	if r.ema != nil {
		ema = r.ema.Shadow
	}
	var files []string
	if periodic {
		cd := filepath.Join(dir, CheckpointDir)
		if err := os.MkdirAll(cd, 0o755); err != nil {
			return fmt.Errorf("training: %w", err)
		}
		p := filepath.Join(cd, fmt.Sprintf("iter_%d.safetensors", it))
		if err := WriteWeights(p, r.mcfg, r.params, nil); err != nil {
			return err
		}
		files = append(files, p)
		if ema != nil {
			p := filepath.Join(cd, fmt.Sprintf("iter_%d_ema.safetensors", it))
			if err := WriteWeights(p, r.mcfg, r.params, ema); err != nil {
				return err
			}
			files = append(files, p)
		}
	}
	r.st.Elapsed = r.elapsed().Seconds()
	r.st.Saved = time.Now().UTC().Truncate(time.Second)
	if err := writeState(dir, &r.st, r.params, r.adam, r.ema); err != nil {
		return err
	}
	files = append(files, filepath.Join(dir, StateFile))
	if err := WriteWeights(filepath.Join(dir, LastFile), r.mcfg, r.params, nil); err != nil {
		return err
	}
	files = append(files, filepath.Join(dir, LastFile))
	if ema != nil {
		if err := WriteWeights(filepath.Join(dir, LastEMAFile), r.mcfg, r.params, ema); err != nil {
			return err
		}
		files = append(files, filepath.Join(dir, LastEMAFile))
	}
	r.emit(Progress{Event: EventSave, Iter: it, Message: fmt.Sprint(slices.Clip(files))})
	return nil
}
