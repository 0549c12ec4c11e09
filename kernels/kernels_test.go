package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func closeTo(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol || math.IsNaN(d) {
			t.Fatalf("%s: [%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

// TestConv3x3 checks the reference 3x3 convolution against a direct NCHW
// formula written from the definition of torch.nn.Conv2d(padding=1).
func TestConv3x3(t *testing.T) {
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
		Conv3x3(got, src, h, w, cin, cout, PackConv3x3(wt, cout, cin), bias, make([]float32, 9*cin), 0, h)
		closeTo(t, "conv3x3", got, want, 1e-4)
	}
}

func TestWindowPartitionRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	h, w, c, wh, ww := 8, 12, 3, 4, 6
	src := randSlice(r, h*w*c)
	win := make([]float32, len(src))
	WindowPartition(win, src, h, w, c, wh, ww)
	// Window 1 (second of the top row) starts at pixel (0, 6); its token 7 is (1, 1) inside.
	if got, want := win[(1*wh*ww+7)*c], src[(1*w+7)*c]; got != want {
		t.Fatalf("window 1 token 7 = %v, want pixel (1,7) = %v", got, want)
	}
	back := make([]float32, len(src))
	WindowReverse(back, win, h, w, c, wh, ww)
	closeTo(t, "reverse", back, src, 0)
}

func TestRoll(t *testing.T) {
	h, w, c := 3, 4, 1
	src := make([]float32, h*w)
	for i := range src {
		src[i] = float32(i)
	}
	dst := make([]float32, h*w)
	Roll(dst, src, h, w, c, 1, 2) // dst[y][x] = src[(y+1)%3][(x+2)%4]
	if dst[0] != src[1*w+2] || dst[(2*w+3)] != src[0*w+1] {
		t.Fatalf("roll: %v", dst)
	}
	back := make([]float32, h*w)
	Roll(back, dst, h, w, c, -1, -2)
	closeTo(t, "roll back", back, src, 0)
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

func TestDenseAndConv3MatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ h, w, cin, cout int }{{1, 1, 3, 5}, {5, 7, 3, 60}, {9, 33, 60, 60}, {4, 40, 60, 48}} {
		h, w, cin, cout := tc.h, tc.w, tc.cin, tc.cout
		wt, bias, src := randSlice(r, cout*cin*9), randSlice(r, cout), randSlice(r, h*w*cin)
		want := make([]float32, h*w*cout)
		Conv3x3(want, src, h, w, cin, cout, PackConv3x3(wt, cout, cin), bias, make([]float32, 9*cin), 0, h)
		c := NewConv3(wt, bias, cout, cin)
		got := make([]float32, h*w*cout)
		col := make([]float32, c.ColSize())
		c.Apply(got, src, h, w, col, 0, h/2)
		c.Apply(got, src, h, w, col, h/2, h)
		closeTo(t, "Conv3", got, want, 1e-4)

		lw := randSlice(r, cout*cin)
		wantL := make([]float32, h*w*cout)
		Linear(wantL, cout, src, cin, lw, bias, h*w, cin, cout)
		gotL := make([]float32, h*w*cout)
		NewDense(lw, bias, cout, cin).Apply(gotL, cout, src, cin, h*w, false)
		closeTo(t, "Dense", gotL, wantL, 1e-4)
	}
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
		col := make([]float32, c.ColSize())
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
