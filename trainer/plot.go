package trainer

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WritePlot draws the training loss and, when there is any, the validation
// PSNR against the iteration into a PNG file at path (atomically). The loss
// axis is logarithmic.
func WritePlot(path string, entries []LogEntry, title string) (err error) {
	defer func() {
		// gonum/plot panics on some degenerate inputs; a plot is never
		// worth a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("trainer: plot: %v", r)
		}
	}()
	var loss, psnr plotter.XYs
	for _, e := range entries {
		if e.Loss > 0 && !math.IsInf(e.Loss, 0) {
			loss = append(loss, plotter.XY{X: float64(e.Iter), Y: e.Loss})
		}
		if e.ValPSNR != nil && !math.IsNaN(*e.ValPSNR) && !math.IsInf(*e.ValPSNR, 0) {
			psnr = append(psnr, plotter.XY{X: float64(e.Iter), Y: *e.ValPSNR})
		}
	}
	rows := 1
	if len(psnr) > 0 {
		rows = 2
	}
	lp := plot.New()
	lp.Title.Text = title
	lp.X.Label.Text = "iteration"
	lp.Y.Label.Text = "L1 loss"
	if len(loss) > 0 {
		lo, hi := loss[0].Y, loss[0].Y
		for _, p := range loss {
			lo, hi = min(lo, p.Y), max(hi, p.Y)
		}
		lp.Y.Min, lp.Y.Max = lo/1.25, hi*1.25
		lp.Y.Scale = plot.LogScale{}
		lp.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		l, err := plotter.NewLine(loss)
		if err != nil {
			return fmt.Errorf("trainer: plot: %w", err)
		}
		l.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
		lp.Add(l, plotter.NewGrid())
	}
	plots := [][]*plot.Plot{{lp}}
	if rows == 2 {
		pp := plot.New()
		pp.X.Label.Text = "iteration"
		pp.Y.Label.Text = "validation PSNR (dB)"
		l, err := plotter.NewLine(psnr)
		if err != nil {
			return fmt.Errorf("trainer: plot: %w", err)
		}
		l.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
		pts, err := plotter.NewScatter(psnr)
		if err != nil {
			return fmt.Errorf("trainer: plot: %w", err)
		}
		pts.Color = l.Color
		pts.Radius = vg.Points(2)
		pp.Add(l, pts, plotter.NewGrid())
		if len(psnr) == 1 {
			pp.Y.Min, pp.Y.Max = psnr[0].Y-0.5, psnr[0].Y+0.5
		}
		plots = append(plots, []*plot.Plot{pp})
	}
	w, h := 8*vg.Inch, vg.Length(rows)*3.5*vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(12)}
	canvases := plot.Align(plots, tiles, dc)
	for r := range plots {
		plots[r][0].Draw(canvases[r][0])
	}
	png := vgimg.PngCanvas{Canvas: img}
	if err := writeFileAtomic(path, func(w io.Writer) error {
		_, err := png.WriteTo(w)
		return err
	}); err != nil {
		return fmt.Errorf("trainer: plot: %w", err)
	}
	return nil
}
