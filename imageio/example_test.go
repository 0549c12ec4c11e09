package imageio_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"

	"github.com/grformer/grformer/imageio"
)

// pngBytes makes a small 16-bit gray PNG with the standard library.
func pngBytes() []byte {
	m := image.NewGray16(image.Rect(0, 0, 3, 2))
	m.SetGray16(1, 0, color.Gray16{Y: 0x1234})
	var b bytes.Buffer
	png.Encode(&b, m)
	return b.Bytes()
}

func ExampleDecode() {
	img, err := imageio.Decode(bytes.NewReader(pngBytes()), imageio.DecodeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %dx%d, %d-bit, gray %v, alpha %v\n",
		img.Format, img.W, img.H, img.Depth, img.Gray, img.Alpha != nil)
	fmt.Printf("pixel (1,0) = %#04x/65535\n", int(img.Pix[1]*65535+0.5))
	// Output:
	// png 3x2, 16-bit, gray true, alpha false
	// pixel (1,0) = 0x1234/65535
}

func ExampleDecodeConfig() {
	cfg, err := imageio.DecodeConfig(bytes.NewReader(pngBytes()))
	fmt.Println(cfg.Format, cfg.Width, cfg.Height, err)
	// Output: png 3 2 <nil>
}

// A header claiming 100000x100000 pixels is refused before decoding.
func ExampleDecodeOptions_maxPixels() {
	data := pngBytes()
	data[16], data[17], data[18], data[19] = 0, 1, 0x86, 0xa0 // width 100000
	data[20], data[21], data[22], data[23] = 0, 1, 0x86, 0xa0 // height 100000
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	_, err := imageio.Decode(bytes.NewReader(data), imageio.DecodeOptions{MaxPixels: 50_000_000})
	fmt.Println(errors.Is(err, imageio.ErrTooLarge))
	fmt.Println(err)
	// Output:
	// true
	// imageio: png: image too large: 100000x100000 is 10000000000 pixels, limit 50000000
}

func ExampleWriteFile() {
	dir, _ := os.MkdirTemp("", "imageio")
	defer os.RemoveAll(dir)

	img := imageio.NewImage(4, 4, false, true, 16) // RGB + alpha, 16-bit
	for i := range img.Alpha {
		img.Alpha[i] = 1
	}
	path := filepath.Join(dir, "out.png")
	if err := imageio.WriteFile(path, img, imageio.EncodeOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	back, _ := imageio.ReadFile(path, imageio.DecodeOptions{})
	fmt.Println(back.Format, back.Depth, back.Alpha != nil) // all opaque: no alpha plane

	err := imageio.WriteFile(filepath.Join(dir, "out.gif"), img, imageio.EncodeOptions{})
	fmt.Println(err != nil)
	entries, _ := os.ReadDir(dir)
	fmt.Println(len(entries)) // no temporary file left behind
	// Output:
	// png 16 false
	// true
	// 1
}

func ExampleEncode() {
	img := imageio.NewImage(2, 1, true, false, 8) // gray
	img.Pix[0], img.Pix[1] = 0.5, 1.2             // 0.5*255 = 127.5 -> 128; 1.2 clamps to 255
	var b bytes.Buffer
	if err := imageio.Encode(&b, img, imageio.EncodeOptions{Format: "png"}); err != nil {
		fmt.Println(err)
		return
	}
	m, _ := png.Decode(&b)
	fmt.Printf("%T %v %v\n", m, m.At(0, 0), m.At(1, 0))
	// Output: *image.Gray {128} {255}
}

// Upscaling colour and alpha separately pulls the hidden black under a
// transparent pixel into the edge; BleedTransparent prevents it.
func ExampleBleedTransparent() {
	img := imageio.NewImage(2, 1, false, true, 8)
	img.Pix[0], img.Alpha[0] = 1, 1                                // red, opaque; pixel 1 transparent black
	mid := func() float32 { return (img.Pix[0] + img.Pix[1]) / 2 } // linear interpolation
	fmt.Printf("red between them before: %.2f\n", mid())
	imageio.BleedTransparent(img)
	fmt.Printf("red between them after:  %.2f\n", mid())
	// Output:
	// red between them before: 0.50
	// red between them after:  1.00
}

func ExampleFromImage() {
	m := image.NewRGBA(image.Rect(0, 0, 1, 1))
	m.Pix = []uint8{100, 50, 0, 200} // premultiplied
	img := imageio.FromImage(m)
	fmt.Printf("r %.3f g %.3f a %.3f depth %d\n", img.Pix[0], img.Pix[1], img.Alpha[0], img.Depth)
	fmt.Printf("%T\n", img.ToImage())
	// Output:
	// r 0.500 g 0.250 a 0.784 depth 8
	// *image.NRGBA
}

func ExampleOrient() {
	img := imageio.NewImage(3, 1, true, false, 8)
	img.Pix[0] = 1
	r := imageio.Orient(img, 6) // rotate 90° clockwise
	fmt.Println(r.W, r.H, r.Pix)
	// Output: 1 3 [1 0 0]
}

// An upscaled image keeps its source's metadata: the ICC profile, the EXIF
// data and the density, scaled so that the print size stays the same.
func ExampleCopyMetadata() {
	src := imageio.NewImage(100, 50, false, false, 8)
	src.XDPI, src.YDPI = 300, 300
	up := imageio.NewImage(200, 100, false, false, 8) // the model's output
	imageio.CopyMetadata(up, src)
	var b bytes.Buffer
	imageio.Encode(&b, up, imageio.EncodeOptions{Format: "tiff"})
	back, _ := imageio.Decode(&b, imageio.DecodeOptions{})
	fmt.Println(back.Format, back.W, back.XDPI, back.YDPI)
	// Output: tiff 200 600 600
}

func ExampleParseFormat() {
	for _, name := range []string{"JPG", "tif", "webp", "gif"} {
		f, err := imageio.ParseFormat(name)
		fmt.Printf("%s %q %v\n", name, imageio.FormatExt(f), err != nil)
	}
	// Output:
	// JPG ".jpg" false
	// tif ".tif" false
	// webp ".webp" false
	// gif "" true
}
