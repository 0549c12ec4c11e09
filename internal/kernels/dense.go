package kernels

import "github.com/grformer/grformer/internal/gemm"

// Dense is a Linear layer (y = x W^T + b) with its weight packed once for
// the fast GEMM micro-kernels (internal/gemm: AVX-512, AVX2 or portable Go,
// chosen at run time). It is read-only after NewDense and safe for
// concurrent use.
type Dense struct {
	w    *gemm.PackedB
	bias []float32 // nil: no bias
	in   int
	out  int
}

// In and Out are the layer's input and output widths.
func (d *Dense) In() int  { return d.in }
func (d *Dense) Out() int { return d.out }

// NewDense packs a PyTorch Linear weight [out, in] (and bias [out], may be
// nil).
func NewDense(w, bias []float32, out, in int) *Dense {
	return &Dense{w: gemm.PackNT(out, in, w, in), bias: bias, in: in, out: out}
}

// SetWeights repacks new values of the weight [out, in] and takes bias (may
// be nil) as the layer's bias, for weights that change between uses
// (training). It does not allocate; it must not run concurrently with Apply.
func (d *Dense) SetWeights(w, bias []float32) {
	d.w.RepackNT(w, d.in)
	d.bias = bias
}

// Apply computes dst[i] = x[i] W^T + b for m rows; x has row stride ldx and
// dst row stride ldd. With accumulate the result is added to dst. It does
// not allocate. Linear is the plain reference it is tested against.
func (d *Dense) Apply(dst []float32, ldd int, x []float32, ldx int, m int, accumulate bool) {
	d.w.Mul(m, x, ldx, dst, ldd, d.bias, accumulate)
}

// Conv3 is a dense 3x3 convolution (zero padding 1, stride 1) on [h, w, cin]
// token images, computed as im2col rows times the packed weight. It is
// read-only after NewConv3 and safe for concurrent use.
type Conv3 struct {
	cin, cout int
	w         *gemm.PackedB
	bias      []float32
	pw        []float32 // SetWeights' im2col-order scratch
}

// Cin and Cout are the convolution's input and output channels.
func (c *Conv3) Cin() int  { return c.cin }
func (c *Conv3) Cout() int { return c.cout }

// NewConv3 packs a PyTorch Conv2d weight [cout, cin, 3, 3] and bias [cout].
func NewConv3(w, bias []float32, cout, cin int) *Conv3 {
	pw := PackConv3x3(w, cout, cin) // [cout][9*cin], im2col order
	return &Conv3{cin: cin, cout: cout, w: gemm.PackNT(cout, 9*cin, pw, 9*cin), bias: bias}
}

// SetWeights repacks new values of the weight [cout, cin, 3, 3] and takes
// bias as the layer's bias, for weights that change between uses
// (training). It allocates a scratch the first time only; it must not run
// concurrently with Apply.
func (c *Conv3) SetWeights(w, bias []float32) {
	if c.pw == nil {
		c.pw = make([]float32, c.cout*9*c.cin)
	}
	PackConv3x3Into(c.pw, w, c.cout, c.cin)
	c.w.RepackNT(c.pw, 9*c.cin)
	c.bias = bias
}

// ColRows is how many output pixels Apply turns into im2col rows at a time;
// col scratch must hold ColRows*9*cin values.
const ColRows = 128

// Apply computes output rows [y0, y1) of dst [h, w, cout] from the whole of
// src [h, w, cin]. col is scratch of ColRows*9*cin values. It does not
// allocate. It is tested against Im2Col and Linear, pixel by pixel.
func (c *Conv3) Apply(dst, src []float32, h, w int, col []float32, y0, y1 int) {
	k := 9 * c.cin
	p0, p1 := y0*w, y1*w
	for p := p0; p < p1; p += ColRows {
		q := min(p+ColRows, p1)
		Im2Col(col, src, h, w, c.cin, p, q-p)
		c.w.Mul(q-p, col, k, dst[p*c.cout:], c.cout, c.bias, false)
	}
}
