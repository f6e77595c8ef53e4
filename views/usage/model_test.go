package usage

import (
	"math"
	"strings"
	"testing"
	"time"
)

var today = time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)

// days returns the 30 days ending today with the given credits at offsets from the first day.
func days(credits map[int]float64) []Day {
	out := make([]Day, DaysShown)
	for i := range out {
		out[i] = Day{Date: today.AddDate(0, 0, i-(DaysShown-1)), Credits: credits[i]}
	}
	return out
}

func ptr(f float64) *float64 { return &f }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// checkBars fails unless c has 30 bars, one per consecutive day, inside the plot, each stacked
// on the one before.
func checkBars(t *testing.T, c Chart) {
	t.Helper()
	if len(c.Bars) != DaysShown {
		t.Fatalf("%d bars, want %d", len(c.Bars), DaysShown)
	}
	running := 0.0
	for i, b := range c.Bars {
		if i > 0 && !b.Date.Equal(c.Bars[i-1].Date.AddDate(0, 0, 1)) {
			t.Errorf("bar %d: date %s after %s", i, b.ISO(), c.Bars[i-1].ISO())
		}
		if i > 0 && b.X <= c.Bars[i-1].X+c.Bars[i-1].Width {
			t.Errorf("bar %d at x %g overlaps the one before", i, b.X)
		}
		if b.X < plotLeft || b.X+b.Width > plotRight+1e-9 {
			t.Errorf("bar %d: x %g..%g outside the plot", i, b.X, b.X+b.Width)
		}
		running += b.Credits
		if !near(b.Running, running) {
			t.Errorf("bar %d: running %g, want %g", i, b.Running, running)
		}
		if b.Day.Height < 0 || b.Before.Height < 0 {
			t.Errorf("bar %d: negative height", i)
		}
		if !near(b.Before.Y+b.Before.Height, plotBottom) {
			t.Errorf("bar %d: earlier days do not sit on the baseline", i)
		}
		if !near(b.Day.Y+b.Day.Height, b.Before.Y) {
			t.Errorf("bar %d: the day does not sit on the running total", i)
		}
		if b.Day.Y < plotTop-minHeight-1e-9 {
			t.Errorf("bar %d: top %g above the plot", i, b.Day.Y)
		}
	}
}

func TestChartZeroUsage(t *testing.T) {
	for _, in := range []Input{
		{Subject: "Acme", Days: days(nil), Today: today},
		{Subject: "Acme", Today: today}, // no days at all: still 30, ending today
	} {
		c := New(in)
		checkBars(t, c)
		if !c.Empty() || c.Total != 0 || c.Top != 1 || c.Peak != nil {
			t.Errorf("zero usage: empty %v total %g top %g peak %v", c.Empty(), c.Total, c.Top, c.Peak)
		}
		for i, b := range c.Bars {
			if b.Day.Height != 0 || b.Before.Height != 0 || b.Over {
				t.Errorf("bar %d: %+v, want flat", i, b)
			}
		}
		if !c.Bars[DaysShown-1].Date.Equal(today) || c.First.Text != "Mar 2" || c.Last.Text != "Mar 31" {
			t.Errorf("days: last %s, labels %q..%q", c.Bars[DaysShown-1].ISO(), c.First.Text, c.Last.Text)
		}
		if got := c.Summary(); got != "Acme used 0 credits in the last 30 days, with no limit." {
			t.Errorf("summary %q", got)
		}
	}
}

func TestChartHeightsStackOnTheRunningTotal(t *testing.T) {
	// 10 on the 6th day, 30 on the 29th: total 40, axis top 50, plot 144 high.
	c := New(Input{Subject: "Acme", Days: days(map[int]float64{5: 10, 28: 30}), Used: 40})
	checkBars(t, c)
	if c.Top != 50 || c.Total != 40 {
		t.Fatalf("top %g total %g, want 50 and 40", c.Top, c.Total)
	}
	b := c.Bars[5]
	if !near(b.Day.Height, 28.8) || !near(b.Day.Y, 158-28.8) || b.Before.Height != 0 {
		t.Errorf("day 5: %+v", b)
	}
	for _, i := range []int{6, 27} { // no usage: only the running total
		if b := c.Bars[i]; b.Day.Height != 0 || !near(b.Before.Height, 28.8) {
			t.Errorf("day %d: %+v", i, b)
		}
	}
	b = c.Bars[28]
	if !near(b.Before.Height, 28.8) || !near(b.Day.Height, 86.4) || !near(b.Day.Y, 158-115.2) {
		t.Errorf("day 28: %+v", b)
	}
	if c.Peak == nil || !c.Peak.Date.Equal(c.Bars[28].Date) {
		t.Errorf("peak %v, want day 28", c.Peak)
	}
	wantTicks := []Tick{{158, "0"}, {86, "25"}, {14, "50"}}
	for i, tk := range c.Ticks {
		if !near(tk.Y, wantTicks[i].Y) || tk.Label != wantTicks[i].Label {
			t.Errorf("tick %d = %+v, want %+v", i, tk, wantTicks[i])
		}
	}
	if c.Limit != nil || c.LimitText() != "" {
		t.Errorf("no limit given, chart has %v", c.Limit)
	}
	if strings.Contains(c.Description(), "dashed") {
		t.Errorf("description mentions a limit line: %q", c.Description())
	}
}

