package metrics

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func constPlane(w, h int, v float64) *Plane {
	p := NewPlane(w, h)
	for i := range p.Pix {
		p.Pix[i] = v
	}
	return p
}

// texture is a deterministic non-constant plane.
func texture(w, h int) *Plane {
	p := NewPlane(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p.Pix[y*w+x] = float64((x*37 + y*91 + x*y*13) % 256)
		}
	}
	return p
}

func addPlane(p *Plane, f func(x, y int) float64) *Plane {
	q := NewPlane(p.W, p.H)
	for y := 0; y < p.H; y++ {
		for x := 0; x < p.W; x++ {
			q.Pix[y*p.W+x] = p.Pix[y*p.W+x] + f(x, y)
		}
	}
	return q
}

func close(a, b, tol float64) bool {
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= tol
}

// checker is +1 or -1 in a checkerboard.
func checker(x, y int) float64 { return float64(1 - 2*((x+y)&1)) }

// alternating is G = sum_i w_i (-1)^i for the SSIM window: the response of
// the 1-D window to a +1/-1 pattern.
func alternating() float64 {
	g := 0.0
	for i, w := range GaussianWindow(SSIMWindow, SSIMSigma) {
		g += w * float64(1-2*(i&1))
	}
	return g
}

// checkerSSIM is the SSIM of a constant plane c against c + d*checker,
// worked out by hand: in a window whose top-left sample has sign s, the
// means are c and c + s*d*G^2, the variances 0 and d^2 (1 - G^4), and the
// covariance 0.
func checkerSSIM(c, d float64, w, h int) float64 {
	g2 := alternating() * alternating()
	c1, c2 := (0.01*255)*(0.01*255), (0.03*255)*(0.03*255)
	sum := 0.0
	n := 0
	for y := 0; y+SSIMWindow <= h; y++ {
		for x := 0; x+SSIMWindow <= w; x++ {
			mu2 := c + checker(x, y)*d*g2
			sum += (2*c*mu2 + c1) * c2 / ((c*c + mu2*mu2 + c1) * (d*d*(1-g2*g2) + c2))
			n++
		}
	}
	return sum / float64(n)
}

func TestPSNRSSIMByHand(t *testing.T) {
	c1 := (0.01 * 255) * (0.01 * 255)
	base := texture(23, 17)
	cases := []struct {
		name    string
		a, b    *Plane
		psnr    float64
		ssim    float64
		ssimTol float64
	}{
		{"identical texture", base, base, math.Inf(1), 1, 0},
		{"identical constant", constPlane(11, 11, 7), constPlane(11, 11, 7), math.Inf(1), 1, 0},
		// A constant offset d: MSE = d^2, PSNR = 20 log10(255/d). On
		// constant planes the variances vanish, so SSIM is the luminance
		// term (2 c (c+d) + C1) / (c^2 + (c+d)^2 + C1).
		{"offset 1 constant", constPlane(12, 14, 100), constPlane(12, 14, 101),
			20 * math.Log10(255), (2*100*101 + c1) / (100*100 + 101*101 + c1), 1e-12},
		{"offset 5 constant", constPlane(20, 11, 50), constPlane(20, 11, 45),
			20 * math.Log10(255.0/5), (2*50*45 + c1) / (50*50 + 45*45 + c1), 1e-12},
		{"offset 255", constPlane(11, 11, 0), constPlane(11, 11, 255),
			0, c1 / (255*255 + c1), 1e-12},
		// On a textured plane the offset leaves variances and covariance
		// unchanged, so only the luminance term of each window differs
		// from 1: PSNR is still exact.
		{"offset 10 texture", base, addPlane(base, func(x, y int) float64 { return 10 }),
			20 * math.Log10(25.5), math.NaN(), 0},
		// Checkerboard noise of amplitude d on a constant plane: MSE = d^2.
		{"checker 8 on 128", constPlane(16, 13, 128), addPlane(constPlane(16, 13, 128), func(x, y int) float64 { return 8 * checker(x, y) }),
			20 * math.Log10(255.0/8), checkerSSIM(128, 8, 16, 13), 1e-10},
		{"checker 30 on 60", constPlane(30, 12, 60), addPlane(constPlane(30, 12, 60), func(x, y int) float64 { return 30 * checker(x, y) }),
			20 * math.Log10(255.0/30), checkerSSIM(60, 30, 30, 12), 1e-10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := PSNR(c.a, c.b)
			if err != nil {
				t.Fatal(err)
			}
			if !close(p, c.psnr, 1e-12) {
				t.Errorf("PSNR = %.15g, want %.15g", p, c.psnr)
			}
			s, err := SSIM(c.a, c.b)
			if err != nil {
				t.Fatal(err)
			}
			if !math.IsNaN(c.ssim) && !close(s, c.ssim, c.ssimTol) {
				t.Errorf("SSIM = %.15g, want %.15g", s, c.ssim)
			}
			if s2, _ := SSIM(c.b, c.a); !close(s, s2, 1e-14) {
				t.Errorf("SSIM not symmetric: %v vs %v", s, s2)
			}
			if c.a == c.b && s != 1 {
				t.Errorf("SSIM of identical planes = %.17g, want exactly 1", s)
			}
		})
	}
}

