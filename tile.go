package grformer

import (
	"context"
	"fmt"
	"runtime"

	"github.com/grformer/grformer/internal/kernels"
	"github.com/grformer/grformer/model"
)

// Tiling (see Options.Tile).
//
// An image is cut into tiles of ty x tx LR pixels (Options.Tile squares,
// fewer along an axis shorter than the tile; or the shape that fits the
// memory budget and computes the fewest pixels), multiples of the model's
// pad multiple p (the larger window side: 8 for the tiny test models, 32 for
// the paper's). The image is reflect-padded at the bottom and right to a
// multiple of p, exactly as the model pads a whole image; tiles start at
// multiples of p in that padded frame, the last tile of a row or column
// ending at its end, and are spread evenly. So a tile sees the same windows, shifts and
// padding as the whole image at the same place, and its interior comes out
// as in the untiled forward pass: only the context beyond the tile's edges
// is missing, and the error this causes decays with the distance from the
// edge.
//
// Neighbouring tiles overlap by at least 2.5 M pixels for a context of M
// (Options.TileOverlap). The results are blended in the output domain with
// weights that ramp linearly over a band of M/2 pixels centred in the
// middle of each overlap, normalised to sum to one at every output pixel
// (the weights are separable, so per axis). So every output pixel comes
// from tiles that reach at least M pixels beyond it, and there is no seam.
//
// Measured (tests in tile_test.go, a 150x103 photo and its 2x bicubic
// enlargement, x2): with tiles of 128 and M = 16 the tiled result is within
// 0.02/255 of the untiled one for the tiny golden model, but only within
// 2.5/255 for the paper's light model with random weights, whose attention
// is nearly uniform over its 8x32 windows and so reaches far; with M = 32,
// the default, within 0.44/255 for the random light model as well.

// DefaultTileOverlap is the tile context M, in LR pixels, used when
// Options.TileOverlap is 0 (neighbouring tiles then overlap by 80 or more).
const DefaultTileOverlap = 32

// DefaultMaxMemory is the memory budget used when Options.MaxMemory is 0:
// 2 GiB.
const DefaultMaxMemory = 2 << 30

// planFraction is the share of MaxMemory planned for live data; the rest is
// headroom for the garbage collector (the per-tile outputs of the model
// become garbage as soon as they are blended).
const planFraction = 0.8

// axisPlan is the tiling of one axis of length n (LR), padded to np.
type axisPlan struct {
	n, np  int
	size   int   // tile length, LR
	starts []int // tile starts, LR, multiples of p
	// weights[i] are tile i's normalised blending weights over its kept
	// output range [starts[i]*s, min(starts[i]+size, n)*s).
	weights [][]float32
}

// blendWidth is the width, in LR pixels, of the band over which the
// blending weights ramp between two neighbouring tiles for a context of
// overlap pixels.
func blendWidth(overlap int) int { return overlap / 2 }

// minOverlap is the overlap neighbouring tiles need so that every output
// pixel, the blending band included, has overlap pixels of context.
func minOverlap(overlap int) int { return 2*overlap + blendWidth(overlap) }

