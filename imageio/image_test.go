package imageio

import (
	"image"
	"image/color"
	"math"
	"reflect"
	"testing"
)

// Every 8-bit and 16-bit level survives sample -> float32 -> sample.
func TestLevelsRoundTrip(t *testing.T) {
	for v := 0; v < 256; v++ {
		if got := to8(lut8[v]); int(got) != v {
			t.Fatalf("8-bit level %d came back as %d", v, got)
		}
		if lut8[v] != float32(v)/255 {
			t.Fatalf("lut8[%d] wrong", v)
		}
	}
	for v := 0; v < 65536; v++ {
		f := from16(uint16(v))
		if got := to16(f); int(got) != v {
			t.Fatalf("16-bit level %d came back as %d", v, got)
		}
		if f < 0 || f > 1 {
			t.Fatalf("level %d maps outside [0,1]: %v", v, f)
		}
	}
}

func TestQuantize(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		x   float32
		q8  uint8
		q16 uint16
	}{
		{0, 0, 0},
		{1, 255, 65535},
		{-0.1, 0, 0},
		{1.5, 255, 65535},
		{nan, 0, 0},
		{float32(math.Inf(1)), 255, 65535},
		{float32(math.Inf(-1)), 0, 0},
		{0.5001 / 255, 1, 129},       // just above half a level: up
		{0.4999 / 255, 0, 128},       // just below: down
		{100.5001 / 255, 101, 25829}, // 16 bits: 100.5001*257 = 25828.53
		{0.5001 / 65535, 0, 1},
		{0.4999 / 65535, 0, 0},
		{254.4999 / 255, 254, 65406}, // 65406.47
	}
	for _, tc := range tests {
		if g := to8(tc.x); g != tc.q8 {
			t.Errorf("to8(%v) = %d, want %d", tc.x, g, tc.q8)
		}
		if g := to16(tc.x); g != tc.q16 {
			t.Errorf("to16(%v) = %d, want %d", tc.x, g, tc.q16)
		}
	}
}

func TestFromImage(t *testing.T) {
	r := image.Rect(0, 0, 2, 1)
	nrgba := image.NewNRGBA(r)
	nrgba.Pix = []byte{10, 20, 30, 0, 40, 50, 60, 255}
	rgba := image.NewRGBA(r)
	rgba.Pix = []byte{64, 32, 0, 128, 7, 7, 7, 0} // premultiplied
	rgba64 := image.NewRGBA64(r)
	rgba64.SetRGBA64(0, 0, color.RGBA64{1000, 2000, 3000, 4000})
	rgba64.SetRGBA64(1, 0, color.RGBA64{65535, 0, 0, 65535})
	nrgba64 := image.NewNRGBA64(r)
	nrgba64.SetNRGBA64(0, 0, color.NRGBA64{1, 2, 3, 65535})
	nrgba64.SetNRGBA64(1, 0, color.NRGBA64{65534, 65533, 65532, 65535})
	gray16 := image.NewGray16(r)
	gray16.SetGray16(0, 0, color.Gray16{12345})
	gray16.SetGray16(1, 0, color.Gray16{65535})
	gray := image.NewGray(r)
	gray.Pix = []byte{0, 200}
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{255, 0, 0, 0}, color.RGBA{0, 0, 255, 255}})
	pal.Pix = []byte{0, 1}
	cmyk := image.NewCMYK(r)
	cmyk.Pix = []byte{0, 255, 255, 0, 0, 0, 0, 255}
	ycc := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio444)
	ycc.Y = []byte{0, 255}
	ycc.Cb = []byte{128, 128}
	ycc.Cr = []byte{128, 128}
	ycc.A = []byte{255, 51}
	alpha16 := image.NewAlpha16(r)
	alpha16.SetAlpha16(0, 0, color.Alpha16{0})
	alpha16.SetAlpha16(1, 0, color.Alpha16{300})
	sub := image.NewGray(image.Rect(0, 0, 4, 4)).SubImage(image.Rect(2, 2, 4, 3)).(*image.Gray)
	sub.SetGray(3, 2, color.Gray{255})

	f := func(v float64) float32 { return float32(v) }
	tests := []struct {
		name  string
		m     image.Image
		depth int
		gray  bool
		pix   []float32
		alpha []float32
	}{
		{"nrgba keeps colour under alpha 0", nrgba, 8, false,
			[]float32{f(10. / 255), f(40. / 255), f(20. / 255), f(50. / 255), f(30. / 255), f(60. / 255)},
			[]float32{0, 1}},
		{"rgba un-premultiplied, transparent colour 0", rgba, 8, false,
			[]float32{f(64. / 128), 0, f(32. / 128), 0, 0, 0},
			[]float32{f(128. / 255), 0}},
		{"rgba64 un-premultiplied in float", rgba64, 16, false,
			[]float32{f(1000. / 4000), 1, f(2000. / 4000), 0, f(3000. / 4000), 0},
			[]float32{f(4000. / 65535), 1}},
		{"nrgba64 opaque drops alpha", nrgba64, 16, false,
			[]float32{f(1. / 65535), f(65534. / 65535), f(2. / 65535), f(65533. / 65535), f(3. / 65535), f(65532. / 65535)},
			nil},
		{"gray16", gray16, 16, true, []float32{f(12345. / 65535), 1}, nil},
		{"gray", gray, 8, true, []float32{0, f(200. / 255)}, nil},
		{"paletted with NRGBA entry", pal, 8, false, []float32{1, 0, 0, 0, 0, 1}, []float32{0, 1}},
		{"cmyk", cmyk, 8, false, []float32{1, 0, 0, 0, 0, 0}, nil},
		{"nycbcra", ycc, 8, false, []float32{0, 1, 0, 1, 0, 1}, []float32{1, f(51. / 255)}},
		{"alpha16 is white with alpha", alpha16, 16, true, []float32{0, 1}, []float32{0, f(300. / 65535)}},
		{"sub-image anchored at 0,0", sub, 8, true, []float32{0, 1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := FromImage(tc.m)
			if err := img.Validate(); err != nil {
				t.Fatal(err)
			}
			if img.Depth != tc.depth || img.Gray != tc.gray {
				t.Errorf("depth %d gray %v, want %d %v", img.Depth, img.Gray, tc.depth, tc.gray)
			}
			if !reflect.DeepEqual(img.Pix, tc.pix) {
				t.Errorf("pix %v, want %v", img.Pix, tc.pix)
			}
			if !reflect.DeepEqual(img.Alpha, tc.alpha) {
				t.Errorf("alpha %v, want %v", img.Alpha, tc.alpha)
			}
		})
	}
}

