package grformer

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
//
// The cost of small tiles. A tile computes its overlap with each neighbour
// again, so the work (tiles times tile area, over the frame's area) grows
// as tiles shrink, and the time follows the work: measured on one thread,
// a 1500x1000 image x2 in 15 tiles computing 1.52 times the pixels took
// 1.54 times the untiled time. For a 3000x2000 image at x2 with the light
// model and the default overlap (80 LR pixels between tiles; the memory of
// a tile is tileBytes on one thread, about 1.7 KiB per LR pixel):
//
//	-tile   tiles   work    memory of a tile
//	  128    5520   14.8x    28 MiB
//	  160    1380    5.8x    44 MiB
//	  192     620    3.7x    63 MiB
//	  256     228    2.4x   111 MiB
//	  384      77    1.9x   249 MiB
//	  512      40    1.7x   442 MiB
//	  768      15    1.4x   993 MiB
//
// (Tiles start on the window grid, so sizes that fit the image badly cost
// more: 1024 gives 2.05x.) With Tile = 0 the size follows the budget
// (Options.MaxMemory less the decoded input, as the grformer command
// computes it), choosing the shape that computes the fewest pixels; the
// result as float32 (UpscaleImage) takes 288 MB of it, a band of it one
// tile high (UpscaleRows, the command without -outscale) 69 MB for tiles
// 480 LR pixels high:
//
//	budget    whole result                streamed
//	256 MiB   too small                   224x288, 230 tiles, 2.42x
//	384 MiB   too small                   480x256,  96 tiles, 1.92x
//	512 MiB   224x192, 460 tiles, 3.23x   352x480,  60 tiles, 1.65x
//	768 MiB   384x416,  66 tiles, 1.72x   608x480,  30 tiles, 1.43x
//	1 GiB     480x576,  32 tiles, 1.44x   832x480,  20 tiles, 1.30x
//	2 GiB     832x736,  12 tiles, 1.20x   1088x736,  9 tiles, 1.18x
//	4 GiB     1568x1056, 4 tiles, 1.08x   1568x1056, 4 tiles, 1.08x
//
// The untiled pass needs about 11 GB for this image.

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
