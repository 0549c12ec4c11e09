package backprop

import (
	"github.com/grformer/grformer/internal/dwconv"
	"github.com/grformer/grformer/internal/gemm"
	"github.com/grformer/grformer/internal/kernels"
	"github.com/grformer/grformer/internal/par"
	"github.com/grformer/grformer/internal/vmath"
)

// linearBwd is the backward pass of a Linear layer y[m, out] = x[m, in] W^T
// + b (W in PyTorch layout, row strides ldx, lddy): dx (+)= dy W (if dx is not
// nil; accumulated when accDx), dW += dy^T x, db += colsum(dy). The weight
// gradient is split over output rows, so the result does not depend on the
// number of goroutines.
func linearBwd(dx []float32, lddx int, dy []float32, lddy int, x []float32, ldx int, w, dw, db []float32, m, in, out int, accDx bool, th int) {
	if dx != nil {
		par.For(m, th, func(_, lo, hi int) {
			gemm.Gemm(false, false, hi-lo, in, out, dy[lo*lddy:], lddy, w, in, dx[lo*lddx:], lddx, nil, accDx)
		})
	}
	par.For(out, th, func(_, lo, hi int) {
		// dW[lo:hi, :] += dy[:, lo:hi]^T x, in chunks of kChunk rows so that
		// each chunk of x stays in cache across the micro-kernel's row
		// blocks (one product over all m rows streams x from memory once
		// per row block). Chunks are added in order: the result does not
		// depend on the number of goroutines.
		for r0 := 0; r0 < m; r0 += kChunk {
			r := min(kChunk, m-r0)
			gemm.Gemm(true, false, hi-lo, in, r, dy[r0*lddy+lo:], lddy, x[r0*ldx:], ldx, dw[lo*in:], in, nil, true)
		}
		if db != nil {
			vmath.ColSums(db[lo:hi], dy[lo:], lddy, m, hi-lo)
		}
	})
}

// kChunk is the row chunk of the weight-gradient GEMMs.
const kChunk = 512

// col2imAdd scatters dcol [rows, 9*cin] back into dsrc [h*w, cin] (adding).
func col2imAdd(dsrc, dcol []float32, h, w, cin, p0, rows int) {
	k := 9 * cin
	for i := range rows {
		p := p0 + i
		y, x := p/w, p%w
		row := dcol[i*k : (i+1)*k]
		for t := range 9 {
			yy, xx := y+t/3-1, x+t%3-1
			if yy < 0 || yy >= h || xx < 0 || xx >= w {
				continue
			}
			d := dsrc[(yy*w+xx)*cin : (yy*w+xx+1)*cin]
			for c, v := range row[t*cin : (t+1)*cin] {
				d[c] += v
			}
		}
	}
}

// conv3 is a 3x3 convolution with its weight repacked for the im2col GEMM.
type conv3 struct {
	cin, cout int
	cols      [][]float32 // per-goroutine im2col chunks
	colImg    []float32   // one image's im2col, for the weight gradient
	w, b      []float32   // PyTorch [cout, cin, 3, 3], [cout]
	dw, db    []float32   // gradients, same layouts
	wp        []float32   // packed [cout][9*cin] (refreshed by pack)
	dwp       []float32   // packed gradient scratch
}

// colBufs returns th im2col chunk buffers.
func (c *conv3) colBufs(th int) [][]float32 {
	for len(c.cols) < th {
		c.cols = append(c.cols, make([]float32, colChunk*9*c.cin))
	}
	return c.cols[:th]
}

func (c *conv3) pack() {
	if c.wp == nil {
		c.wp = make([]float32, c.cout*9*c.cin)
		c.dwp = make([]float32, len(c.wp))
	}
	kernels.PackConv3x3Into(c.wp, c.w, c.cout, c.cin)
}

// colChunk is how many pixels become im2col rows at a time.
const colChunk = 256

