// Package usage renders AI credit usage: the 30-day chart (server-side SVG, shared by a tenant's
// page and the workspace Usage page) and the Usage page with its top tenants. The geometry is
// computed here, in plain Go, so it is tested without rendering.
//
// A credit limit counts over a rolling 30 days, so the chart draws each day's bar on top of the
// running total of the window before it: the bars climb towards the limit line, and a day whose
// running total passes the limit is coloured as over it. A limit line over bars of single days
// would sit far above them and mark nothing.
package usage

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// DaysShown is how many days a chart has: always this many bars.
const DaysShown = 30

// The chart's viewBox and the margins around its plot (axis labels live in the margins).
const (
	Width     = 600
	Height    = 180
	padLeft   = 44
	padRight  = 8
	padTop    = 14
	padBottom = 22
	barFill   = 0.72 // the share of a day's slot its bar fills
	minHeight = 1    // a day with any usage stays visible
)

const (
	plotLeft   = padLeft
	plotRight  = Width - padRight
	plotTop    = padTop
	plotBottom = Height - padBottom
	plotHeight = plotBottom - plotTop
	plotWidth  = plotRight - plotLeft
)

// Day is one day's usage.
type Day struct {
	Date    time.Time
	Credits float64
}

// Input is what a chart is drawn from.
type Input struct {
	ID         string    // prefix of the chart's element ids: unique on the page
	Subject    string    // who used the credits, for the summary: "Acme", "The workspace"
	Days       []Day     // oldest first; the chart shows the 30 days ending at the last one
	Used       float64   // usage over the rolling window the limit counts (the summary's number)
	Limit      *float64  // nil: unlimited
	LimitLabel string    // what the limit is: "Limit", "Workspace default limit"
	Today      time.Time // the last day when Days is empty
}

// Chart is a drawn chart: 30 bars, the axis, the limit line.
type Chart struct {
	ID         string
	Subject    string
	Used       float64
	Limit      *float64
	LimitLabel string
	Total      float64 // the sum of the days shown
	Top        float64 // the value at the top of the axis: a round number at least the total and the limit
	Bars       []Bar   // always DaysShown, oldest first
	Ticks      []Tick  // the value axis: 0, half, top
	First      Label   // the first day, under the first bar
	Last       Label   // the last day, under the last bar
	LimitY     float64 // the limit line's y, when there is a limit
	Peak       *Bar    // the day with the most usage; nil when none was used
}

// Bar is one day: its own usage stacked on the running total before it.
type Bar struct {
	Date    time.Time
	Credits float64 // the day's usage
	Running float64 // the window's total through this day
	X       float64
	Width   float64
	Before  Segment // the window's earlier days
	Day     Segment // this day
	Over    bool    // the running total passes the limit
}

// Segment is a rectangle's vertical extent.
type Segment struct{ Y, Height float64 }

// Tick is a label on the value axis with its gridline.
type Tick struct {
	Y     float64
	Label string
}

// Label is a text on the day axis.
type Label struct {
	X    float64
	Text string
}

// New draws a chart.
func New(in Input) Chart {
	c := Chart{ID: in.ID, Subject: in.Subject, Used: clean(in.Used), LimitLabel: in.LimitLabel}
	if in.Limit != nil {
		l := clean(*in.Limit)
		c.Limit = &l
	}
	if c.LimitLabel == "" {
		c.LimitLabel = "Limit"
	}
	days := normalize(in.Days, in.Today)
	for _, d := range days {
		c.Total += d.Credits
	}
	top := c.Total
	if c.Limit != nil {
		top = max(top, *c.Limit)
	}
	c.Top = NiceCeil(top)
	c.Ticks = []Tick{{Y: c.y(0), Label: "0"}, {Y: c.y(c.Top / 2), Label: Compact(c.Top / 2)}, {Y: c.y(c.Top), Label: Compact(c.Top)}}
	if c.Limit != nil {
		c.LimitY = c.y(*c.Limit)
	}

	slot := float64(plotWidth) / DaysShown
	width := slot * barFill
	c.Bars = make([]Bar, DaysShown)
	running := 0.0
	for i, d := range days {
		b := Bar{Date: d.Date, Credits: d.Credits, X: plotLeft + float64(i)*slot + (slot-width)/2, Width: width}
		b.Before = Segment{Y: c.y(running), Height: c.height(running)}
		running += d.Credits
		b.Running = running
		h := c.height(d.Credits)
		if d.Credits > 0 {
			h = max(h, minHeight)
		}
		b.Day = Segment{Y: b.Before.Y - h, Height: h}
		b.Over = c.Limit != nil && running > *c.Limit
		c.Bars[i] = b
	}
	for i := range c.Bars {
		if c.Bars[i].Credits > 0 && (c.Peak == nil || c.Bars[i].Credits > c.Peak.Credits) {
			c.Peak = &c.Bars[i]
		}
	}
	c.First = Label{X: c.Bars[0].X, Text: Short(c.Bars[0].Date)}
	last := c.Bars[DaysShown-1]
	c.Last = Label{X: last.X + last.Width, Text: Short(last.Date)}
	return c
}

