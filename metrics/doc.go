// Package metrics scores super-resolved images the way BasicSR and the
// super-resolution literature do: PSNR and SSIM on the Y channel of BT.601
// YCbCr, on 8-bit images, in float64.
//
//   - Y (and YPlane) is MATLAB's rgb2ycbcr luma on the 0..255 scale,
//     16 + (65.481 R + 128.553 G + 24.966 B)/255 for R, G, B in 0..255,
//     not rounded.
//   - A grayscale reference (*image.Gray, as Set14's bridge.png decodes) is
//     scored on its gray values instead (GrayPlane), as the literature's
//     tables did; an RGB image compared with it is reduced with Luma, which
//     gives back v for a gray pixel (v, v, v). ScoringPlane makes the choice.
//   - ModCrop crops the HR image to a multiple of the scale (top-left part
//     kept); Plane.CropBorder removes crop_border samples from every side.
//   - PSNR is 10 log10(255^2/MSE), +Inf for identical inputs.
//   - SSIM is Wang et al. (2004) with an 11x11 Gaussian window (sigma 1.5,
//     as OpenCV's getGaussianKernel), K1 = 0.01, K2 = 0.03, L = 255, averaged
//     over the 'valid' region only, as BasicSR's calculate_ssim.
//
// Compare does all of it for a reference and an image of the same size.
package metrics