func TestChartOneHugeDay(t *testing.T) {
	c := New(Input{Subject: "Acme", Days: days(map[int]float64{0: 0.5, 14: 3e9, 29: 1}), Used: 3e9 + 1.5})
	checkBars(t, c)
	if c.Top != 5e9 {
		t.Errorf("top %g, want 5e9", c.Top)
	}
	if c.Ticks[2].Label != "5B" || c.Ticks[1].Label != "2.5B" {
		t.Errorf("ticks %+v", c.Ticks)
	}
	// The tiny days stay visible: at least minHeight.
	if c.Bars[0].Day.Height != minHeight || c.Bars[29].Day.Height != minHeight {
		t.Errorf("tiny days: %g and %g high, want %d", c.Bars[0].Day.Height, c.Bars[29].Day.Height, minHeight)
	}
	if !near(c.Bars[14].Day.Height, 3e9/5e9*plotHeight) {
		t.Errorf("huge day %g high", c.Bars[14].Day.Height)
	}
	if c.Peak == nil || c.Peak.Credits != 3e9 {
		t.Errorf("peak %+v", c.Peak)
	}
}

func TestChartLimit(t *testing.T) {
	t.Run("above the max", func(t *testing.T) {
		c := New(Input{Subject: "Acme", Days: days(map[int]float64{3: 20, 10: 22}), Used: 42, Limit: ptr(100)})
		checkBars(t, c)
		if c.Top != 100 || !near(c.LimitY, plotTop) {
			t.Errorf("top %g, limit at %g: want the limit at the top", c.Top, c.LimitY)
		}
		for i, b := range c.Bars {
			if b.Over {
				t.Errorf("bar %d over a limit it is under", i)
			}
		}
		if got := c.Summary(); got != "Acme used 42 of 100 credits in the last 30 days." {
			t.Errorf("summary %q", got)
		}
		if c.LimitTextY() <= c.LimitY {
			t.Errorf("the limit's label at the top of the plot must go under its line: %g vs %g", c.LimitTextY(), c.LimitY)
		}
		if c.Over() {
			t.Error("Over() under the limit")
		}
	})
	t.Run("below the max", func(t *testing.T) {
		c := New(Input{Subject: "Acme", Days: days(map[int]float64{3: 20, 10: 22, 20: 1}), Used: 43, Limit: ptr(30),
			LimitLabel: "Workspace default limit"})
		checkBars(t, c)
		if c.Top != 50 || !near(c.LimitY, plotBottom-30.0/50*plotHeight) {
			t.Errorf("top %g, limit at %g", c.Top, c.LimitY)
		}
		for i, b := range c.Bars {
			if want := i >= 10; b.Over != want {
				t.Errorf("bar %d over = %v, want %v (running %g)", i, b.Over, want, b.Running)
			}
		}
		if c.Bars[10].DayClass() != "fill-red-600" || c.Bars[9].DayClass() != "fill-indigo-600" {
			t.Errorf("classes %q %q", c.Bars[10].DayClass(), c.Bars[9].DayClass())
		}
		if got := c.Summary(); got != "Acme used 43 of 30 credits in the last 30 days, over the limit." {
			t.Errorf("summary %q", got)
		}
		d := c.Description()
		for _, want := range []string{"workspace default limit of 30 credits", "passed it on 12 March 2026", "busiest day was 12 March 2026 with 22 credits"} {
			if !strings.Contains(d, want) {
				t.Errorf("description %q lacks %q", d, want)
			}
		}
		if c.LimitText() != "Workspace default limit 30" {
			t.Errorf("limit text %q", c.LimitText())
		}
	})
	t.Run("zero", func(t *testing.T) {
		c := New(Input{Subject: "Acme", Days: days(map[int]float64{29: 2}), Used: 2, Limit: ptr(0)})
		checkBars(t, c)
		if c.Top != 2 || c.LimitY != plotBottom || !c.Bars[29].Over || c.Bars[28].Over {
			t.Errorf("zero limit: top %g, line %g, last over %v", c.Top, c.LimitY, c.Bars[29].Over)
		}
	})
	t.Run("without usage", func(t *testing.T) {
		c := New(Input{Subject: "Acme", Days: days(nil), Limit: ptr(250)})
		checkBars(t, c)
		if c.Top != 250 || !near(c.LimitY, plotTop) || !c.Empty() {
			t.Errorf("top %g, line %g", c.Top, c.LimitY)
		}
	})
}