// normalize returns exactly DaysShown days, one per date, ending at the last day given (or
// today): missing dates are zero, days outside the range are left out, a date given twice adds
// up. Credits that are not a finite, non-negative number count as zero.
func normalize(in []Day, today time.Time) []Day {
	end := dateOf(today)
	if len(in) > 0 {
		end = dateOf(in[len(in)-1].Date)
	}
	out := make([]Day, DaysShown)
	at := map[string]int{}
	for i := range out {
		out[i].Date = end.AddDate(0, 0, i-(DaysShown-1))
		at[out[i].Date.Format(time.DateOnly)] = i
	}
	for _, d := range in {
		if i, ok := at[dateOf(d.Date).Format(time.DateOnly)]; ok {
			out[i].Credits += clean(d.Credits)
		}
	}
	return out
}

// dateOf is t's calendar date (in t's own location: the store gives UTC dates) at midnight UTC.
func dateOf(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now().UTC()
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func clean(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0
	}
	return f
}

// height is v's height in the plot.
func (c Chart) height(v float64) float64 { return v / c.Top * plotHeight }

// y is where the value v sits.
func (c Chart) y(v float64) float64 { return plotBottom - c.height(v) }

// Empty reports a chart of a window without usage.
func (c Chart) Empty() bool { return c.Total == 0 && c.Used == 0 }

// Over reports usage above the limit.
func (c Chart) Over() bool { return c.Limit != nil && c.Used > *c.Limit }

// AnyOver reports a bar over the limit.
func (c Chart) AnyOver() bool {
	for _, b := range c.Bars {
		if b.Over {
			return true
		}
	}
	return false
}

// Summary is the chart in a sentence: "Acme used 42 of 100 credits in the last 30 days."
func (c Chart) Summary() string {
	s := c.Subject + " used " + Number(c.Used)
	if c.Limit != nil {
		s += " of " + Number(*c.Limit)
	}
	s += " " + credits(c.Used, c.Limit) + " in the last 30 days"
	switch {
	case c.Over():
		return s + ", over the limit."
	case c.Limit == nil:
		return s + ", with no limit."
	}
	return s + "."
}

func credits(used float64, limit *float64) string {
	if limit == nil && used == 1 {
		return "credit"
	}
	return "credits"
}

// Description says how to read the chart, for screen readers.
func (c Chart) Description() string {
	s := "One bar per day from " + Long(c.Bars[0].Date) + " to " + Long(c.Bars[DaysShown-1].Date) +
		": the day's credits stacked on the running total of the days before it."
	if c.Limit != nil {
		s += " The dashed line is the " + strings.ToLower(c.LimitLabel) + " of " + Number(*c.Limit) + " credits."
		for _, b := range c.Bars {
			if b.Over {
				s += " The running total passed it on " + Long(b.Date) + "."
				break
			}
		}
	}
	if c.Peak != nil {
		s += " The busiest day was " + Long(c.Peak.Date) + " with " + Number(c.Peak.Credits) + " credits."
	}
	return s
}

// LimitText labels the limit line: "Limit 100".
func (c Chart) LimitText() string {
	if c.Limit == nil {
		return ""
	}
	return c.LimitLabel + " " + Compact(*c.Limit)
}

// LimitTextY places the limit's label just above its line, or below it when the line is at the
// top of the plot.
func (c Chart) LimitTextY() float64 {
	if c.LimitY-4 < plotTop+8 {
		return c.LimitY + 12
	}
	return c.LimitY - 4
}

// Title is a bar's tooltip.
func (b Bar) Title() string {
	s := Long(b.Date) + ": " + Number(b.Credits) + " credits"
	if b.Running > 0 {
		s += " (" + Number(b.Running) + " in the window so far)"
	}
	if b.Over {
		s += ", over the limit"
	}
	return s
}

