package training

import (
	"context"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
)

// Sample says how one patch of a batch is cut: from which image, where
// (top-left corner of the LR patch; the HR patch starts at scale times
// that), and which of the three flips are applied, in BasicSR's order:
// horizontal flip, then vertical flip, then transpose.
type Sample struct {
	Image     int // index into Dataset.Pairs
	Top, Left int // LR coordinates
	HFlip     bool
	VFlip     bool
	Transpose bool
	// Flat, when set, replaces the patch by a flat one of colour Color (LR
	// and HR alike; Image, Top, Left and the flips are then unused): see
	// Sampler.Flat.
	Flat  bool
	Color [3]uint8
}

// Batch is one iteration's input and target, NCHW float32 in [0, 1]
// (8-bit values divided by 255 in float32, as numpy's /255.).
type Batch struct {
	Iter    int
	N, P    int       // batch size and LR patch side
	X       []float32 // N x 3 x P x P
	Y       []float32 // N x 3 x P*s x P*s
	Samples []Sample
}

// Sampler draws the batches of a run. Batch(i) depends only on the
// dataset, the seed, the batch and patch sizes and i: see the package
// documentation.
type Sampler struct {
	ds    *Dataset
	seed  uint64
	batch int
	patch int
	// Flat is the probability that a sample is a flat patch of a random
	// colour instead of a cut of a training image. Natural images rarely
	// put a flat area against the patch border, and a network that never
	// sees one leaves coloured speckles along the borders of flat images
	// (the convolutions' zero padding). The draw has its own random
	// stream, so Flat = 0 gives exactly the batches of before.
	Flat float64
}

// NewSampler checks the sizes and returns a sampler over ds.
func NewSampler(ds *Dataset, seed uint64, batch, patch int) (*Sampler, error) {
	if ds == nil || len(ds.Pairs) == 0 {
		return nil, fmt.Errorf("training: no training images")
	}
	if batch < 1 || patch < 1 {
		return nil, fmt.Errorf("training: invalid batch %d or patch %d", batch, patch)
	}
	for _, p := range ds.Pairs {
		if p.LR.W < patch || p.LR.H < patch {
			return nil, fmt.Errorf("training: %s: LR %dx%d smaller than the patch %d", p.Path, p.LR.W, p.LR.H, patch)
		}
		if p.HR.W != p.LR.W*ds.Scale || p.HR.H != p.LR.H*ds.Scale || p.HR.C != 3 || p.LR.C != 3 {
			return nil, fmt.Errorf("training: %s: HR %dx%dx%d and LR %dx%dx%d do not match at x%d",
				p.Path, p.HR.W, p.HR.H, p.HR.C, p.LR.W, p.LR.H, p.LR.C, ds.Scale)
		}
	}
	return &Sampler{ds: ds, seed: seed, batch: batch, patch: patch}, nil
}

// uintn returns a uniform integer in [0, n) from r (Lemire's method with
// rejection). Written here rather than taken from math/rand so that the
// draws never change with the Go release.
func uintn(r *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}

// newPCG returns the generator of (seed, stream, n).
func newPCG(seed, stream, n uint64) *rand.PCG {
	h := derive(seed, stream, n)
	return rand.NewPCG(h, splitmix64(h^stream))
}

