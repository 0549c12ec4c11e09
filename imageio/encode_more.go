package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"

	"github.com/HugoSmits86/nativewebp"
	"golang.org/x/image/tiff"
)

// maxWebP is the largest width and height of a WebP image (14 bits).
const maxWebP = 16384

// ---- WebP ----

// encodeWebP writes img as lossless WebP. The VP8L bitstream comes from
// github.com/HugoSmits86/nativewebp (pure Go); this package writes the
// container around it, checking every write, and adds a VP8X header with
// ICCP and EXIF chunks when there is metadata.
func encodeWebP(w io.Writer, img *Image) error {
	if err := checkEncode(img.Header(), EncodeOptions{Format: "webp"}); err != nil {
		return err
	}
	n := img.W * img.H
	m := image.NewNRGBA(image.Rect(0, 0, img.W, img.H))
	for i := 0; i < n; i++ {
		p := m.Pix[4*i : 4*i+4 : 4*i+4]
		if img.Gray {
			v := to8(img.Pix[i])
			p[0], p[1], p[2] = v, v, v
		} else {
			p[0], p[1], p[2] = to8(img.Pix[i]), to8(img.Pix[n+i]), to8(img.Pix[2*n+i])
		}
		p[3] = 255
		if img.Alpha != nil {
			p[3] = to8(img.Alpha[i])
		}
	}
	vp8l, err := vp8lBitstream(m)
	if err != nil {
		return err
	}
	icc := img.ICC
	if !iccFits(icc, false) { // a WebP is always RGB
		icc = nil
	}
	exif := exifFor(img.Header())
	var b bytes.Buffer
	chunk := func(typ string, data []byte) {
		b.WriteString(typ)
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(data))))
		b.Write(data)
		if len(data)%2 == 1 {
			b.WriteByte(0)
		}
	}
	if icc != nil || exif != nil {
		var flags byte
		if icc != nil {
			flags |= 0x20
		}
		if img.Alpha != nil {
			flags |= 0x10
		}
		if exif != nil {
			flags |= 0x08
		}
		x := []byte{flags, 0, 0, 0}
		x = append(x, byte(img.W-1), byte((img.W-1)>>8), byte((img.W-1)>>16))
		x = append(x, byte(img.H-1), byte((img.H-1)>>8), byte((img.H-1)>>16))
		chunk("VP8X", x)
		if icc != nil {
			chunk("ICCP", icc)
		}
	}
	chunk("VP8L", vp8l)
	if exif != nil {
		chunk("EXIF", exif)
	}
	if b.Len() > 0xfffffff0 {
		return errors.New("image too large for a WebP file (4 GiB)")
	}
	head := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+b.Len()))...)
	head = append(head, "WEBP"...)
	if _, err := w.Write(head); err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

// vp8lBitstream returns the payload of the VP8L chunk that nativewebp
// makes for m.
func vp8lBitstream(m *image.NRGBA) (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, fmt.Errorf("WebP encoder failed: %v", p)
		}
	}()
	var b bytes.Buffer
	if err := nativewebp.Encode(&b, m, nil); err != nil {
		return nil, fmt.Errorf("WebP encoder: %w", err)
	}
	f := b.Bytes()
	if len(f) < 20 || string(f[:4]) != "RIFF" || string(f[8:16]) != "WEBPVP8L" {
		return nil, errors.New("WebP encoder: unexpected output")
	}
	l := int(binary.LittleEndian.Uint32(f[16:]))
	if l > len(f)-20 {
		return nil, errors.New("WebP encoder: truncated output")
	}
	return f[20 : 20+l], nil
}

// ---- TIFF ----

// encodeTIFF writes img as a Deflate-compressed TIFF through
// golang.org/x/image/tiff, then sets its resolution to img's density.
func encodeTIFF(w io.Writer, img *Image, opt EncodeOptions) error {
	out := *img
	if opt.Depth == 8 || opt.Depth == 16 {
		out.Depth = opt.Depth
	}
	var b bytes.Buffer
	if err := tiff.Encode(&b, out.ToImage(), &tiff.Options{Compression: tiff.Deflate}); err != nil {
		return err
	}
	if t, err := parseTIFF(b.Bytes()); err == nil && img.XDPI > 0 && img.YDPI > 0 {
		t.setResolution(img.XDPI, img.YDPI)
	}
	_, err := w.Write(b.Bytes())
	return err
}