// The checkerboard SSIM is well below 1 and above 0: a sanity check that
// the hand formula is not degenerate.
func TestCheckerSSIMRange(t *testing.T) {
	if s := checkerSSIM(128, 8, 16, 13); !(s > 0.01 && s < 0.9) {
		t.Errorf("checker SSIM %v", s)
	}
	if g := alternating(); !(g > 0 && g < 0.1) {
		t.Errorf("G = %v", g)
	}
}

func TestGaussianWindow(t *testing.T) {
	k := GaussianWindow(11, 1.5)
	sum := 0.0
	for i, v := range k {
		sum += v
		if v != k[10-i] {
			t.Errorf("not symmetric at %d", i)
		}
	}
	if !close(sum, 1, 1e-15) {
		t.Errorf("sum %v", sum)
	}
	// k[i] is proportional to exp(-(i-5)^2 / 4.5).
	for i := range k {
		if r := k[i] / k[5]; !close(r, math.Exp(-float64((i-5)*(i-5))/4.5), 1e-15) {
			t.Errorf("k[%d]/k[5] = %v", i, r)
		}
	}
}

func TestPlaneErrors(t *testing.T) {
	a := texture(20, 20)
	if _, err := PSNR(a, texture(20, 19)); err == nil {
		t.Error("PSNR of different sizes succeeded")
	}
	if _, err := SSIM(a, texture(19, 20)); err == nil {
		t.Error("SSIM of different sizes succeeded")
	}
	if _, err := SSIM(texture(10, 30), texture(10, 30)); err == nil {
		t.Error("SSIM of a 10-wide plane succeeded")
	}
	if _, err := PSNR(&Plane{W: 2, H: 2, Pix: make([]float64, 3)}, &Plane{W: 2, H: 2, Pix: make([]float64, 3)}); err == nil {
		t.Error("PSNR of malformed planes succeeded")
	}
	if _, err := a.CropBorder(10); err == nil {
		t.Error("CropBorder(10) of 20x20 succeeded")
	}
	if _, err := a.CropBorder(-1); err == nil {
		t.Error("CropBorder(-1) succeeded")
	}
}

func TestCropBorder(t *testing.T) {
	a := texture(9, 7)
	for _, n := range []int{0, 1, 3} {
		c, err := a.CropBorder(n)
		if err != nil {
			t.Fatal(err)
		}
		if c.W != 9-2*n || c.H != 7-2*n {
			t.Fatalf("crop %d: %dx%d", n, c.W, c.H)
		}
		for y := 0; y < c.H; y++ {
			for x := 0; x < c.W; x++ {
				if c.At(x, y) != a.At(x+n, y+n) {
					t.Fatalf("crop %d: (%d,%d) = %v, want %v", n, x, y, c.At(x, y), a.At(x+n, y+n))
				}
			}
		}
	}
}

