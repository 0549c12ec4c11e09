package backprop

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/grformer/grformer/internal/gemm"
	"github.com/grformer/grformer/internal/par"
	"github.com/grformer/grformer/internal/vmath"
	"github.com/grformer/grformer/model"
)

// activations of one training forward pass: what model.Layers.Forward
// saves, the output, and the backward pass's scratch.
type activations struct {
	N, H, W, hp, wp int
	*model.Saved
	out []float32 // NCHW output, cropped
	// scratch shared by all blocks' backward passes
	g1, g2, u2 []float32
}

func f32(n int) []float32 { return make([]float32, n) }

func (n *Net) newActivations(N, H, W int) *activations {
	cfg := n.cfg
	hp, wp := cfg.PaddedSize(H, W)
	M, hid := N*hp*wp, cfg.Hidden()
	a := &activations{N: N, H: H, W: W, hp: hp, wp: wp, Saved: model.NewSaved(cfg, N, hp, wp),
		g1: f32(M * hid), g2: f32(M * hid), u2: f32(M * hid)}
	for g := range a.Blocks {
		for i := range a.Blocks[g] {
			a.Blocks[g][i].Mul1, a.Blocks[g][i].Mul2 = f32(N), f32(N)
		}
	}
	return a
}

// Step zeroes the gradients, runs the forward and backward passes on a batch
// and returns the mean L1 loss. x is n x 3 x h x w (LR), target
// n x 3 x h*s x w*s (HR), NCHW in [0, 1]. dropRate is the largest
// stochastic-depth rate (block k of K gets dropRate*k/(K-1), as the
// reference's constructor spaces it); dropSeed seeds which samples drop
// their branches in this step.
func (n *Net) Step(x, target []float32, N, h, w int, dropRate float64, dropSeed uint64) (float64, error) {
	n.ZeroGrad()
	if err := n.forward(x, N, h, w, dropRate, dropSeed); err != nil {
		return 0, err
	}
	loss, err := n.backward(target)
	return loss, err
}

// Forward runs the training forward pass without drop path (equal to the
// inference model) and returns the NCHW output.
func (n *Net) Forward(x []float32, N, h, w int) ([]float32, error) {
	if err := n.forward(x, N, h, w, 0, 0); err != nil {
		return nil, err
	}
	return n.acts.out, nil
}

func (n *Net) forward(x []float32, N, H, W int, dropRate float64, dropSeed uint64) error {
	cfg := n.cfg
	c := cfg.InChans
	if N < 1 || H < 1 || W < 1 || len(x) != N*c*H*W {
		return fmt.Errorf("backprop: input has %d values for %dx%dx%dx%d", len(x), N, c, H, W)
	}
	if dropRate < 0 || dropRate >= 1 {
		return fmt.Errorf("backprop: drop-path rate %g out of [0, 1)", dropRate)
	}
	th := n.threads()
	a := n.acts
	if a == nil || a.N != N || a.H != H || a.W != W {
		n.acts, n.ws = nil, nil // let the old buffers go before making new ones
		a = n.newActivations(N, H, W)
		n.acts = a
	}
	if n.ws == nil || n.wsThreads < th {
		n.ws, n.wsThreads = model.NewWorkspace(cfg, N, a.hp, a.wp, th), th
	}
	if err := n.prepare(); err != nil {
		return err
	}
	// Drop path: per block and image, the multipliers of the two branches.
	rng := rand.New(rand.NewPCG(dropSeed, 0x5eed))
	for g, grp := range n.groups {
		for i, b := range grp.blocks {
			bs := &a.Blocks[g][i]
			p := dropRate * b.dropRate
			for img := range N {
				bs.Mul1[img], bs.Mul2[img] = dropMul(rng, p), dropMul(rng, p)
			}
		}
	}
	// The output is returned by Forward: a new slice each pass.
	a.out = f32(N * c * H * cfg.Scale * W * cfg.Scale)
	return n.layers.Forward(a.out, x, N, H, W, n.ws, th, n.geos, a.Saved)
}

// dropMul draws one sample's drop-path multiplier: 0 with probability p,
// else 1/(1-p) (timm's drop_path with scale_by_keep).
func dropMul(r *rand.Rand, p float64) float32 {
	if p == 0 {
		return 1
	}
	if r.Float64() < p {
		return 0
	}
	return float32(1 / (1 - p))
}

func geluInto(dst, src []float32, th int) {
	par.For(len(src), th, func(_, lo, hi int) {
		vmath.GELUInto(dst[lo:hi], src[lo:hi])
	})
}

// winScratch holds one window's gathered rows and per-head products.
type winScratch struct {
	qn, kn, v, o, do []float32 // [n*C]
	dq, dk, dv       []float32 // [n*C]
	s, dp            []float32 // [n*n]
	D                []float32 // [n]
}

func newWinScratch(n, C int) *winScratch {
	return &winScratch{qn: f32(n * C), kn: f32(n * C), v: f32(n * C), o: f32(n * C), do: f32(n * C),
		dq: f32(n * C), dk: f32(n * C), dv: f32(n * C), s: f32(n * n), dp: f32(n * n), D: f32(n)}
}

// gather copies the window's rows (token index base+ix[i]) of the given
// token-order arrays; o and do may be nil.
func (sc *winScratch) gather(qn, kn, v, o, do []float32, ix []int32, base, C int) {
	for i, p := range ix {
		r := (base + int(p)) * C
		copy(sc.qn[i*C:(i+1)*C], qn[r:])
		copy(sc.kn[i*C:(i+1)*C], kn[r:])
		copy(sc.v[i*C:(i+1)*C], v[r:])
		if o != nil {
			copy(sc.o[i*C:(i+1)*C], o[r:])
			copy(sc.do[i*C:(i+1)*C], do[r:])
		}
	}
}

// probs fills sc.s with head h's attention probabilities (GRSA steps 4-7):
// softmax(scale*qn.kn^T + bias + mask). The backward pass calls it again
// to recompute exactly the same probabilities.
func (sc *winScratch) probs(b *blk, h, d, C int, lab []int32) {
	n := b.n
	gemm.NT(n, n, d, sc.qn[h*d:], C, sc.kn[h*d:], C, sc.s, n, false)
	var bias []float32
	if b.hasBias {
		bias = b.mb.Bias()[h*n*n : (h+1)*n*n]
	}
	vmath.ScaleBiasSoftmaxRows(sc.s, n, n, n, b.mb.LogitScales()[h], bias, n, lab, lab)
}

var errNoForward = errors.New("backprop: backward without a forward pass")