// planAxis tiles an axis of n LR pixels, padded to np (a multiple of p),
// with tiles of tile pixels (a multiple of p) overlapping by at least
// minOverlap(overlap). tile-minOverlap(overlap) >= p must hold when
// np > tile.
func planAxis(n, np, tile, overlap, p, s int) axisPlan {
	a := axisPlan{n: n, np: np}
	if np <= tile {
		a.size, a.starts = np, []int{0}
	} else {
		a.size = tile
		M := (np - tile) / p // last start, in units of p
		segs := tilesAlong(np, tile, overlap, p) - 1
		for i := 0; i <= segs; i++ { // start_i = p * round(i*M/segs)
			a.starts = append(a.starts, p*((2*i*M+segs)/(2*segs)))
		}
	}
	R := float32(blendWidth(overlap))
	// ramp is the weight at signed distance d past the centre of a band.
	ramp := func(d float32) float32 {
		if R == 0 {
			if d > 0 {
				return 1
			}
			return 0
		}
		return min(max(d/R+0.5, 0), 1)
	}
	last := len(a.starts) - 1
	raw := make([][]float32, len(a.starts))
	sum := make([]float32, n*s)
	for i, st := range a.starts {
		lo, hi := st*s, min(st+a.size, n)*s
		// Centres of the overlaps with the previous and next tiles.
		var cl, cr float32
		if i > 0 {
			cl = float32(st+a.starts[i-1]+a.size) / 2
		}
		if i < last {
			cr = float32(a.starts[i+1]+st+a.size) / 2
		}
		r := make([]float32, hi-lo)
		for X := lo; X < hi; X++ {
			u := (float32(X) + 0.5) / float32(s) // output pixel centre, LR units
			v := float32(1)
			if i > 0 {
				v *= ramp(u - cl)
			}
			if i < last {
				v *= ramp(cr - u)
			}
			r[X-lo] = v
			sum[X] += v
		}
		raw[i] = r
	}
	for i, st := range a.starts {
		lo := st * s
		for j := range raw[i] {
			if t := sum[lo+j]; t > 0 {
				raw[i][j] /= t
			} else {
				// Cannot happen (the bands lie inside the overlaps);
				// split evenly rather than lose the pixel.
				raw[i][j] = 1 / float32(coverage(a.starts, a.size, lo+j, s))
			}
		}
	}
	a.weights = raw
	return a
}

// coverage counts the tiles covering output pixel X.
func coverage(starts []int, size, X, s int) int {
	c := 0
	for _, st := range starts {
		if X >= st*s && X < (st+size)*s {
			c++
		}
	}
	return c
}

// tilesAlong counts the tiles planAxis puts along a padded axis of np.
func tilesAlong(np, tile, overlap, p int) int {
	if np <= tile {
		return 1
	}
	M, k := (np-tile)/p, (tile-minOverlap(overlap))/p
	return (M+k-1)/k + 1
}

// roundUp rounds v up to a multiple of p.
func roundUp(v, p int) int { return (v + p - 1) / p * p }

// tileBytes estimates the memory one forward pass of the model needs on a
// ty x tx tile (padded size): the model's workspace (three [P, C] and two
// [P, hidden] buffers, kept in its pool), the output it returns, the tile
// input, the window index maps and each goroutine's scratch (one window's
// q, k, v and attention logits, im2col rows).
func tileBytes(cfg model.Config, ty, tx, threads int) int64 {
	P := int64(ty) * int64(tx)
	C, hid, cs := int64(cfg.EmbedDim), int64(cfg.Hidden()), int64(3*cfg.Scale*cfg.Scale)
	perPx := 3*C + 2*hid + cs + 3 + 6
	if cs > hid {
		perPx += cs // the upsample conv's output no longer fits the FFN buffer
	}
	n := int64(cfg.Window[0] * cfg.Window[1])
	perThread := 6*n*C + n*n + kernels.ColRows*10*C
	return 4 * (P*perPx + int64(threads)*perThread)
}

// engine runs the model over images tile by tile, with the optional
// self-ensemble, accumulating into output planes.
type engine struct {
	m       *Model
	ctx     context.Context
	threads int
	ty, tx  int // LR tile size, multiples of the pad multiple or the padded size
	overlap int
	tta     bool

	progress    func(done, total int)
	done, total int
}

// resolved holds validated options.
type resolved struct {
	threads, tile, overlap int
	maxMemory              int64
	tta                    bool
	alpha                  string
}

func (m *Model) resolve(opt Options) (resolved, error) {
	r := resolved{threads: opt.Threads, tile: opt.Tile, overlap: opt.TileOverlap,
		maxMemory: opt.MaxMemory, tta: opt.TTA, alpha: opt.Alpha}
	if r.threads <= 0 {
		r.threads = runtime.GOMAXPROCS(0)
	}
	if r.tile < 0 {
		return r, fmt.Errorf("grformer: tile size %d is negative (0 chooses it from the memory budget)", r.tile)
	}
	switch {
	case r.overlap == 0:
		r.overlap = DefaultTileOverlap
	case r.overlap < 0:
		r.overlap = 0
	}
	if r.maxMemory < 0 {
		return r, fmt.Errorf("grformer: memory budget %d is negative", r.maxMemory)
	}
	if r.maxMemory == 0 {
		r.maxMemory = DefaultMaxMemory
	}
	switch r.alpha {
	case "":
		r.alpha = AlphaModel
	case AlphaModel, AlphaBicubic:
	default:
		return r, fmt.Errorf("grformer: alpha mode %q: want %q or %q", r.alpha, AlphaModel, AlphaBicubic)
	}
	return r, nil
}

