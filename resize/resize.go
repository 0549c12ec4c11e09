package resize

import (
	"errors"
	"fmt"
	"math"
)

// Cubic is MATLAB's bicubic kernel (Keys, a = -0.5), written as imresize.m
// writes it so that the weights agree with MATLAB to the last bit.
func Cubic(x float64) float64 {
	absx := math.Abs(x)
	absx2 := absx * absx
	absx3 := absx2 * absx
	switch {
	case absx <= 1:
		return 1.5*absx3 - 2.5*absx2 + 1
	case absx <= 2:
		return -0.5*absx3 + 2.5*absx2 - 4*absx + 2
	}
	return 0
}

// cubicWidth is the support of Cubic.
const cubicWidth = 4.0

// Axis holds the interpolation weights of a resize along one dimension, as
// MATLAB's contributions() computes them: for output sample i (0-based),
// output[i] = sum over k < Taps of Weight[i*Taps+k] * input[Index[i*Taps+k]].
// Indices are 0-based and already mirrored at the borders (symmetric
// padding); taps that are zero for every output sample are dropped.
type Axis struct {
	In, Out int     // input and output lengths
	Scale   float64 // output/input scale factor the weights were made for
	Taps    int     // weights per output sample
	Index   []int
	Weight  []float64
}

// NewAxis computes the weights for resizing a dimension of length in to
// length out with the given scale factor. With antialias set and scale < 1
// the kernel is widened by 1/scale (MATLAB's default for bicubic).
func NewAxis(in, out int, scale float64, antialias bool) (*Axis, error) {
	if in <= 0 || out <= 0 {
		return nil, fmt.Errorf("resize: lengths must be positive (in %d, out %d)", in, out)
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("resize: invalid scale %v", scale)
	}
	h := Cubic
	width := cubicWidth
	if scale < 1 && antialias {
		h = func(x float64) float64 { return scale * Cubic(scale*x) }
		width = cubicWidth / scale
	}
	p := int(math.Ceil(width)) + 2
	if p > 1<<20 {
		return nil, fmt.Errorf("resize: scale %v too small", scale)
	}
	idx := make([]int, out*p)
	w := make([]float64, out*p)
	// aux is MATLAB's [1:in, in:-1:1], used with a modulo for mirroring.
	period := 2 * in
	for i := 0; i < out; i++ {
		x := float64(i + 1)
		u := x/scale + 0.5*(1-1/scale)
		left := math.Floor(u - width/2)
		row := w[i*p : (i+1)*p]
		sum := 0.0
		for k := 0; k < p; k++ {
			j := left + float64(k) // 1-based position
			row[k] = h(u - j)
			sum += row[k]
		}
		for k := range row {
			row[k] /= sum
		}
		for k := 0; k < p; k++ {
			j := int(left) + k - 1 // 0-based position
			m := ((j % period) + period) % period
			if m >= in {
				m = period - 1 - m
			}
			idx[i*p+k] = m
		}
	}
	// Drop taps that are zero for every output (MATLAB's "kill" step).
	keep := make([]int, 0, p)
	for k := 0; k < p; k++ {
		for i := 0; i < out; i++ {
			if w[i*p+k] != 0 {
				keep = append(keep, k)
				break
			}
		}
	}
	a := &Axis{In: in, Out: out, Scale: scale, Taps: len(keep)}
	a.Index = make([]int, out*len(keep))
	a.Weight = make([]float64, out*len(keep))
	for i := 0; i < out; i++ {
		for n, k := range keep {
			a.Index[i*len(keep)+n] = idx[i*p+k]
			a.Weight[i*len(keep)+n] = w[i*p+k]
		}
	}
	return a, nil
}

// Plan is a precomputed two-dimensional resize: the rows axis (height) is
// applied first, then the columns axis (width), as MATLAB does when both
// scale factors are equal.
type Plan struct {
	InW, InH, OutW, OutH int
	Rows                 *Axis // vertical: InH -> OutH
	Cols                 *Axis // horizontal: InW -> OutW
	// ColsFirst applies the columns axis before the rows axis; MATLAB
	// resizes the dimension with the smaller scale first, which NewPlanSize
	// follows when the two scales differ.
	ColsFirst bool
}

// OutputSize returns the size MATLAB's imresize(A, scale) produces:
// ceil(scale*in) in each dimension.
func OutputSize(inW, inH int, scale float64) (w, h int) {
	return int(math.Ceil(scale * float64(inW))), int(math.Ceil(scale * float64(inH)))
}

// NewPlan prepares imresize(A, scale, 'bicubic') for an inW x inH image:
// the output size is ceil(scale*in) and the weights use scale itself, with
// antialiasing when scale < 1.
func NewPlan(inW, inH int, scale float64) (*Plan, error) {
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("resize: invalid scale %v", scale)
	}
	if inW <= 0 || inH <= 0 {
		return nil, fmt.Errorf("resize: empty image %dx%d", inW, inH)
	}
	outW, outH := OutputSize(inW, inH, scale)
	return newPlan(inW, inH, outW, outH, scale, scale)
}