func TestY(t *testing.T) {
	cases := []struct{ r, g, b, y, luma float64 }{
		{0, 0, 0, 16, 0},
		{255, 255, 255, 235, 255},
		{255, 0, 0, 16 + 65.481, 255 * 0.299},
		{0, 255, 0, 16 + 128.553, 255 * 0.587},
		{0, 0, 255, 16 + 24.966, 255 * 0.114},
		{100, 100, 100, 16 + 219.0*100/255, 100},
	}
	for _, c := range cases {
		if y := Y(c.r, c.g, c.b); !close(y, c.y, 1e-12) {
			t.Errorf("Y(%v,%v,%v) = %v, want %v", c.r, c.g, c.b, y, c.y)
		}
		if l := Luma(c.r, c.g, c.b); !close(l, c.luma, 1e-12) {
			t.Errorf("Luma(%v,%v,%v) = %v, want %v", c.r, c.g, c.b, l, c.luma)
		}
	}
	// Gray values come back unchanged from Luma, for all 256 of them.
	for v := 0.0; v < 256; v++ {
		if l := Luma(v, v, v); l != v {
			t.Fatalf("Luma(%v) = %v", v, l)
		}
	}
}

func rgbImage(w, h int, f func(x, y int) (uint8, uint8, uint8)) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b := f(x, y)
			m.SetNRGBA(x, y, color.NRGBA{r, g, b, 255})
		}
	}
	return m
}

func grayImage(w, h int, f func(x, y int) uint8) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetGray(x, y, color.Gray{f(x, y)})
		}
	}
	return m
}

func TestCompare(t *testing.T) {
	pat := func(x, y int) uint8 { return uint8((x*29 + y*53 + x*y) % 200) }
	rgb := rgbImage(30, 24, func(x, y int) (uint8, uint8, uint8) { return pat(x, y), pat(y, x), pat(x+3, y) })
	rgbPlus := rgbImage(30, 24, func(x, y int) (uint8, uint8, uint8) { return pat(x, y) + 3, pat(y, x) + 3, pat(x+3, y) + 3 })
	gray := grayImage(30, 24, pat)
	grayAsRGB := rgbImage(30, 24, func(x, y int) (uint8, uint8, uint8) { return pat(x, y), pat(x, y), pat(x, y) })
	grayPlus := grayImage(30, 24, func(x, y int) uint8 { return pat(x, y) + 4 })
	rgba := image.NewRGBA(rgb.Bounds())
	for i := range rgba.Pix {
		rgba.Pix[i] = rgb.Pix[i]
	}
	cases := []struct {
		name     string
		ref, img image.Image
		crop     int
		psnr     float64
		gray     bool
	}{
		{"same rgb", rgb, rgb, 4, math.Inf(1), false},
		{"rgba equals nrgba", rgb, rgba, 2, math.Inf(1), false},
		// +3 on every channel moves Y by 3*219/255.
		{"rgb offset 3", rgb, rgbPlus, 3, 20 * math.Log10(255/(3*219.0/255)), false},
		// Gray reference: gray values, and an RGB image with equal channels
		// scores as its gray values.
		{"gray vs replicated rgb", gray, grayAsRGB, 2, math.Inf(1), true},
		{"gray offset 4", gray, grayPlus, 0, 20 * math.Log10(255.0/4), true},
		{"gray vs rgb offset", gray, rgbImage(30, 24, func(x, y int) (uint8, uint8, uint8) { v := pat(x, y) + 4; return v, v, v }), 4, 20 * math.Log10(255.0/4), true},
		// An RGB reference with a gray image: Y of the replicated gray.
		{"replicated rgb vs gray", grayAsRGB, gray, 2, math.Inf(1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Compare(c.ref, c.img, c.crop)
			if err != nil {
				t.Fatal(err)
			}
			if !close(s.PSNR, c.psnr, 1e-9) || s.Gray != c.gray {
				t.Errorf("got PSNR %.12g gray %v, want %.12g gray %v", s.PSNR, s.Gray, c.psnr, c.gray)
			}
			if math.IsInf(c.psnr, 1) && s.SSIM != 1 {
				t.Errorf("SSIM %v, want 1", s.SSIM)
			}
		})
	}
	if _, err := Compare(rgb, rgbImage(30, 23, func(x, y int) (uint8, uint8, uint8) { return 0, 0, 0 }), 0); err == nil {
		t.Error("Compare of different sizes succeeded")
	}
	if _, err := Compare(rgb, rgb, 7); err == nil {
		t.Error("Compare leaving a 16x10 image succeeded (SSIM needs 11x11)")
	}
}