// newEngine chooses the tile size for an h x w (LR) image given the memory
// the call needs besides the tiles (fixed, bytes), and counts the tiles of
// passes passes over the image.
func (m *Model) newEngine(ctx context.Context, r resolved, h, w int, fixed int64, passes int, progress func(done, total int)) (*engine, error) {
	cfg := m.net.Cfg
	p := cfg.PadMultiple()
	hp, wp := cfg.PaddedSize(h, w)
	if r.overlap > 0 && r.overlap < p {
		r.overlap = p // at least one window of context (Options.TileOverlap)
	}
	minTile := roundUp(minOverlap(r.overlap)+p, p)
	e := &engine{m: m, ctx: ctx, threads: r.threads, overlap: r.overlap, tta: r.tta, progress: progress}
	if r.tile > 0 {
		t := roundUp(r.tile, p)
		e.ty, e.tx = min(t, hp), min(t, wp)
		if (e.ty < hp || e.tx < wp) && t < minTile {
			return nil, fmt.Errorf("grformer: tile %d with overlap %d: tiles must be at least %d pixels (2.5 times the overlap plus the model's window, %d, rounded up to a multiple of it)",
				r.tile, r.overlap, minTile, p)
		}
	} else {
		// Of the tile shapes that fit the budget, take the one that
		// processes the fewest pixels (tiles times tile area: overlaps are
		// computed twice), then the one with the fewest tiles.
		budget := int64(float64(r.maxMemory) * planFraction)
		var best, bestN int64 = -1, 0
		for ty := hp; ty == hp || ty >= minTile; ty -= p {
			ny := int64(tilesAlong(hp, ty, r.overlap, p))
			for tx := wp; tx == wp || tx >= minTile; tx -= p {
				if fixed+tileBytes(cfg, ty, tx, r.threads) > budget {
					continue
				}
				nx := int64(tilesAlong(wp, tx, r.overlap, p))
				work := ny * int64(ty) * nx * int64(tx)
				if best < 0 || work < best || work == best && ny*nx < bestN {
					best, bestN, e.ty, e.tx = work, ny*nx, ty, tx
				}
			}
		}
		if best < 0 {
			ty, tx := min(minTile, hp), min(minTile, wp)
			tb := tileBytes(cfg, ty, tx, r.threads)
			return nil, fmt.Errorf("%w: a %dx%d image needs about %s (result and copies %s, %dx%d tiles %s), over %d%% of the budget of %s",
				ErrMemoryBudget, w, h, fmtBytes(fixed+tb), fmtBytes(fixed), tx, ty, fmtBytes(tb),
				int(planFraction*100), fmtBytes(r.maxMemory))
		}
	}
	for _, t := range e.transforms() {
		ty, tx := e.tileFor(t)
		th, tw := t.dims(h, w)
		hp, wp := cfg.PaddedSize(th, tw)
		e.total += passes * tilesAlong(hp, ty, e.overlap, p) * tilesAlong(wp, tx, e.overlap, p)
	}
	return e, nil
}

// tileFor returns the tile size in the frame of transform t.
func (e *engine) tileFor(t transform) (ty, tx int) {
	if t&transpose != 0 {
		return e.tx, e.ty
	}
	return e.ty, e.tx
}

// transforms lists the transforms of the self-ensemble, or the identity.
func (e *engine) transforms() []transform {
	if e.tta {
		return allTransforms[:]
	}
	return allTransforms[:1]
}

