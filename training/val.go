package training

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/grformer/grformer/checkpoint"
	"github.com/grformer/grformer/eval"
	"github.com/grformer/grformer/imageio"
	"github.com/grformer/grformer/model"
)

// ValSet is a benchmark set loaded for validation.
type ValSet struct {
	Dir    string
	Scale  int
	Images []ValImage
}

// ValImage is one validation image: HR as decoded and its LR input.
type ValImage struct {
	Name   string
	HR, LR image.Image
}

// LoadValSet reads a benchmark set for validation at the given scale. dir
// is either a set folder with HR/ (and optionally LR_bicubic/X<s>/, whose
// <name>x<s>.png files are used as they are, like "grformer eval" does) or
// a plain folder of HR images. Missing LR images are made from the HR image
// cropped to a multiple of the scale with MATLAB's bicubic (eval.MakeLR).
func LoadValSet(dir string, scale int) (*ValSet, error) {
	if scale < 1 {
		return nil, fmt.Errorf("training: invalid scale %d", scale)
	}
	hrDir := filepath.Join(dir, "HR")
	if st, err := os.Stat(hrDir); err != nil || !st.IsDir() {
		hrDir = dir
	}
	files, err := eval.ListImages(hrDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("training: validation folder %s does not exist", dir)
		}
		return nil, fmt.Errorf("training: validation folder: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("training: no PNG or JPEG images in validation folder %s", hrDir)
	}
	lrDir := eval.LRDir(filepath.Dir(filepath.Clean(dir)), filepath.Base(filepath.Clean(dir)), scale)
	vs := &ValSet{Dir: dir, Scale: scale}
	for _, f := range files {
		hr, err := eval.ReadImage(f)
		if err != nil {
			return nil, fmt.Errorf("training: validation image: %w", err)
		}
		b := hr.Bounds()
		if b.Dx() < 2*scale+1 || b.Dy() < 2*scale+1 {
			return nil, fmt.Errorf("training: validation image %s is too small (%dx%d) to score at x%d", f, b.Dx(), b.Dy(), scale)
		}
		base := filepath.Base(f)
		name := strings.TrimSuffix(base, filepath.Ext(base))
		var lr image.Image
		if hrDir != dir {
			for _, cand := range []string{fmt.Sprintf("%sx%d.png", name, scale), fmt.Sprintf("%sx%d%s", name, scale, filepath.Ext(base))} {
				p := filepath.Join(lrDir, cand)
				if _, err := os.Stat(p); err == nil {
					if lr, err = eval.ReadImage(p); err != nil {
						return nil, fmt.Errorf("training: validation LR image: %w", err)
					}
					break
				}
			}
		}
		if lr == nil {
			if lr, err = eval.MakeLR(hr, scale); err != nil {
				return nil, fmt.Errorf("training: validation image %s: %w", f, err)
			}
		}
		vs.Images = append(vs.Images, ValImage{Name: name, HR: hr, LR: lr})
	}
	return vs, nil
}

// ValResult is the mean score of a validation pass.
type ValResult struct {
	PSNR, SSIM float64
	Images     int
}

// Evaluate scores net on the set as "grformer eval" does (Y channel, or the
// gray values of gray images; crop = scale; outputs clamped and rounded to
// 8 bits; a gray LR image goes in as R = G = B and its output is the mean
// of the three channels).
func (vs *ValSet) Evaluate(ctx context.Context, net *model.Model, threads int) (ValResult, error) {
	if net.Cfg.Scale != vs.Scale {
		return ValResult{}, fmt.Errorf("training: validation set loaded for x%d, model is x%d", vs.Scale, net.Cfg.Scale)
	}
	method := eval.Func{MethodName: "grformer", F: func(ctx context.Context, lr image.Image, scale int) (image.Image, error) {
		return superResolve(ctx, net, lr, threads)
	}}
	var res ValResult
	for _, im := range vs.Images {
		sc, _, err := eval.EvaluateImage(ctx, method, im.HR, im.LR, vs.Scale, vs.Scale)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			return res, fmt.Errorf("training: validation image %s: %w", im.Name, err)
		}
		res.PSNR += sc.PSNR
		res.SSIM += sc.SSIM
		res.Images++
	}
	res.PSNR /= float64(res.Images)
	res.SSIM /= float64(res.Images)
	return res, nil
}

// superResolve runs the whole image through the network (no tiles).
func superResolve(ctx context.Context, net *model.Model, lr image.Image, threads int) (image.Image, error) {
	in := imageio.FromImage(lr)
	in.Alpha = nil
	h, w, n := in.H, in.W, in.W*in.H
	x := make([]float32, 3*n)
	for c := range 3 {
		if in.Gray {
			copy(x[c*n:(c+1)*n], in.Pix[:n])
		} else {
			copy(x[c*n:(c+1)*n], in.Pix[c*n:(c+1)*n])
		}
	}
	y, err := net.Forward(x, 1, h, w, model.Options{Threads: threads, Ctx: ctx})
	if err != nil {
		return nil, err
	}
	s := net.Cfg.Scale
	on := n * s * s
	out := &imageio.Image{W: w * s, H: h * s, Gray: in.Gray, Depth: 8, Orientation: 1}
	if in.Gray {
		out.Pix = make([]float32, on)
		for i := range out.Pix {
			out.Pix[i] = (y[i] + y[on+i] + y[2*on+i]) / 3
		}
	} else {
		out.Pix = y
	}
	for i, v := range out.Pix {
		if math.IsNaN(float64(v)) {
			return nil, errors.New("the network output is NaN")
		}
		out.Pix[i] = min(max(v, 0), 1)
	}
	return out.ToImage(), nil
}

// InferenceModel builds an inference network with configuration cfg from
// weights given as one slice per parameter (names and shapes from params),
// e.g. the current weights or the EMA's.
func InferenceModel(cfg model.Config, params []*Param, data [][]float32) (*model.Model, error) {
	return model.New(cfg, stateDict(params, data))
}

// stateDict makes a params-only state dict from params, with the values of
// data (one slice per parameter; nil means the parameters' own Data),
// copied.
func stateDict(params []*Param, data [][]float32) checkpoint.StateDict {
	sd := make(checkpoint.StateDict, len(params))
	for i, p := range params {
		d := p.Data
		if data != nil {
			d = data[i]
		}
		sd[p.Name] = checkpoint.NewF32(append([]int(nil), p.Shape...), append([]float32(nil), d...))
	}
	return sd
}