func TestToImage(t *testing.T) {
	mk := func(gray, alpha bool, depth int) *Image {
		img := NewImage(3, 2, gray, alpha, depth)
		for i := range img.Pix {
			img.Pix[i] = float32(i) / float32(len(img.Pix))
		}
		for i := range img.Alpha {
			img.Alpha[i] = float32(i) / 5
		}
		return img
	}
	tests := []struct {
		gray, alpha bool
		depth       int
		want        image.Image
	}{
		{true, false, 8, &image.Gray{}},
		{true, false, 16, &image.Gray16{}},
		{true, true, 8, &image.NRGBA{}},
		{true, true, 16, &image.NRGBA64{}},
		{false, false, 8, &image.NRGBA{}},
		{false, true, 16, &image.NRGBA64{}},
	}
	for _, tc := range tests {
		img := mk(tc.gray, tc.alpha, tc.depth)
		m := img.ToImage()
		if reflect.TypeOf(m) != reflect.TypeOf(tc.want) {
			t.Errorf("gray %v alpha %v depth %d: got %T, want %T", tc.gray, tc.alpha, tc.depth, m, tc.want)
			continue
		}
		back := FromImage(m)
		back.Gray = tc.gray
		if tc.gray && !back.Gray {
			t.Errorf("gray lost")
		}
		// Values come back quantized to the depth.
		back2 := fromImage(m, tc.gray, tc.depth)
		for i, v := range img.Pix {
			var q float32
			if tc.depth == 16 {
				q = from16(to16(v))
			} else {
				q = lut8[to8(v)]
			}
			if back2.Pix[i] != q {
				t.Fatalf("gray %v alpha %v depth %d: pix[%d] = %v, want %v", tc.gray, tc.alpha, tc.depth, i, back2.Pix[i], q)
			}
		}
		if tc.alpha {
			a0 := back2.Alpha
			if a0 == nil || a0[0] != 0 || a0[5] != 1 {
				t.Errorf("alpha %v", a0)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []*Image{
		nil,
		{W: 0, H: 1},
		{W: 2, H: 2, Pix: make([]float32, 4)},
		{W: 2, H: 2, Gray: true, Pix: make([]float32, 4), Alpha: make([]float32, 3)},
	}
	for i, img := range bad {
		if img.Validate() == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	if err := NewImage(2, 2, false, true, 8).Validate(); err != nil {
		t.Error(err)
	}
}
