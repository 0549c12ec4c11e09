package grformer

import (
	"context"
	"fmt"

	"github.com/grformer/grformer/internal/kernels"
	"github.com/grformer/grformer/model"
)

// engine runs the model over images tile by tile, with the optional
// self-ensemble, accumulating into output planes (layers).
type engine struct {
	m       *Model
	ctx     context.Context
	threads int
	h, w    int // the LR image
	ty, tx  int // LR tile size, multiples of the pad multiple or the padded size
	overlap int
	border  int // k: LR pixels of reflected context before the image (top, left)
	tta     bool
	// stream: the layers hold a band of held output rows, from lo, and
	// rows are handed on as they become final (see run). Otherwise held
	// is the whole output height and lo is 0.
	stream   bool
	held, lo int

	progress    func(done, total int)
	done, total int
}

// layer is one image the engine upscales and the planes its result is
// accumulated in.
type layer struct {
	src  []float32 // srcC planes of h x w
	srcC int       // 1: a gray image fed as R = G = B; 3: RGB
	gray bool      // keep the mean of the three output channels (one plane)
	acc  []float32 // planes() planes of e.held rows of the output width
}

func (l *layer) planes() int {
	if l.gray {
		return 1
	}
	return 3
}

// heldRows is how many output rows the layers hold with LR tiles ty rows
// high: all of them, or with streaming the output of one tile row (the
// rows above the next tile row are final and handed on).
func (e *engine) heldRows(ty int) int {
	H := e.h * e.m.Scale()
	if !e.stream {
		return H
	}
	return min(ty*e.m.Scale(), H)
}

// layerBytes is the memory of the layers' planes (planes of them in all)
// with LR tiles ty rows high: what newLayer allocates.
func (e *engine) layerBytes(planes, ty int) int64 {
	return 4 * int64(planes) * int64(e.heldRows(ty)) * int64(e.w*e.m.Scale())
}

// newLayer returns the layer of src (srcC planes of h x w) with its
// zeroed planes (layerBytes).
func (e *engine) newLayer(src []float32, srcC int, gray bool) *layer {
	l := &layer{src: src, srcC: srcC, gray: gray}
	l.acc = make([]float32, l.planes()*e.held*e.w*e.m.Scale())
	return l
}