// bwd: dsrc (+)= conv^T(ddst) when dsrc is not nil, dW += ..., db += ....
// The weight gradient is accumulated image chunk by image chunk in a fixed
// order, split over output channels, so it does not depend on the number of
// goroutines.
func (c *conv3) bwd(dsrc, ddst, src []float32, n, h, w int, th int) {
	P := h * w
	k := 9 * c.cin
	if dsrc != nil {
		cols := c.colBufs(th)
		par.For(n, th, func(tid, lo, hi int) {
			dcol := cols[tid]
			for img := lo; img < hi; img++ {
				for q := 0; q < P; q += colChunk {
					rows := min(colChunk, P-q)
					gemm.Gemm(false, false, rows, k, c.cout, ddst[(img*P+q)*c.cout:], c.cout, c.wp, k, dcol, k, nil, false)
					col2imAdd(dsrc[img*P*c.cin:], dcol, h, w, c.cin, q, rows)
				}
			}
		})
	}
	// Weight gradient on the packed layout: dWp[cout, 9cin] += ddst^T col.
	clear(c.dwp)
	if len(c.colImg) < P*k {
		c.colImg = make([]float32, P*k)
	}
	col := c.colImg
	for img := range n {
		par.For(P, th, func(_, lo, hi int) {
			for q := lo; q < hi; q += colChunk {
				kernels.Im2Col(col[q*k:], src[img*P*c.cin:], h, w, c.cin, q, min(colChunk, hi-q))
			}
		})
		par.For(c.cout, th, func(_, lo, hi int) {
			gemm.Gemm(true, false, hi-lo, k, P, ddst[img*P*c.cout+lo:], c.cout, col, k, c.dwp[lo*k:], k, nil, true)
			for o := lo; o < hi; o++ {
				var s float32
				for p := range P {
					s += ddst[(img*P+p)*c.cout+o]
				}
				c.db[o] += s
			}
		})
	}
	// Unpack [cout][tap][cin] into PyTorch [cout][cin][3][3].
	for o := range c.cout {
		for i := range c.cin {
			for t := range 9 {
				c.dw[(o*c.cin+i)*9+t] += c.dwp[o*k+t*c.cin+i]
			}
		}
	}
}

// dwBwd: dsrc += dwconv^T(ddst); dw (PyTorch [ch,1,3,3]) and db accumulate.
// The input gradient is the depthwise convolution of ddst with the kernel
// rotated by 180 degrees (tap t becomes 8-t), on the assembly kernel.
// Weight gradients are split over channels (deterministic).
func dwBwd(dsrc, ddst, src []float32, n, h, w, ch int, wp, dw, db []float32, th int) {
	P := h * w
	flip := make([]float32, 9*ch)
	for t := range 9 {
		copy(flip[(8-t)*ch:(9-t)*ch], wp[t*ch:(t+1)*ch])
	}
	par.For(n*h, th, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			img, y := r/h, r%h
			dwconv.Conv3x3(dsrc[img*P*ch:(img+1)*P*ch], ddst[img*P*ch:(img+1)*P*ch], h, w, ch, flip, nil, y, y+1, true)
		}
	})
	// Weight and bias gradients: partial sums over fixed chunks of rows
	// (on the assembly kernel), added in chunk order, so the result does
	// not depend on the number of goroutines.
	chunks := n * ((h + dwRows - 1) / dwRows)
	perImg := chunks / n
	part := make([]float32, chunks*10*ch)
	par.For(chunks, th, func(_, lo, hi int) {
		for k := lo; k < hi; k++ {
			img, y0 := k/perImg, (k%perImg)*dwRows
			pw := part[k*10*ch : k*10*ch+9*ch]
			pb := part[k*10*ch+9*ch : (k+1)*10*ch]
			dwconv.WeightGrad(pw, pb, ddst[img*P*ch:(img+1)*P*ch], src[img*P*ch:(img+1)*P*ch], h, w, ch, y0, min(y0+dwRows, h))
		}
	})
	sumW := make([]float32, 10*ch)
	for k := range chunks {
		for j, v := range part[k*10*ch : (k+1)*10*ch] {
			sumW[j] += v
		}
	}
	// [9][ch] tap-major to PyTorch [ch][1][3][3].
	for c := range ch {
		for t := range 9 {
			dw[c*9+t] += sumW[t*ch+c]
		}
		db[c] += sumW[9*ch+c]
	}
}

// dwRows is the row chunk of the depthwise weight gradient's partial sums.
const dwRows = 8

// lnBwd: dsrc (+)= LayerNorm backward of dy; dg, db accumulate. The
// parameter gradients are reduced per channel over all rows in a fixed
// order (columns split over the goroutines), so they do not depend on the
// number of goroutines.
func lnBwd(dsrc, dy, src []float32, m, c int, g, mean, rstd, dg, db []float32, acc bool, th int) {
	par.For(m, th, func(_, lo, hi int) {
		vmath.LayerNormBackwardRows(dsrc[lo*c:hi*c], dy[lo*c:hi*c], src[lo*c:hi*c], hi-lo, c, g, mean[lo:hi], rstd[lo:hi], acc)
	})
	par.For(c, th, func(_, lo, hi int) {
		vmath.LayerNormParamGradCols(dg[lo:hi], db[lo:hi], dy[lo:], src[lo:], c, m, hi-lo, mean, rstd)
	})
}

// addInto does dst += src, split over the goroutines.
func addInto(dst, src []float32, th int) {
	par.For(len(dst), th, func(_, lo, hi int) {
		d := dst[lo:hi]
		for j, v := range src[lo:hi] {
			d[j] += v
		}
	})
}
