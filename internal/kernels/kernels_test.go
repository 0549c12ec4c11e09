package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/grformer/grformer/internal/kerneltest"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// conv3x3Ref is the plain 3x3 convolution (zero padding 1, stride 1) that
// Conv3 is tested against: im2col and Linear one output pixel at a time, on
// src [h, w, cin] and the weight packed by PackConv3x3, into dst [h, w, cout].
func conv3x3Ref(dst, src []float32, h, w, cin, cout int, wp, bias []float32) {
	col := make([]float32, 9*cin)
	for p := 0; p < h*w; p++ {
		Im2Col(col, src, h, w, cin, p, 1)
		Linear(dst[p*cout:], cout, col, 9*cin, wp, bias, 1, 9*cin, cout)
	}
}

// TestConv3x3Ref checks the reference 3x3 convolution (and so Im2Col and
// PackConv3x3) against a direct NCHW formula written from the definition of
// torch.nn.Conv2d(padding=1).
func TestConv3x3Ref(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ h, w, cin, cout int }{{1, 1, 1, 1}, {3, 5, 2, 4}, {7, 4, 3, 6}} {
		h, w, cin, cout := tc.h, tc.w, tc.cin, tc.cout
		wt := randSlice(r, cout*cin*9)
		bias := randSlice(r, cout)
		src := randSlice(r, h*w*cin)
		want := make([]float32, h*w*cout)
		for o := range cout {
			for y := range h {
				for x := range w {
					s := float64(bias[o])
					for i := range cin {
						for ky := range 3 {
							for kx := range 3 {
								yy, xx := y+ky-1, x+kx-1
								if yy >= 0 && yy < h && xx >= 0 && xx < w {
									s += float64(wt[((o*cin+i)*3+ky)*3+kx]) * float64(src[(yy*w+xx)*cin+i])
								}
							}
						}
					}
					want[(y*w+x)*cout+o] = float32(s)
				}
			}
		}
		got := make([]float32, h*w*cout)
		conv3x3Ref(got, src, h, w, cin, cout, PackConv3x3(wt, cout, cin), bias)
		kerneltest.Close(t, "conv3x3Ref", got, want, nil, 1e-4)
	}
}

func TestReflectIndex(t *testing.T) {
	// numpy.pad(np.arange(4), (0, 9), 'reflect') -> 0 1 2 3 2 1 0 1 2 3 2 1 0
	want := []int{0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0}
	for i, w := range want {
		if got := ReflectIndex(i, 4); got != w {
			t.Errorf("ReflectIndex(%d, 4) = %d, want %d", i, got, w)
		}
	}
	if ReflectIndex(7, 1) != 0 {
		t.Error("ReflectIndex on a 1-pixel side must be 0")
	}
}

func TestPixelShuffle(t *testing.T) {
	h, w, c, s := 2, 3, 2, 2
	src := make([]float32, h*w*c*s*s)
	for i := range src {
		src[i] = float32(i)
	}
	dst := make([]float32, len(src))
	PixelShuffle(dst, src, h, w, c, s)
	// out[ch][y*s+i][x*s+j] = in[y][x][ch*s*s+i*s+j]
	for ch := range c {
		for y := range h {
			for x := range w {
				for i := range s {
					for j := range s {
						got := dst[(ch*h*s+y*s+i)*w*s+x*s+j]
						want := src[(y*w+x)*c*s*s+ch*s*s+i*s+j]
						if got != want {
							t.Fatalf("[%d %d %d %d %d] = %v, want %v", ch, y, x, i, j, got, want)
						}
					}
				}
			}
		}
	}
}

// TestDenseAndConv3MatchReference runs Dense and Conv3 on every
// implementation of the GEMM kernels, on guarded buffers, against Linear and
// conv3x3Ref.
func TestDenseAndConv3MatchReference(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, tc := range []struct{ h, w, cin, cout int }{{1, 1, 3, 5}, {5, 7, 3, 60}, {9, 33, 60, 60}, {4, 40, 60, 48}} {
			h, w, cin, cout := tc.h, tc.w, tc.cin, tc.cout
			name := fmt.Sprintf("h=%d w=%d cin=%d cout=%d", h, w, cin, cout)
			wt, bias, src := randSlice(r, cout*cin*9), guarded(randSlice(r, cout)), guarded(randSlice(r, h*w*cin))
			want := make([]float32, h*w*cout)
			conv3x3Ref(want, src, h, w, cin, cout, PackConv3x3(wt, cout, cin), bias)
			c := NewConv3(wt, bias, cout, cin)
			got := kerneltest.Floats(h * w * cout)
			col := kerneltest.Floats(ColRows * 9 * cin)
			c.Apply(got, src, h, w, col, 0, h/2)
			c.Apply(got, src, h, w, col, h/2, h)
			kerneltest.Close(t, name+": Conv3", got, want, nil, 1e-4)

			lw := randSlice(r, cout*cin)
			wantL := make([]float32, h*w*cout)
			Linear(wantL, cout, src, cin, lw, bias, h*w, cin, cout)
			gotL := kerneltest.Floats(h * w * cout)
			NewDense(lw, bias, cout, cin).Apply(gotL, cout, src, cin, h*w, false)
			kerneltest.Close(t, name+": Dense", gotL, wantL, nil, 1e-4)
			kerneltest.Release()
		}
	})
}

// guarded copies x into a buffer against a guard page.
func guarded(x []float32) []float32 {
	g := kerneltest.Floats(len(x))
	copy(g, x)
	return g
}

// TestSetWeights: a layer given new weights by SetWeights computes what a
// layer built with them computes, bit for bit.
func TestSetWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const h, w, cin, cout = 5, 9, 12, 40
	src := randSlice(r, h*w*cin)
	c := NewConv3(randSlice(r, cout*cin*9), randSlice(r, cout), cout, cin)
	d := NewDense(randSlice(r, cout*cin), nil, cout, cin)
	for range 2 {
		wt, lw, bias := randSlice(r, cout*cin*9), randSlice(r, cout*cin), randSlice(r, cout)
		c.SetWeights(wt, bias)
		d.SetWeights(lw, bias)
		col := make([]float32, ColRows*9*cin)
		got, want := make([]float32, h*w*cout), make([]float32, h*w*cout)
		c.Apply(got, src, h, w, col, 0, h)
		NewConv3(wt, bias, cout, cin).Apply(want, src, h, w, col, 0, h)
		if !slices.Equal(got, want) {
			t.Fatal("Conv3.SetWeights differs from NewConv3")
		}
		d.Apply(got, cout, src, cin, h*w, false)
		NewDense(lw, bias, cout, cin).Apply(want, cout, src, cin, h*w, false)
		if !slices.Equal(got, want) {
			t.Fatal("Dense.SetWeights differs from NewDense")
		}
	}
}
