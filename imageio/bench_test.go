package imageio

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"testing"
)

func benchImage() *image.NRGBA {
	rng := rand.New(rand.NewPCG(1, 1))
	m := image.NewNRGBA(image.Rect(0, 0, 1024, 1024))
	for y := 0; y < 1024; y++ {
		for x := 0; x < 1024; x++ {
			i := m.PixOffset(x, y)
			m.Pix[i], m.Pix[i+1], m.Pix[i+2] = byte(x), byte(y), byte(x^y)+byte(rng.UintN(8))
			m.Pix[i+3] = 255
			if x > 600 {
				m.Pix[i+3] = 0
			}
		}
	}
	return m
}

func BenchmarkDecodePNG(b *testing.B) {
	data := encPNG(b, benchImage())
	b.SetBytes(1024 * 1024)
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(data), DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePNG(b *testing.B) {
	img := FromImage(benchImage())
	b.SetBytes(1024 * 1024)
	for b.Loop() {
		if err := Encode(io.Discard, img, EncodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The standard library encoder on the same pixels, for comparison.
func BenchmarkEncodePNGStdlib(b *testing.B) {
	m := benchImage()
	b.SetBytes(1024 * 1024)
	for b.Loop() {
		if err := png.Encode(io.Discard, m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBleedTransparent(b *testing.B) {
	img := FromImage(benchImage())
	pix := append([]float32(nil), img.Pix...)
	b.SetBytes(1024 * 1024)
	for b.Loop() {
		copy(img.Pix, pix)
		BleedTransparent(img)
	}
}
