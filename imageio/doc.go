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
//   - meta.go: readers for what the decoders drop: PNG iCCP, JPEG APP2
//     ICC_PROFILE and APP1 Exif orientation, TIFF orientation and ICC tags,
//     WebP ICCP.
//   - orient.go: Orient and InverseOrientation, the eight EXIF orientations.
//   - encode.go: Encode, WriteFile (atomic), EncodeOptions, FormatFromExt;
//     a streaming PNG encoder (gray, gray+alpha, RGB, RGBA; 8 or 16 bits;
//     iCCP) and JPEG output with APP2 ICC segments.
//   - rows.go: Header, Encoder and WriteFileRows: an image written in bands
//     of rows as they are produced (PNG holds two rows, JPEG 8-bit
//     samples), the same bytes as Encode.
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
// writes it back into PNG (iCCP) and JPEG (APP2), unless the profile's
// colour space contradicts the output (a CMYK profile, RGB on gray, gray on
// colour); a CMYK JPEG's profile is dropped at decode since its pixels
// become RGB. The EXIF orientation of JPEG files and the orientation tag of
// TIFF files are applied to the pixels, so outputs carry no orientation. Other metadata (text, Exif
// fields, gamma chunks) is not kept. Unreadable metadata does not fail a
// decode; it is dropped and noted in Image.Warnings.
//
// # Safety
//
// Decode reads the header first and refuses an image with a zero dimension
// or more than DecodeOptions.MaxPixels pixels (DefaultMaxPixels, 100
// megapixels, by default) before allocating pixel memory, so a
// decompression bomb costs little. Metadata reads are bounded (an ICC
// profile is at most 32 MiB). Malformed or truncated data gives an error
// naming the format, and ReadFile names the file too. WriteFile writes to a
// temporary file in the target directory and renames it into place only
// after a successful write and sync, removing it on any error.
package imageio