// pass runs the model over the h x w image src (srcC planes: 1 is a gray
// image fed as R = G = B, 3 is RGB) and adds the result into dst, the
// [3][h*s][w*s] planes, or [h*s][w*s] holding the mean of the three output
// channels when gray is set. With the self-ensemble each of the eight
// transforms adds 1/8 of its (back-transformed) result.
func (e *engine) pass(src []float32, srcC, h, w int, dst []float32, gray bool) error {
	cfg := e.m.net.Cfg
	p, s := cfg.PadMultiple(), cfg.Scale
	ts := e.transforms()
	inv := 1 / float32(len(ts))
	for _, t := range ts {
		th, tw := t.dims(h, w)
		hp, wp := cfg.PaddedSize(th, tw)
		tr, tc := e.tileFor(t)
		rows := planAxis(th, hp, tr, e.overlap, p, s)
		cols := planAxis(tw, wp, tc, e.overlap, p, s)
		ty, tx := rows.size, cols.size
		in := make([]float32, 3*ty*tx)
		for ri, r0 := range rows.starts {
			for ci, c0 := range cols.starts {
				if err := e.ctx.Err(); err != nil {
					return err
				}
				e.extract(in, src, srcC, h, w, t, r0, c0, ty, tx)
				out, err := e.m.net.Forward(in, 1, ty, tx, model.Options{Threads: e.threads, Ctx: e.ctx})
				if err != nil {
					return err
				}
				for i, v := range out {
					out[i] = min(max(v, 0), 1)
				}
				e.accumulate(dst, gray, h*s, w*s, out, t, ty*s, tx*s, r0*s, c0*s,
					rows.weights[ri], cols.weights[ci], inv)
				e.done++
				if e.progress != nil {
					e.progress(e.done, e.total)
				}
			}
		}
	}
	return nil
}

// extract fills in, [3][ty][tx], with the tile at (r0, c0) of the image
// seen through transform t and reflect-padded at the bottom and right.
func (e *engine) extract(in, src []float32, srcC, h, w int, t transform, r0, c0, ty, tx int) {
	th, tw := t.dims(h, w)
	n := h * w
	cols := make([]int, tx)
	for j := range cols {
		cols[j] = kernels.ReflectIndex(c0+j, tw)
	}
	for i := range ty {
		a := kernels.ReflectIndex(r0+i, th)
		for j, b := range cols {
			y, x := t.src(a, b, th, tw)
			k := y*w + x
			o := i*tx + j
			if srcC == 1 {
				v := src[k]
				in[o], in[ty*tx+o], in[2*ty*tx+o] = v, v, v
			} else {
				in[o], in[ty*tx+o], in[2*ty*tx+o] = src[k], src[n+k], src[2*n+k]
			}
		}
	}
}

// accumulate adds the weighted tile output out, [3][oy][ox] at (Y0, X0) of
// the transformed output frame, into dst (H x W planes of the untransformed
// output), keeping the part inside the image.
func (e *engine) accumulate(dst []float32, gray bool, H, W int, out []float32, t transform, oy, ox, Y0, X0 int, wy, wx []float32, scale float32) {
	TH, TW := t.dims(H, W)
	_ = TW
	N, on := H*W, oy*ox
	for yk, wyv := range wy {
		Y := Y0 + yk
		sy, sx := t.src(Y, X0, TH, TW)
		base := sy*W + sx
		sy1, sx1 := t.src(Y, X0+1, TH, TW)
		stride := sy1*W + sx1 - base
		wyv *= scale
		r0, r1, r2 := out[yk*ox:], out[on+yk*ox:], out[2*on+yk*ox:]
		if gray {
			d := dst[:N]
			for xk, wxv := range wx {
				d[base+xk*stride] += wyv * wxv * (r0[xk] + r1[xk] + r2[xk]) / 3
			}
			continue
		}
		d0, d1, d2 := dst[:N], dst[N:2*N], dst[2*N:3*N]
		for xk, wxv := range wx {
			k, f := base+xk*stride, wyv*wxv
			d0[k] += f * r0[xk]
			d1[k] += f * r1[xk]
			d2[k] += f * r2[xk]
		}
	}
}

// fmtBytes formats a byte count in binary units.
func fmtBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
