package training

import (
	"fmt"
	"github.com/grformer/grformer/internal/atomicfile"
	"image/color"
	"io"
	"math"
	"strconv"

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
			err = fmt.Errorf("training: plot: %v", r)
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
		lp.Y.Tick.Marker = logTicker{}
		l, err := plotter.NewLine(loss)
		if err != nil {
			return fmt.Errorf("training: plot: %w", err)
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
			return fmt.Errorf("training: plot: %w", err)
		}
		l.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
		pts, err := plotter.NewScatter(psnr)
		if err != nil {
			return fmt.Errorf("training: plot: %w", err)
		}
		pts.Color = l.Color
		pts.Radius = vg.Points(2)
		pp.Add(l, pts, plotter.NewGrid())
		if len(psnr) == 1 {
			pp.Y.Min, pp.Y.Max = psnr[0].Y-0.5, psnr[0].Y+0.5
		}
		plots = append(plots, []*plot.Plot{pp})
	}
	// The same iteration axis on both panels.
	xmax := 1.0
	for _, e := range entries {
		xmax = max(xmax, float64(e.Iter))
	}
	for _, r := range plots {
		r[0].X.Min, r[0].X.Max = 0, xmax
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
	if err := atomicfile.Write(path, func(w io.Writer) error {
		_, err := png.WriteTo(w)
		return err
	}); err != nil {
		return fmt.Errorf("training: plot: %w", err)
	}
	return nil
}

// logTicker marks a logarithmic axis at 1, 2 and 5 times the powers of
// ten (labelled) and at the other integer multiples (unlabelled), so that
// a range within one decade still gets labels.
type logTicker struct{}

// Ticks returns the ticks between lo and hi (both positive).
func (logTicker) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) || math.IsInf(hi, 0) {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 3, 64)
			}
			ticks = append(ticks, t)
		}
	}
	labelled := 0
	for _, t := range ticks {
		if t.Label != "" {
			labelled++
		}
	}
	switch {
	case len(ticks) < 3:
		// Less than a decade's worth: evenly spaced ticks read better.
		return plot.DefaultTicks{}.Ticks(lo, hi)
	case labelled < 2:
		for i := range ticks {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', 3, 64)
		}
	}
	return ticks
}
