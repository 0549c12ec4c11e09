// Package eval evaluates a super-resolution method on the benchmark sets
// (Set5, Set14, B100, ...) with the literature's protocol.
//
// A benchmark folder holds one folder per set:
//
//	DIR/<Set>/HR/*.png                          (PNG or JPEG)
//	DIR/<Set>/LR_bicubic/X<s>/<name>x<s>.png    (optional)
//
// For each HR image, the LR input is read from LR_bicubic when the file is
// there; otherwise it is made from the HR image with MakeLR (crop to a
// multiple of s, then MATLAB-exact bicubic downscale from package resize).
// The method's output is scored against the cropped HR image with package
// metrics (Y channel, or gray values for grayscale sets' images; crop_border
// pixels removed; PSNR and SSIM in float64), and the per-image scores are
// averaged per set.
//
// A Method is anything with a Name and a SuperResolve function; Bicubic is
// the literature's baseline (MATLAB-exact bicubic upscale), Func adapts a
// plain function. Run evaluates a Config (sets, scale, crop border, optional
// folder for the SR outputs, progress callback) and returns a Report: per-
// image results, per-set means, and every failure (a missing set, an
// unreadable image, an HR/LR size mismatch, a method error) without stopping
// at the first one; Report.Err summarises them. EvaluateImage scores one
// image; ReadImage, WritePNG (atomic) and ListImages are the file helpers.
package eval
