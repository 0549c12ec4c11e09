package kerneltest

import (
	"math/rand/v2"
	"testing"
)

func TestWindowPartitionRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	h, w, c, wh, ww := 8, 12, 3, 4, 6
	src := make([]float32, h*w*c)
	Fill(r, src, -1, 1)
	win := make([]float32, len(src))
	WindowPartition(win, src, h, w, c, wh, ww)
	// Window 1 (second of the top row) starts at pixel (0, 6); its token 7 is (1, 1) inside.
	if got, want := win[(1*wh*ww+7)*c], src[(1*w+7)*c]; got != want {
		t.Fatalf("window 1 token 7 = %v, want pixel (1,7) = %v", got, want)
	}
	back := make([]float32, len(src))
	WindowReverse(back, win, h, w, c, wh, ww)
	Close(t, "reverse", back, src, nil, 0)
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
	Close(t, "roll back", back, src, nil, 0)
}