func TestChartAlwaysThirtyDays(t *testing.T) {
	long := make([]Day, 45) // more days than shown: the last 30
	for i := range long {
		long[i] = Day{Date: today.AddDate(0, 0, i-44), Credits: 1}
	}
	c := New(Input{Days: long})
	checkBars(t, c)
	if c.Total != 30 || !c.Bars[29].Date.Equal(today) {
		t.Errorf("45 days: total %g, last %s", c.Total, c.Bars[29].ISO())
	}

	// Gaps, a repeated date, a non-UTC time of day and nonsense values.
	gappy := []Day{
		{Date: today.AddDate(0, 0, -40), Credits: 99}, // before the window
		{Date: today.AddDate(0, 0, -3), Credits: 2},
		{Date: today.AddDate(0, 0, -3), Credits: 3},
		{Date: today.AddDate(0, 0, -1).Add(13 * time.Hour), Credits: 4},
		{Date: today.AddDate(0, 0, -2), Credits: math.NaN()},
		{Date: today.AddDate(0, 0, -2), Credits: -7},
		{Date: today, Credits: math.Inf(1)},
	}
	c = New(Input{Days: gappy})
	checkBars(t, c)
	if c.Total != 9 || c.Bars[26].Credits != 5 || c.Bars[28].Credits != 4 || c.Bars[27].Credits != 0 || c.Bars[29].Credits != 0 {
		t.Errorf("gappy: total %g, bars %+v", c.Total, c.Bars[26:])
	}
}

func TestTopTenantsScale(t *testing.T) {
	rows := ScaleTop([]TopTenant{
		{Name: "Acme", Used: 200, Limit: ptr(100)},
		{Name: "Globex", Used: 50, Limit: ptr(500), DefaultLimit: true},
		{Name: "Initech", Used: 0.001},
	})
	if rows[0].Width != 100 || rows[1].Width != 25 || rows[2].Width != 1 {
		t.Errorf("widths %g %g %g", rows[0].Width, rows[1].Width, rows[2].Width)
	}
	if rows[0].LimitX == nil || *rows[0].LimitX != 50 || rows[1].LimitX != nil || rows[2].LimitX != nil {
		t.Errorf("limit ticks %v %v %v", rows[0].LimitX, rows[1].LimitX, rows[2].LimitX)
	}
	if !rows[0].Over() || rows[1].Over() || rows[0].BarClass() != "fill-red-600" {
		t.Error("over the limit")
	}
	for i, want := range []string{"100", "500 (workspace default)", "Unlimited"} {
		if got := rows[i].LimitText(); got != want {
			t.Errorf("row %d limit %q, want %q", i, got, want)
		}
	}
	if got := rows[0].BarLabel(); got != "200 credits of 100" {
		t.Errorf("bar label %q", got)
	}
	if z := ScaleTop([]TopTenant{{Used: 0}}); z[0].Width != 0 {
		t.Errorf("zero usage width %g", z[0].Width)
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		f               float64
		nice            float64
		compact, number string
	}{
		{0, 1, "0", "0"},
		{0.3, 0.5, "0.3", "0.3"},
		{1, 1, "1", "1"},
		{7, 10, "7", "7"},
		{12.5, 20, "12.5", "12.5"},
		{100, 100, "100", "100"},
		{101, 200, "101", "101"},
		{2400, 2500, "2.4k", "2,400"},
		{1250000, 2000000, "1.25M", "1,250,000"},
		{3e9, 5e9, "3B", "3,000,000,000"},
		{7e15, 1e16, "7e+15", "7,000,000,000,000,000"},
	} {
		if got := NiceCeil(c.f); !near(got/c.nice, 1) {
			t.Errorf("NiceCeil(%g) = %g, want %g", c.f, got, c.nice)
		}
		if got := Compact(c.f); got != c.compact {
			t.Errorf("Compact(%g) = %q, want %q", c.f, got, c.compact)
		}
		if got := Number(c.f); got != c.number {
			t.Errorf("Number(%g) = %q, want %q", c.f, got, c.number)
		}
	}
	if got := F(-0.001); got != "0" {
		t.Errorf("F(-0.001) = %q", got)
	}
	if got := F(12.3456); got != "12.35" {
		t.Errorf("F(12.3456) = %q", got)
	}
	if NiceCeil(math.Inf(1)) != math.MaxFloat64 || NiceCeil(math.NaN()) != 1 || NiceCeil(-3) != 1 {
		t.Error("NiceCeil of nonsense")
	}
}