// Sub-images (offset bounds) and 16-bit images read as the 8-bit values.
func TestPlanesOfOddImages(t *testing.T) {
	big := rgbImage(10, 10, func(x, y int) (uint8, uint8, uint8) { return uint8(x), uint8(y), uint8(x + y) })
	sub := big.SubImage(image.Rect(2, 3, 6, 8))
	p := YPlane(sub)
	if p.W != 4 || p.H != 5 || !close(p.At(0, 0), Y(2, 3, 5), 1e-12) || !close(p.At(3, 4), Y(5, 7, 12), 1e-12) {
		t.Errorf("sub-image Y plane wrong: %dx%d %v", p.W, p.H, p.Pix[:2])
	}
	g16 := image.NewGray16(image.Rect(0, 0, 2, 1))
	g16.SetGray16(0, 0, color.Gray16{200 * 257})
	g16.SetGray16(1, 0, color.Gray16{200*257 + 128}) // rounds to 200
	if gp := GrayPlane(g16); gp.Pix[0] != 200 || gp.Pix[1] != 200 || !IsGray(g16) {
		t.Errorf("gray16 plane %v", gp.Pix)
	}
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 1, 1))
	rgba64.SetRGBA64(0, 0, color.RGBA64{10 * 257, 20 * 257, 30 * 257, 65535})
	if yp := YPlane(rgba64); !close(yp.Pix[0], Y(10, 20, 30), 1e-12) {
		t.Errorf("rgba64 Y %v", yp.Pix[0])
	}
}

func TestModCrop(t *testing.T) {
	cases := []struct {
		w, h, s, cw, ch int
		ok              bool
	}{
		{480, 321, 2, 480, 320, true},
		{480, 321, 3, 480, 321, true},
		{480, 321, 4, 480, 320, true},
		{250, 361, 3, 249, 360, true},
		{3, 3, 4, 0, 0, false},
		{8, 8, 0, 0, 0, false},
	}
	for _, c := range cases {
		img := image.NewNRGBA(image.Rect(5, 7, 5+c.w, 7+c.h))
		got, err := ModCrop(img, c.s)
		if (err == nil) != c.ok {
			t.Errorf("ModCrop(%dx%d, %d): err %v", c.w, c.h, c.s, err)
			continue
		}
		if err != nil {
			continue
		}
		if b := got.Bounds(); b.Min != img.Bounds().Min || b.Dx() != c.cw || b.Dy() != c.ch {
			t.Errorf("ModCrop(%dx%d, %d) = %v", c.w, c.h, c.s, b)
		}
	}
	// An image type without SubImage is wrapped.
	var u image.Image = struct{ image.Image }{image.NewGray(image.Rect(0, 0, 5, 5))}
	got, err := ModCrop(u, 2)
	if err != nil || got.Bounds() != image.Rect(0, 0, 4, 4) {
		t.Errorf("ModCrop of a plain image.Image: %v %v", got.Bounds(), err)
	}
}
