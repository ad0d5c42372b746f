package main

import (
	"bytes"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

var (
	plotBlue   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	plotOrange = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	plotGrey   = color.RGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xff}
)

// series is one line of a panel: the rows where the value is present.
type series struct {
	name   string
	value  func(growthRow) *float64
	color  color.Color
	dashed bool
	shape  draw.GlyphDrawer
}

// growthPanel draws values against objects; ref > 0 adds a dashed
// horizontal reference line named refName.
func growthPanel(g *growth, title, yLabel string, lines []series, ref float64, refName string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "objects (2N)"
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())

	var ticks plot.ConstantTicks
	minX, maxX := math.Inf(1), math.Inf(-1)
	for _, r := range g.Rows {
		x := float64(r.Objects)
		ticks = append(ticks, plot.Tick{Value: x, Label: thousands(strconv.Itoa(r.Objects))})
		minX, maxX = math.Min(minX, x), math.Max(maxX, x)
	}
	p.X.Tick.Marker = ticks
	pad := (maxX - minX) * 0.05
	if pad == 0 {
		pad = math.Max(1, maxX*0.05)
	}
	p.X.Min, p.X.Max = minX-pad, maxX+pad

	maxY := ref
	for _, s := range lines {
		var xys plotter.XYs
		for _, r := range g.Rows {
			if v := s.value(r); v != nil {
				xys = append(xys, plotter.XY{X: float64(r.Objects), Y: *v})
				maxY = math.Max(maxY, *v)
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = s.color, s.color
		l.Width = vg.Points(1.5)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		if s.shape != nil {
			pts.Shape = s.shape
		}
		pts.Radius = vg.Points(3)
		p.Add(l, pts)
		if s.name != "" {
			p.Legend.Add(s.name, l, pts)
		}
	}
	if ref > 0 {
		rl, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: ref}, {X: p.X.Max, Y: ref}})
		if err != nil {
			return nil, err
		}
		rl.Color = plotGrey
		rl.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(rl)
		p.Legend.Add(refName, rl)
	}
	if maxY <= 0 {
		maxY = 1
	}
	p.Y.Min, p.Y.Max = 0, maxY*1.15
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Points(6)
	p.Legend.YOffs = vg.Points(2)
	return p, nil
}

const growthPlotW, growthPlotH = 9 * vg.Inch, 6.5 * vg.Inch

// renderGrowthPlot draws the four panels into an SVG document.
func renderGrowthPlot(g *growth) ([]byte, error) {
	canvas := vgsvg.New(growthPlotW, growthPlotH)
	if err := drawGrowth(g, draw.New(canvas)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// drawGrowth draws the four panels, two by two, onto dc.
func drawGrowth(g *growth, dc draw.Canvas) error {
	conv := func(r growthRow) *float64 { return r.ConvergenceSeconds }
	floor := func(r growthRow) *float64 { return r.FloorSeconds }
	a, err := growthPanel(g, "Convergence and floor", "seconds", []series{
		{name: "convergence", value: conv, color: plotBlue, shape: draw.CircleGlyph{}},
		{name: "floor", value: floor, color: plotOrange, dashed: true, shape: draw.SquareGlyph{}},
	}, 0, "")
	if err != nil {
		return err
	}
	b, err := growthPanel(g, "Peak RSS", "MiB", []series{
		{value: func(r growthRow) *float64 { return r.PeakRSSMiB }, color: plotBlue, shape: draw.CircleGlyph{}},
	}, 0, "")
	if err != nil {
		return err
	}
	c, err := growthPanel(g, "Steady CPU per sync", "ms of operator CPU per sync", []series{
		{value: func(r growthRow) *float64 { return r.SteadyCPUMsPerSync }, color: plotBlue, shape: draw.CircleGlyph{}},
	}, 0, "")
	if err != nil {
		return err
	}
	d, err := growthPanel(g, "API requests per converged object", "requests per object", []series{
		{name: "operator", value: func(r growthRow) *float64 { return r.APIRequestsPerConvergedObject }, color: plotBlue, shape: draw.CircleGlyph{}},
	}, floorAPIRequests, "floor (1.5)")
	if err != nil {
		return err
	}

	tiles := draw.Tiles{Rows: 2, Cols: 2, PadX: vg.Points(24), PadY: vg.Points(24),
		PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(12)}
	plots := [][]*plot.Plot{{a, b}, {c, d}}
	canvases := plot.Align(plots, tiles, dc)
	for i, row := range plots {
		for j, p := range row {
			p.Draw(canvases[i][j])
		}
	}
	return nil
}

func writeGrowthPlot(g *growth, path string) error {
	data, err := renderGrowthPlot(g)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