// newEngine chooses the tile size for an h x w (LR) image given the memory
// the call needs besides the tiles and the layers (fixed, bytes) and the
// planes of the layers, and counts the tiles of passes passes (layers)
// over the image. With stream (ignored with the self-ensemble, which
// transforms the whole image) the layers hold only a band of rows.
func (m *Model) newEngine(ctx context.Context, r resolved, h, w int, fixed int64, planes, passes int, stream bool, progress func(done, total int)) (*engine, error) {
	cfg := m.net.Cfg
	p := cfg.PadMultiple()
	hp, wp := r.frame(cfg, h, w)
	if r.overlap > 0 && r.overlap < p {
		r.overlap = p // at least one window of context (Options.TileOverlap)
	}
	minTile := roundUp(minOverlap(r.overlap)+p, p)
	e := &engine{m: m, ctx: ctx, threads: r.threads, h: h, w: w, overlap: r.overlap, border: r.border, tta: r.tta,
		stream: stream && !r.tta, progress: progress}
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
			rest := fixed + e.layerBytes(planes, ty)
			for tx := wp; tx == wp || tx >= minTile; tx -= p {
				if rest+tileBytes(cfg, ty, tx, r.threads) > budget {
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
			rest := fixed + e.layerBytes(planes, ty)
			return nil, fmt.Errorf("%w: a %dx%d image needs about %s (result and copies %s, %dx%d tiles %s), over %d%% of the budget of %s",
				ErrMemoryBudget, w, h, FormatBytes(rest+tb), FormatBytes(rest), tx, ty, FormatBytes(tb),
				int(planFraction*100), FormatBytes(r.maxMemory))
		}
	}
	e.held = e.heldRows(e.ty)
	for _, t := range e.transforms() {
		ty, tx := e.tileFor(t)
		th, tw := t.dims(h, w)
		hp, wp := r.frame(cfg, th, tw)
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

// run runs the model over the layers' images (h x w) and adds the results
// into their planes, [3][H][W] for H = h*s, W = w*s, or [H][W] holding the
// mean of the three output channels for a gray layer. With the
// self-ensemble each of the eight transforms adds 1/8 of its
// (back-transformed) result. Tiles go row by row, and within a row of
// tiles layer by layer; each output pixel gets its additions in the same
// order whether streamed or not, so the results are the same bit for bit.
//
// Streaming, the planes hold rows [e.lo, e.lo+e.held) of the output: after
// each row of tiles the rows above the next one are final, and emit(y0,
// y1) is called with them (rows y0 to y1 of the output, the first y1-y0
// rows of the planes) before the planes move up. Otherwise emit, unless
// nil, is called once at the end with all rows.
func (e *engine) run(layers []*layer, emit func(y0, y1 int) error) error {
	cfg := e.m.net.Cfg
	p, s := cfg.PadMultiple(), cfg.Scale
	H, W := e.h*s, e.w*s
	ts := e.transforms()
	inv := 1 / float32(len(ts))
	for _, t := range ts {
		th, tw := t.dims(e.h, e.w)
		k := e.border
		hp, wp := cfg.PaddedSize(th+2*k, tw+2*k)
		tr, tc := e.tileFor(t)
		// Tiles cover the frame up to the image's end, k + th (k + tw); the
		// first k*s output rows (columns) are context and dropped.
		rows := planAxis(k+th, hp, tr, e.overlap, p, s)
		cols := planAxis(k+tw, wp, tc, e.overlap, p, s)
		ty, tx := rows.size, cols.size
		in := make([]float32, 3*ty*tx)
		for ri, r0 := range rows.starts {
			for _, l := range layers {
				for ci, c0 := range cols.starts {
					if err := e.ctx.Err(); err != nil {
						return err
					}
					e.extract(in, l.src, l.srcC, t, r0, c0, ty, tx)
					out, err := e.m.net.Forward(in, 1, ty, tx, model.Options{Threads: e.threads, Ctx: e.ctx})
					if err != nil {
						return err
					}
					e.accumulate(l, W, out, t, ty*s, tx*s, (r0-k)*s, (c0-k)*s,
						rows.weights[ri], cols.weights[ci], inv)
					e.done++
					if e.progress != nil {
						e.progress(e.done, e.total)
					}
				}
			}
			if e.stream && emit != nil && ri+1 < len(rows.starts) {
				if err := e.flush(layers, min(max((rows.starts[ri+1]-k)*s, 0), H), emit); err != nil {
					return err
				}
			}
		}
	}
	if emit == nil {
		return nil
	}
	return e.flush(layers, H, emit)
}

// flush hands the final rows [e.lo, y) to emit and moves the rest of the
// planes up, zeroing the rows freed at the bottom.
func (e *engine) flush(layers []*layer, y int, emit func(y0, y1 int) error) error {
	n := y - e.lo
	if n <= 0 {
		return nil
	}
	if err := emit(e.lo, y); err != nil {
		return err
	}
	e.lo = y
	if y == e.h*e.m.Scale() {
		return nil // the end
	}
	W := e.w * e.m.Scale()
	for _, l := range layers {
		for c := range l.planes() {
			pl := l.acc[c*e.held*W : (c+1)*e.held*W]
			copy(pl, pl[n*W:])
			clear(pl[(e.held-n)*W:])
		}
	}
	return nil
}

// extract fills in, [3][ty][tx], with the tile at (r0, c0) of the frame:
// the image seen through transform t, after e.border reflected pixels at
// the top and left, and reflect-padded at the bottom and right.
func (e *engine) extract(in, src []float32, srcC int, t transform, r0, c0, ty, tx int) {
	h, w := e.h, e.w
	th, tw := t.dims(h, w)
	n := h * w
	cols := make([]int, tx)
	for j := range cols {
		cols[j] = kernels.ReflectIndex(c0+j-e.border, tw)
	}
	for i := range ty {
		a := kernels.ReflectIndex(r0+i-e.border, th)
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
// the transformed output frame, into the planes of l (rows e.lo to
// e.lo+e.held of the untransformed output, W wide), keeping the part
// inside the image: rows and columns before it (Y0, X0 < 0: the border
// context) are dropped.
func (e *engine) accumulate(l *layer, W int, out []float32, t transform, oy, ox, Y0, X0 int, wy, wx []float32, scale float32) {
	TH, TW := t.dims(e.h*e.m.Scale(), W)
	N, on := e.held*W, oy*ox
	x0 := max(0, -X0) // first kept column of the tile
	if x0 >= len(wx) {
		return
	}
	for yk, wyv := range wy {
		Y := Y0 + yk
		if Y < 0 {
			continue
		}
		sy, sx := t.src(Y, X0+x0, TH, TW)
		base := (sy-e.lo)*W + sx
		stride := 0
		if x0+1 < len(wx) {
			sy1, sx1 := t.src(Y, X0+x0+1, TH, TW)
			stride = (sy1-sy)*W + sx1 - sx
		}
		wyv *= scale
		r0, r1, r2 := out[yk*ox+x0:], out[on+yk*ox+x0:], out[2*on+yk*ox+x0:]
		if l.gray {
			d := l.acc[:N]
			for xk, wxv := range wx[x0:] {
				d[base+xk*stride] += wyv * wxv * (r0[xk] + r1[xk] + r2[xk]) / 3
			}
			continue
		}
		d0, d1, d2 := l.acc[:N], l.acc[N:2*N], l.acc[2*N:3*N]
		for xk, wxv := range wx[x0:] {
			k, f := base+xk*stride, wyv*wxv
			d0[k] += f * r0[xk]
			d1[k] += f * r1[xk]
			d2[k] += f * r2[xk]
		}
	}
}

// tileBytes estimates the memory one forward pass of the model needs on a
// ty x tx tile (padded size): the model's workspace (model.WorkspaceBytes,
// computed from the layout the workspace is allocated from), plus what
// Forward allocates around it: the output it returns ([3s^2] per pixel),
// the tile input (3 per pixel) and the window index maps of the geometry
// cache (two int32 maps, shifted and not, and the shift labels: 6 words per
// pixel at most).
func tileBytes(cfg model.Config, ty, tx, threads int) int64 {
	P := int64(ty) * int64(tx)
	return model.WorkspaceBytes(cfg, ty, tx, threads) + 4*P*int64(3*cfg.Scale*cfg.Scale+3+6)
}
