package grformer

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/grformer/grformer/model"
)

// AlphaMode is how an alpha channel is upscaled (Options.Alpha).
type AlphaMode string

const (
	// AlphaModel upscales the alpha channel with the model, as a gray
	// image: sharp edges, at the cost of a second pass. It is the default
	// (also for "").
	AlphaModel AlphaMode = "model"
	// AlphaBicubic upscales the alpha channel with MATLAB's bicubic
	// (package resize, in float64): cheap, softer edges.
	AlphaBicubic AlphaMode = "bicubic"
)

// ParseAlphaMode reads an alpha mode by name ("" is the default,
// AlphaModel); any other name is an error listing the valid ones.
func ParseAlphaMode(name string) (AlphaMode, error) {
	switch a := AlphaMode(name); a {
	case "":
		return AlphaModel, nil
	case AlphaModel, AlphaBicubic:
		return a, nil
	}
	return "", fmt.Errorf("grformer: alpha mode %q: want %q or %q", name, AlphaModel, AlphaBicubic)
}

// Options control an upscale. The zero value is a good default: all cores,
// tiles chosen from a 2 GiB budget, no self-ensemble, alpha by the model.
type Options struct {
	// Threads limits the goroutines used; 0 means GOMAXPROCS.
	Threads int

	// Tile is the side, in input (LR) pixels, of the square tiles the image
	// is processed in, rounded up to a multiple of the model's pad multiple
	// (its larger window side; the model pads to that anyway). 0 chooses,
	// among the sizes that keep the estimated memory of the call within
	// MaxMemory, the one that computes the fewest pixels; an image that
	// fits is processed whole, which is exactly the untiled forward pass.
	// With Tile >= 128 and the default TileOverlap, a tiled result is
	// within 1/255 of the untiled one (see tiling.go for measurements).
	//
	// Small tiles cost time: every tile computes its overlap with its
	// neighbours (at least 2.5 times TileOverlap) again, and the time
	// follows the pixels computed. With the default overlap, tiles of 512
	// compute about 1.7 times the pixels of the whole image, 256 about 2.4
	// times, 128 about 15 times (tiling.go has the table). A tile of the
	// light models needs about 1.7 KiB per LR pixel.
	Tile int

	// TileOverlap is the context, in LR pixels, that the tiles reach beyond
	// every output pixel they contribute to: neighbouring tiles overlap by
	// at least 2.5 times it, and are blended over the middle fifth of that.
	// 0 means DefaultTileOverlap (32), NoTileOverlap (or any negative
	// value) none: tiles abut and seams show. The command's -tile-overlap
	// flag takes the same values. A positive value below the model's pad multiple (its
	// larger window side, 32 for the light models) is raised to it: with
	// less context than one window a tile's attention sees too little of
	// its neighbourhood (an overlap of 16 on the light model gave 2.5/255).
	// A tile must exceed the overlap by the pad multiple.
	TileOverlap int

	// BorderContext is the reflected context, in LR pixels, that the image
	// gets beyond its edges before the model runs (and that is dropped from
	// the output): 0 means DefaultBorderContext, NoBorderContext (or any
	// negative value) none. The reference pads an image only at the bottom
	// and right, to a multiple of its window, by reflection; at the top and
	// left (and at the bottom or right when no padding is needed) its
	// convolutions see zero padding instead, which a network responds to
	// with an artificial edge: on flat or dark images the shipped x2
	// weights left coloured speckles up to 28 levels in the top corners.
	// With the context every edge sees a mirrored continuation of the
	// image, as the reference's own bottom/right padding does. The cost is
	// the extra pixels: the frame is the image plus the context on each
	// side, padded to the window multiple. NoBorderContext gives exactly
	// the reference's forward pass (what grformer eval measures).
	BorderContext int

	// MaxMemory is the memory budget in bytes, 0 meaning DefaultMaxMemory
	// (2 GiB). When Tile is 0, the tile size is chosen so that the estimated
	// memory this call allocates (the result as float32 planes, or with
	// UpscaleRows only a band of it one tile high; copies of the input; the
	// model's buffers for one tile) stays within 80% of it; the rest is
	// headroom for the garbage collector, which stays within the budget when
	// the program sets a memory limit of MaxMemory (GOMEMLIMIT or
	// runtime/debug.SetMemoryLimit), as the grformer command does. If even
	// the smallest tile does not fit, the call fails with ErrMemoryBudget
	// before running the model. The caller's input is not counted.
	MaxMemory int64

	// TTA turns on the self-ensemble: the result is the mean of the eight
	// flips and rotations of the input, each upscaled and transformed back
	// (eight times the work).
	TTA bool

	// Alpha chooses how an alpha channel is upscaled: AlphaModel (the
	// default, also for "") or AlphaBicubic.
	Alpha AlphaMode

	// Progress, when set, is called with (0, total) before the first tile
	// and (done, total) after each tile, on the calling goroutine. total
	// counts every forward pass: tiles times 8 with TTA, times 2 when alpha
	// goes through the model.
	Progress func(done, total int)
}

var (
	// ErrEmptyImage is returned for images with no pixels.
	ErrEmptyImage = errors.New("grformer: image has no pixels")

	// ErrMemoryBudget is returned (wrapped, with the sizes) when an image
	// cannot be upscaled within Options.MaxMemory even with the smallest
	// tiles; the result alone may be too large.
	ErrMemoryBudget = errors.New("grformer: memory budget too small")
)

// DefaultTileOverlap is the tile context M, in LR pixels, used when
// Options.TileOverlap is 0 (neighbouring tiles then overlap by 80 or more).
const DefaultTileOverlap = 32

// DefaultBorderContext is the border context used when
// Options.BorderContext is 0: 8 LR pixels. The speckles it removes reach
// about 4 LR pixels into the image.
const DefaultBorderContext = 8

// NoBorderContext as Options.BorderContext runs the reference's forward
// pass unchanged at the image's edges.
const NoBorderContext = -1

// NoTileOverlap as Options.TileOverlap makes tiles abut, with no context
// beyond their edges (seams show).
const NoTileOverlap = -1

// DefaultMaxMemory is the memory budget used when Options.MaxMemory is 0:
// 2 GiB.
const DefaultMaxMemory = 2 << 30

// planFraction is the share of MaxMemory planned for live data; the rest is
// headroom for the garbage collector (the per-tile outputs of the model
// become garbage as soon as they are blended).
const planFraction = 0.8

// resolved holds validated options.
type resolved struct {
	threads, tile, overlap int
	border                 int
	maxMemory              int64
	tta                    bool
	alpha                  AlphaMode
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
	switch r.border = opt.BorderContext; {
	case r.border == 0:
		r.border = DefaultBorderContext
	case r.border < 0:
		r.border = 0
	}
	if r.maxMemory < 0 {
		return r, fmt.Errorf("grformer: memory budget %d is negative", r.maxMemory)
	}
	if r.maxMemory == 0 {
		r.maxMemory = DefaultMaxMemory
	}
	var err error
	if r.alpha, err = ParseAlphaMode(string(opt.Alpha)); err != nil {
		return r, err
	}
	return r, nil
}

// FormatBytes formats a byte count in binary units ("1.5 GiB").
func FormatBytes(b int64) string {
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

// frame is the padded size the model computes for an h x w image: the
// image with the border context on every side, padded to the window
// multiple.
func (r resolved) frame(cfg model.Config, h, w int) (hp, wp int) {
	return cfg.PaddedSize(h+2*r.border, w+2*r.border)
}
