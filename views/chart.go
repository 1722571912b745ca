package views

import (
	"strconv"
	"time"
)

// BarChart is a server-rendered SVG bar chart: the geometry is computed here,
// the template only draws it.
type BarChart struct {
	Width, Height int
	Bars          []Bar
	// Gridlines are horizontal guides with their value labels.
	Gridlines []Gridline
	Empty     bool
	Title     string
	// EmptyText says why the chart has no bars.
	EmptyText string
	// Legend names the series of a chart of more than one, by class.
	Legend []LegendItem
}

// LegendItem names one series of bars: its class and what it is.
type LegendItem struct{ Class, Label string }

// Bar is one bar of a chart.
type Bar struct {
	X, Y, W, H float64
	Label      string // shown under some bars
	LabelX     float64
	Tooltip    string
	Value      int64
	// Class is the series' class ("" for a chart of one series).
	Class string
}

// Gridline is one horizontal guide.
type Gridline struct {
	Y     float64
	Label string
}

const (
	chartPadLeft   = 36.0
	chartPadRight  = 24.0
	chartPadBottom = 22.0
	chartPadTop    = 8.0
)

// DailyBars lays out one bar per day of credits. Every labelEvery-th day
// gets a label.
func DailyBars(title string, days []time.Time, values []int64, labelEvery int) BarChart {
	c := dailyBars(title, days, values, labelEvery, Number, func(v int64) string { return Number(v) + " credits" })
	c.EmptyText = "No credits used in this period yet."
	return c
}

// DailyMoneyBars lays out one bar per day of an amount in cents.
func DailyMoneyBars(title string, days []time.Time, cents []int64, labelEvery int) BarChart {
	money := func(v int64) string { return Money(float64(v) / 100) }
	c := dailyBars(title, days, cents, labelEvery, moneyAxis, money)
	c.EmptyText = "No cost in this period yet."
	return c
}

// DailyMoneyVersus lays out two bars per day of amounts in cents: revenue
// and cost side by side, on one scale.
func DailyMoneyVersus(title string, days []time.Time, revenue, cost []int64, labelEvery int) BarChart {
	both := make([]int64, 0, 2*len(days))
	both = append(append(both, revenue...), cost...)
	c := dailyBars(title, nil, both, 0, moneyAxis, nil)
	c.Empty = c.Empty || len(days) == 0
	c.EmptyText = "No revenue and no cost in this period yet."
	c.Legend = []LegendItem{{"revenue", "Revenue"}, {"cost", "Cost"}}
	if len(days) == 0 {
		return c
	}
	top := niceCeil(slicesMax(both))
	plotW := float64(c.Width) - chartPadLeft - chartPadRight
	plotH := float64(c.Height) - chartPadBottom - chartPadTop
	slot := plotW / float64(len(days))
	for i, d := range days {
		for k, s := range []struct {
			class string
			v     int64
		}{{"revenue", revenue[i]}, {"cost", cost[i]}} {
			h := plotH * float64(s.v) / float64(top)
			b := Bar{X: chartPadLeft + float64(i)*slot + slot*(0.1+0.4*float64(k)), W: slot * 0.4, H: h, Y: chartPadTop + plotH - h,
				Value: s.v, Class: s.class, Tooltip: d.Format("Mon 2 Jan") + ": " + s.class + " " + Money(float64(s.v)/100)}
			if k == 0 && labelEvery > 0 && (len(days)-1-i)%labelEvery == 0 {
				b.Label, b.LabelX = d.Format("2 Jan"), chartPadLeft+(float64(i)+0.5)*slot
			}
			c.Bars = append(c.Bars, b)
		}
	}
	return c
}

func slicesMax(vs []int64) int64 {
	var m int64
	for _, v := range vs {
		m = max64(m, v)
	}
	return m
}

// dailyBars lays out the bars; axis formats the gridlines' values, tip the
// bars'.
func dailyBars(title string, days []time.Time, values []int64, labelEvery int, axis, tip func(int64) string) BarChart {
	c := BarChart{Width: 720, Height: 220, Title: title}
	var max int64
	for _, v := range values {
		max = max64(max, v)
	}
	c.Empty = max == 0
	top := niceCeil(max)
	plotW := float64(c.Width) - chartPadLeft - chartPadRight
	plotH := float64(c.Height) - chartPadBottom - chartPadTop
	for i := 0; i <= 4; i++ {
		v := top * int64(i) / 4
		c.Gridlines = append(c.Gridlines, Gridline{
			Y:     chartPadTop + plotH - plotH*float64(v)/float64(top),
			Label: axis(v),
		})
	}
	if len(days) == 0 {
		return c
	}
	slot := plotW / float64(len(days))
	for i, d := range days {
		h := plotH * float64(values[i]) / float64(top)
		b := Bar{
			X:       chartPadLeft + float64(i)*slot + slot*0.15,
			W:       slot * 0.7,
			H:       h,
			Y:       chartPadTop + plotH - h,
			Value:   values[i],
			Tooltip: d.Format("Mon 2 Jan") + ": " + tip(values[i]),
		}
		if labelEvery > 0 && (len(days)-1-i)%labelEvery == 0 {
			b.Label, b.LabelX = d.Format("2 Jan"), b.X+b.W/2
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// niceCeil returns the top of the axis: four times the smallest step of 1, 2
// or 5 times a power of ten that makes four steps reach v.
func niceCeil(v int64) int64 {
	if v <= 4 {
		return 4
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if step := m * p; step*4 >= v {
				return step * 4
			}
		}
	}
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// f formats a coordinate for SVG attributes.
func f(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// moneyAxis labels a gridline of cents briefly enough for the axis:
// "$0.25", "$40", "$1.5k".
func moneyAxis(cents int64) string {
	switch {
	case cents >= 100_000:
		return "$" + strconv.FormatFloat(float64(cents)/100_000, 'f', -1, 64) + "k"
	case cents%100 == 0:
		return "$" + Number(cents/100)
	}
	return Money(float64(cents) / 100)
}
