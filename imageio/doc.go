// Package imageio reads image files into float32 planes and writes them
// back, for the upscaler. It is pure Go (standard library and
// golang.org/x/image) and never prints, exits or panics on bad input.
//
// # Map
//
//   - image.go: the Image type (planes in [0,1], straight alpha, source
//     depth, gray flag, ICC profile), Validate, and the conversions
//     FromImage / Image.ToImage to and from standard library images.
//   - decode.go: DecodeConfig, Decode, ReadFile, DecodeOptions; the
//     explicit table of decoders (PNG, JPEG, WebP, BMP, TIFF) and the size
//     check made before pixels are decoded.
//   - meta.go: readers for what the decoders drop: PNG iCCP, pHYs and
//     eXIf, JPEG APP0 JFIF density, APP1 Exif and APP2 ICC_PROFILE, TIFF
//     orientation, resolution and ICC tags, WebP ICCP and EXIF, BMP
//     density.
//   - exif.go: EXIF data read and rewritten in place (orientation set to 1,
//     pixel size, resolution), every offset checked.
//   - orient.go: Orient and InverseOrientation, the eight EXIF orientations.
//   - encode.go: Encode, WriteFile (atomic), EncodeOptions, ParseFormat,
//     FormatFromExt, FormatExt; PNG (gray, gray+alpha, RGB, RGBA; 8 or 16
//     bits; iCCP, pHYs, eXIf) and JPEG output with JFIF density, APP1 Exif
//     and APP2 ICC segments.
//   - rows.go: Header, Encoder and WriteFileRows: an image written in bands
//     of rows as they are produced (PNG holds two rows, JPEG 8-bit
//     samples, WebP and TIFF the whole image), the same bytes as Encode;
//     Encode and WriteFile go through it.
//   - encode_more.go: lossless WebP (VP8L from
//     github.com/HugoSmits86/nativewebp, in a VP8X container with ICCP and
//     EXIF) and TIFF (golang.org/x/image/tiff, Deflate, with the density).
//   - bleed.go: BleedTransparent, which fills the colour under fully
//     transparent pixels so that resampling draws no dark fringes.
//
// # Pixel values
//
// A b-bit sample v becomes the float32 nearest to v/(2^b-1). On output a
// value is clamped to [0,1] (NaN becomes 0) and rounded half away from zero
// to the target depth: floor(x*(2^b-1) + 0.5). Each of the 256 8-bit and
// 65536 16-bit levels survives Decode then Encode unchanged, so 8-bit and
// 16-bit PNGs round-trip bit for bit.
//
// Alpha is straight (colour not multiplied by alpha) and, when present, is
// a separate plane. Premultiplied sources are divided by alpha in float32;
// the colour of a fully transparent pixel is then unknown and set to 0.
// Call BleedTransparent before resampling an image with alpha.
//
// # Metadata
//
// Decode keeps the ICC profile (PNG iCCP, JPEG APP2 ICC_PROFILE in any
// number of segments, TIFF tag 34675, WebP ICCP) in Image.ICC, and Encode
// writes it back into PNG (iCCP), JPEG (APP2) and WebP (ICCP), unless the
// profile's colour space contradicts the output (a CMYK profile, RGB on
// gray, gray on colour); a CMYK JPEG's profile is dropped at decode since
// its pixels become RGB. The EXIF data (JPEG APP1, PNG eXIf, WebP EXIF) is
// kept in Image.Exif and written into PNG, JPEG and WebP outputs. The
// orientation (EXIF in JPEG, PNG and WebP files, the TIFF tag) is applied
// to the pixels and the EXIF orientation tag set to 1, so outputs show the
// same picture as the source and are never turned twice. The density
// (PNG pHYs, JPEG JFIF or EXIF resolution, TIFF resolution, BMP header) is
// kept in Image.XDPI and YDPI and written into PNG (pHYs), JPEG (JFIF and,
// where the EXIF data has them, its resolution tags), WebP (EXIF only) and
// TIFF; CopyMetadata gives an upscaled image its source's metadata with
// the density scaled. TIFF outputs carry no ICC profile or EXIF data.
// Other metadata (text, XMP, gamma chunks) is not kept. Unreadable
// metadata does not fail a decode; it is dropped and noted in
// Image.Warnings.
//
// # Safety
//
// Decode reads the header first and refuses an image with a zero dimension
// or more than DecodeOptions.MaxPixels pixels (DefaultMaxPixels, 100
// megapixels, by default) before allocating pixel memory, so a
// decompression bomb costs little. Metadata reads are bounded (an ICC
// profile is at most 32 MiB, EXIF data 1 MiB). A stream that is not a file
// (stdin) is read into memory within DecodeOptions.MaxBytes and refused as
// soon as its first bytes are no image or its header too large. Malformed
// or truncated data gives an error
// naming the format, and ReadFile names the file too. WriteFile writes to a
// temporary file in the target directory and renames it into place only
// after a successful write and sync, removing it on any error.
package imageio