// ISO is the bar's date as YYYY-MM-DD.
func (b Bar) ISO() string { return b.Date.Format(time.DateOnly) }

// DayClass colours the day's segment; BeforeClass the running total below it.
func (b Bar) DayClass() string {
	if b.Over {
		return "fill-red-600"
	}
	return "fill-indigo-600"
}

func (b Bar) BeforeClass() string {
	if b.Over {
		return "fill-red-200"
	}
	return "fill-indigo-200"
}

// Plot edges, for the template's axis lines.
func PlotLeft() string  { return F(plotLeft) }
func PlotRight() string { return F(plotRight) }
func AxisLabelX() string {
	return F(plotLeft - 6)
}
func DayLabelY() string { return F(plotBottom + 15) }
func ViewBox() string   { return "0 0 " + strconv.Itoa(Width) + " " + strconv.Itoa(Height) }

// --- the Usage page ------------------------------------------------------------------------------

// PageView is the workspace Usage page.
type PageView struct {
	Chart Chart
	Top   []TopTenant
	// SettingsURL is where an admin changes the limits ("" for support managers).
	SettingsURL string
}

// TopTenant is one of the tenants that used the most credits.
type TopTenant struct {
	Href         string
	Name         string
	InternalID   string
	Used         float64
	Limit        *float64 // the limit that applies: its own, else the workspace default
	DefaultLimit bool     // Limit is the workspace default
	Width        float64  // the bar's length, 0–100: the share of the largest usage listed
	LimitX       *float64 // where its limit falls on the same scale, when within it
}

// ScaleTop sets the tenants' bars on one scale, the largest usage listed.
func ScaleTop(rows []TopTenant) []TopTenant {
	peak := 0.0
	for _, r := range rows {
		peak = max(peak, clean(r.Used))
	}
	for i := range rows {
		r := &rows[i]
		r.Width, r.LimitX = 0, nil
		if peak == 0 {
			continue
		}
		r.Width = clean(r.Used) / peak * 100
		if r.Used > 0 {
			r.Width = max(r.Width, 1)
		}
		if r.Limit != nil && *r.Limit <= peak {
			x := clean(*r.Limit) / peak * 100
			r.LimitX = &x
		}
	}
	return rows
}

// Over reports usage above the tenant's limit.
func (t TopTenant) Over() bool { return t.Limit != nil && t.Used > *t.Limit }

// LimitText is the tenant's limit, in words.
func (t TopTenant) LimitText() string {
	switch {
	case t.Limit == nil:
		return "Unlimited"
	case t.DefaultLimit:
		return Number(*t.Limit) + " (workspace default)"
	}
	return Number(*t.Limit)
}

// BarLabel is what a tenant's bar shows, in words.
func (t TopTenant) BarLabel() string {
	s := Number(t.Used) + " credits"
	if t.Limit != nil {
		s += " of " + Number(*t.Limit)
	}
	return s
}

// BarClass colours a tenant's bar.
func (t TopTenant) BarClass() string {
	if t.Over() {
		return "fill-red-600"
	}
	return "fill-indigo-600"
}

// --- formatting ----------------------------------------------------------------------------------

// F formats a coordinate: at most two decimals, no trailing zeros.
func F(f float64) string {
	r := math.Round(f*100) / 100
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// Number formats a credit amount: grouped integer part, shortest exact fraction.
func Number(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// Compact formats an axis value briefly: 2.5k, 10M, 0.25.
func Compact(f float64) string {
	units := []struct {
		size   float64
		suffix string
	}{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}}
	for _, u := range units {
		if math.Abs(f) >= u.size {
			if f/u.size >= 1000 {
				return strconv.FormatFloat(f, 'g', 3, 64)
			}
			return trim(f/u.size) + u.suffix
		}
	}
	return trim(f)
}

func trim(f float64) string {
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}

// NiceCeil rounds v up to a round number for the top of an axis (1, 2, 2.5 or 5 times a power
// of ten); 1 for nothing.
func NiceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) {
		return 1
	}
	if math.IsInf(v, 1) {
		return math.MaxFloat64
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if n := m * p; n >= v*(1-1e-12) {
			if math.IsInf(n, 1) {
				return math.MaxFloat64
			}
			return n
		}
	}
	return 10 * p
}

// Short is a day on the axis: "Jan 2". Long is a day in words: "2 January 2026".
func Short(t time.Time) string { return t.Format("Jan 2") }
func Long(t time.Time) string  { return t.Format("2 January 2006") }