// NewPlanSize prepares imresize(A, [outH outW], 'bicubic'): the scale of
// each dimension is out/in.
func NewPlanSize(inW, inH, outW, outH int) (*Plan, error) {
	if inW <= 0 || inH <= 0 || outW <= 0 || outH <= 0 {
		return nil, fmt.Errorf("resize: invalid sizes %dx%d -> %dx%d", inW, inH, outW, outH)
	}
	return newPlan(inW, inH, outW, outH, float64(outW)/float64(inW), float64(outH)/float64(inH))
}

func newPlan(inW, inH, outW, outH int, sx, sy float64) (*Plan, error) {
	rows, err := NewAxis(inH, outH, sy, true)
	if err != nil {
		return nil, err
	}
	cols, err := NewAxis(inW, outW, sx, true)
	if err != nil {
		return nil, err
	}
	return &Plan{InW: inW, InH: inH, OutW: outW, OutH: outH, Rows: rows, Cols: cols, ColsFirst: sx < sy}, nil
}

var errSize = errors.New("resize: buffer length does not match the plan")

// Uint8 resizes one 8-bit channel (row-major, InW*InH samples) into dst
// (OutW*OutH samples). Like MATLAB on uint8 data, the result of each pass is
// rounded half away from zero and clipped to 0..255.
func (p *Plan) Uint8(dst, src []uint8) error {
	if len(src) != p.InW*p.InH || len(dst) != p.OutW*p.OutH {
		return errSize
	}
	if p.ColsFirst {
		tmp := make([]uint8, p.OutW*p.InH)
		cols8(tmp, src, p.InW, p.InH, p.Cols)
		rows8(dst, tmp, p.OutW, p.Rows)
		return nil
	}
	tmp := make([]uint8, p.InW*p.OutH)
	rows8(tmp, src, p.InW, p.Rows)
	cols8(dst, tmp, p.InW, p.OutH, p.Cols)
	return nil
}

// Float64 resizes one float64 channel without any rounding or clipping.
func (p *Plan) Float64(dst, src []float64) error {
	if len(src) != p.InW*p.InH || len(dst) != p.OutW*p.OutH {
		return errSize
	}
	if p.ColsFirst {
		tmp := make([]float64, p.OutW*p.InH)
		colsF(tmp, src, p.InW, p.InH, p.Cols)
		rowsF(dst, tmp, p.OutW, p.Rows)
		return nil
	}
	tmp := make([]float64, p.InW*p.OutH)
	rowsF(tmp, src, p.InW, p.Rows)
	colsF(dst, tmp, p.InW, p.OutH, p.Cols)
	return nil
}

// Round8 converts a value to uint8 as MATLAB does: round half away from
// zero, then saturate to 0..255.
func Round8(v float64) uint8 {
	if !(v > 0) { // also NaN -> 0, as MATLAB does
		return 0
	}
	if v >= 254.5 {
		return 255
	}
	return uint8(math.Floor(v + 0.5))
}

// rows8 resizes along the vertical axis: src has width w and a.In rows.
func rows8(dst, src []uint8, w int, a *Axis) {
	acc := make([]float64, w)
	for y := 0; y < a.Out; y++ {
		for x := range acc {
			acc[x] = 0
		}
		for k := 0; k < a.Taps; k++ {
			wt := a.Weight[y*a.Taps+k]
			line := src[a.Index[y*a.Taps+k]*w : a.Index[y*a.Taps+k]*w+w]
			for x, v := range line {
				acc[x] += wt * float64(v)
			}
		}
		out := dst[y*w : y*w+w]
		for x, v := range acc {
			out[x] = Round8(v)
		}
	}
}

// cols8 resizes along the horizontal axis: src is a.In x h.
func cols8(dst, src []uint8, inW, h int, a *Axis) {
	for y := 0; y < h; y++ {
		line := src[y*inW : y*inW+inW]
		out := dst[y*a.Out : y*a.Out+a.Out]
		for x := range out {
			s := 0.0
			base := x * a.Taps
			for k := 0; k < a.Taps; k++ {
				s += a.Weight[base+k] * float64(line[a.Index[base+k]])
			}
			out[x] = Round8(s)
		}
	}
}

func rowsF(dst, src []float64, w int, a *Axis) {
	for y := 0; y < a.Out; y++ {
		out := dst[y*w : y*w+w]
		for x := range out {
			out[x] = 0
		}
		for k := 0; k < a.Taps; k++ {
			wt := a.Weight[y*a.Taps+k]
			line := src[a.Index[y*a.Taps+k]*w : a.Index[y*a.Taps+k]*w+w]
			for x, v := range line {
				out[x] += wt * v
			}
		}
	}
}

func colsF(dst, src []float64, inW, h int, a *Axis) {
	for y := 0; y < h; y++ {
		line := src[y*inW : y*inW+inW]
		out := dst[y*a.Out : y*a.Out+a.Out]
		for x := range out {
			s := 0.0
			base := x * a.Taps
			for k := 0; k < a.Taps; k++ {
				s += a.Weight[base+k] * line[a.Index[base+k]]
			}
			out[x] = s
		}
	}
}
