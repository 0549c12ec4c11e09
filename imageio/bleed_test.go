package imageio

import (
	"testing"
)

func TestBleedTransparent(t *testing.T) {
	const w, h = 6, 5
	n := w * h
	img := NewImage(w, h, false, true, 8)
	set := func(x, y int, r, g, b, a float32) {
		i := y*w + x
		img.Pix[i], img.Pix[n+i], img.Pix[2*n+i], img.Alpha[i] = r, g, b, a
	}
	set(1, 1, 1, 0, 0, 1)    // opaque red
	set(4, 3, 0, 0, 1, 1)    // opaque blue
	set(2, 3, 0, 1, 0, 0.25) // faint green
	orig := Orient(img, 1)   // a copy
	BleedTransparent(img)

	for i := 0; i < n; i++ {
		if img.Alpha[i] != orig.Alpha[i] {
			t.Fatal("alpha changed")
		}
		r, g, b := img.Pix[i], img.Pix[n+i], img.Pix[2*n+i]
		if orig.Alpha[i] > 0 {
			if r != orig.Pix[i] || g != orig.Pix[n+i] || b != orig.Pix[2*n+i] {
				t.Fatalf("visible pixel %d changed", i)
			}
			continue
		}
		// Every filled colour is a mix of the visible colours: no black.
		if s := r + g + b; s < 0.999 || s > 1.001 {
			t.Errorf("pixel (%d,%d) = %v %v %v, not a mix of the visible colours", i%w, i/w, r, g, b)
		}
	}
	at := func(x, y int) [3]float32 {
		i := y*w + x
		return [3]float32{img.Pix[i], img.Pix[n+i], img.Pix[2*n+i]}
	}
	if c := at(0, 0); c != [3]float32{1, 0, 0} {
		t.Errorf("(0,0) next to red only: %v", c)
	}
	if c := at(5, 4); c != [3]float32{0, 0, 1} {
		t.Errorf("(5,4) next to blue only: %v", c)
	}
	// (3,2) touches red? no; it touches green (a=0.25) and blue (a=1):
	// weighted by alpha, 0.2 green and 0.8 blue.
	if c := at(3, 2); abs32(c[1]-0.2) > 1e-6 || abs32(c[2]-0.8) > 1e-6 {
		t.Errorf("(3,2) = %v, want alpha-weighted 0.2 green 0.8 blue", c)
	}

	t.Run("no visible pixel, no alpha: unchanged", func(t *testing.T) {
		empty := NewImage(3, 3, true, true, 8)
		BleedTransparent(empty)
		for _, v := range empty.Pix {
			if v != 0 {
				t.Fatal("changed")
			}
		}
		opaque := NewImage(3, 3, true, false, 8)
		BleedTransparent(opaque)
	})
	t.Run("large sparse image", func(t *testing.T) {
		big := NewImage(300, 200, true, true, 8)
		big.Pix[150*300+7], big.Alpha[150*300+7] = 0.5, 1
		BleedTransparent(big)
		for i, v := range big.Pix {
			if v != 0.5 {
				t.Fatalf("pixel %d = %v", i, v)
			}
		}
	})
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