// epochOrder returns the image order of epoch e: a Fisher-Yates shuffle.
func (s *Sampler) epochOrder(e uint64) []int {
	n := len(s.ds.Pairs)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	r := newPCG(s.seed, streamEpoch, e)
	for i := n - 1; i > 0; i-- {
		j := int(uintn(r, uint64(i+1)))
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm
}

// Sample returns sample k (0-based over the whole run: sample j of
// iteration i is k = (i-1)*batch + j).
func (s *Sampler) Sample(k uint64) Sample {
	n := uint64(len(s.ds.Pairs))
	return s.sample(k, s.epochOrder(k/n))
}

func (s *Sampler) sample(k uint64, order []int) Sample {
	n := uint64(len(s.ds.Pairs))
	img := order[k%n]
	lr := s.ds.Pairs[img].LR
	r := newPCG(s.seed, streamSample, k)
	top := int(uintn(r, uint64(lr.H-s.patch+1)))
	left := int(uintn(r, uint64(lr.W-s.patch+1)))
	f := r.Uint64()
	sm := Sample{Image: img, Top: top, Left: left, HFlip: f&1 != 0, VFlip: f&2 != 0, Transpose: f&4 != 0}
	if s.Flat > 0 {
		fr := newPCG(s.seed, streamFlat, k)
		if float64(fr.Uint64()>>11)/(1<<53) < s.Flat {
			c := fr.Uint64()
			sm.Flat, sm.Color = true, [3]uint8{uint8(c), uint8(c >> 8), uint8(c >> 16)}
		}
	}
	return sm
}

// Batch returns the batch of iteration iter (1-based).
func (s *Sampler) Batch(iter int) *Batch {
	p, sc := s.patch, s.ds.Scale
	ps := p * sc
	b := &Batch{Iter: iter, N: s.batch, P: p,
		X: make([]float32, s.batch*3*p*p), Y: make([]float32, s.batch*3*ps*ps), Samples: make([]Sample, s.batch)}
	n := uint64(len(s.ds.Pairs))
	k0 := uint64(iter-1) * uint64(s.batch)
	var order []int
	epoch := ^uint64(0)
	for j := range s.batch {
		k := k0 + uint64(j)
		if e := k / n; e != epoch {
			order, epoch = s.epochOrder(e), e
		}
		sm := s.sample(k, order)
		b.Samples[j] = sm
		if sm.Flat {
			fill(b.X[j*3*p*p:(j+1)*3*p*p], sm.Color)
			fill(b.Y[j*3*ps*ps:(j+1)*3*ps*ps], sm.Color)
			continue
		}
		pr := s.ds.Pairs[sm.Image]
		cut(b.X[j*3*p*p:(j+1)*3*p*p], pr.LR.Pix, pr.LR.W, pr.LR.H, sm.Top, sm.Left, p, sm)
		cut(b.Y[j*3*ps*ps:(j+1)*3*ps*ps], pr.HR.Pix, pr.HR.W, pr.HR.H, sm.Top*sc, sm.Left*sc, ps, sm)
	}
	return b
}

// fill sets the 3 planes of dst to the levels of c, scaled to [0, 1].
func fill(dst []float32, c [3]uint8) {
	n := len(dst) / 3
	for ch := range 3 {
		v := float32(c[ch]) / 255
		for i := range dst[ch*n : (ch+1)*n] {
			dst[ch*n+i] = v
		}
	}
}

// cut copies the p x p patch at (top, left) of a 3-plane w x h image into
// dst (3 x p x p), flipped and transposed as sm says, scaled to [0, 1].
func cut(dst []float32, pix []uint8, w, h, top, left, p int, sm Sample) {
	for c := range 3 {
		plane := pix[c*w*h : (c+1)*w*h]
		out := dst[c*p*p : (c+1)*p*p]
		for y := range p {
			for x := range p {
				// Output (y, x) of transpose(vflip(hflip(patch))).
				sy, sx := y, x
				if sm.Transpose {
					sy, sx = sx, sy
				}
				if sm.VFlip {
					sy = p - 1 - sy
				}
				if sm.HFlip {
					sx = p - 1 - sx
				}
				out[y*p+x] = float32(plane[(top+sy)*w+left+sx]) / 255
			}
		}
	}
}

// prefetcher prepares the batches of iterations from..to on worker
// goroutines, at most depth ahead of the consumer, and hands them out in
// order.
type prefetcher struct {
	futures chan chan *Batch
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func startPrefetch(ctx context.Context, s *Sampler, from, to, workers, depth int) *prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	pf := &prefetcher{futures: make(chan chan *Batch, max(depth, 1)), cancel: cancel}
	sem := make(chan struct{}, max(workers, 1))
	pf.wg.Add(1)
	go func() {
		defer pf.wg.Done()
		defer close(pf.futures)
		for it := from; it <= to; it++ {
			f := make(chan *Batch, 1)
			select {
			case pf.futures <- f:
			case <-ctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			pf.wg.Add(1)
			go func(it int) {
				defer pf.wg.Done()
				f <- s.Batch(it)
				<-sem
			}(it)
		}
	}()
	return pf
}

// next returns the next batch, or nil when there are no more or the
// context ended.
func (pf *prefetcher) next(ctx context.Context) *Batch {
	select {
	case f, ok := <-pf.futures:
		if !ok {
			return nil
		}
		select {
		case b := <-f:
			return b
		case <-ctx.Done():
			return nil
		}
	case <-ctx.Done():
		return nil
	}
}

// stop ends the workers and waits for them.
func (pf *prefetcher) stop() {
	pf.cancel()
	pf.wg.Wait()
}
