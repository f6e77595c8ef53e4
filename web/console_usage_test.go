package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"tenantry/internal/seed"
)

// spend records a ledger row of credits for a tenant at noon (UTC) daysAgo days ago: 0 would be
// today, possibly in the future, so tests use 1..29 for the chart's window.
func (e *testEnv) spend(t *testing.T, tenantID uuid.UUID, daysAgo int, credits float64) {
	t.Helper()
	e.exec(t, `INSERT INTO ai_credit_ledger (workspace_id, id, tenant_id, credits, created_at)
		VALUES ($1, $2, $3, $4, ((now() AT TIME ZONE 'UTC')::date - $5::int + time '12:00') AT TIME ZONE 'UTC')`,
		e.ws.ID, uuid.New(), tenantID, credits, daysAgo)
}

// dayAgo is the UTC date daysAgo days ago, as the database sees it (YYYY-MM-DD).
func (e *testEnv) dayAgo(t *testing.T, daysAgo int) string {
	t.Helper()
	var s string
	if err := e.db.SQL().GetContext(context.Background(), &s,
		`SELECT to_char((now() AT TIME ZONE 'UTC')::date - $1::int, 'YYYY-MM-DD')`, daysAgo); err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	usageBarRE = regexp.MustCompile(`(?s)<g data-testid="usage-bar" data-date="([^"]*)" data-credits="([^"]*)"( data-over)?>.*?</g>`)
	dayRectRE  = regexp.MustCompile(`<rect x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)" class="([^"]*)" data-testid="usage-day">`)
)

// chartBar is one bar of a rendered chart.
type chartBar struct {
	date, credits string
	over          bool
	y, height     string // the day's segment
	class         string
}

// chartBars reads the bars of the chart in body, in order.
func chartBars(t *testing.T, body string) []chartBar {
	t.Helper()
	var out []chartBar
	for _, m := range usageBarRE.FindAllStringSubmatch(body, -1) {
		r := dayRectRE.FindStringSubmatch(m[0])
		if r == nil {
			t.Fatalf("bar without its day's rect: %s", m[0])
		}
		out = append(out, chartBar{date: m[1], credits: m[2], over: m[3] != "", y: r[1], height: r[2], class: r[3]})
	}
	return out
}

var limitLineRE = regexp.MustCompile(`<line [^>]*y1="([^"]*)"[^>]*data-testid="usage-limit-line"`)

// limitLineY is the y of the chart's limit line, or "" without one.
func limitLineY(body string) string {
	if m := limitLineRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

func barOn(t *testing.T, bars []chartBar, date string) chartBar {
	t.Helper()
	for _, b := range bars {
		if b.date == date {
			return b
		}
	}
	t.Fatalf("no bar for %s in %v", date, bars)
	return chartBar{}
}

func TestTenantUsageChart(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	e.exec(t, `UPDATE workspaces SET settings = '{}' WHERE id = $1`, e.ws.ID)
	acme := e.tenant(t, "acme")
	path := "/tenants/" + acme.ID.String()
	e.spend(t, acme.ID, 5, 10)
	e.spend(t, acme.ID, 1, 12)
	e.spend(t, acme.ID, 1, 18)
	e.spend(t, acme.ID, 40, 1000) // outside the window
	globex := e.tenant(t, "globex")
	e.spend(t, globex.ID, 2, 7) // another tenant's usage stays off acme's chart

	r := e.get(t, c, path)
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "tenant page with a chart", r)
	bars := chartBars(t, r.body)
	if len(bars) != 30 {
		t.Fatalf("%d bars, want 30", len(bars))
	}
	if bars[0].date != e.dayAgo(t, 29) || bars[29].date != e.dayAgo(t, 0) {
		t.Errorf("bars from %s to %s, want %s to %s", bars[0].date, bars[29].date, e.dayAgo(t, 29), e.dayAgo(t, 0))
	}
	// Total 40: the axis goes to 50 over a plot 144 high, the baseline at 158. The day 5 ago is
	// 10 (28.8 high, on the baseline); a day ago is 30 (86.4) on the running total of 10.
	want := map[string]chartBar{
		e.dayAgo(t, 5): {credits: "10", y: "129.2", height: "28.8"},
		e.dayAgo(t, 1): {credits: "30", y: "42.8", height: "86.4"},
		e.dayAgo(t, 3): {credits: "0", y: "129.2", height: "0"},
		e.dayAgo(t, 0): {credits: "0", y: "42.8", height: "0"},
	}
	for date, w := range want {
		b := barOn(t, bars, date)
		if b.credits != w.credits || b.y != w.y || b.height != w.height || b.over || b.class != "fill-indigo-600" {
			t.Errorf("bar %s = %+v, want credits %s y %s height %s, not over", date, b, w.credits, w.y, w.height)
		}
	}
	wantContains(t, "chart", r.body, `<title id="tenant-usage-title">Acme Corp used 40 credits in the last 30 days, with no limit.</title>`,
		`aria-labelledby="tenant-usage-title tenant-usage-desc"`, `role="img"`, `data-testid="usage-first-day"`, `data-testid="usage-last-day"`,
		`data-testid="usage-tick">50<`, `<strong>40</strong>`)
	wantAbsent(t, "no limit", r.body, `data-testid="usage-limit-line"`, "1,000")
	if n := strings.Count(r.body, `data-testid="usage-row"`); n != 30 {
		t.Errorf("the table has %d rows, want 30", n)
	}
	if !regexp.MustCompile(`<time datetime="` + e.dayAgo(t, 1) + `">[^<]*</time></th>\s*<td class="text-right tabular-nums">30</td>\s*<td class="text-right tabular-nums">\s*40\s*</td>`).MatchString(r.body) {
		t.Errorf("the table lacks a day ago: 30, running 40")
	}

	// An own limit of 25: the line at 158-25/50*144 = 86, the bar a day ago over it.
	wantRedirect(t, e.postForm(t, c, path+"/credits", url.Values{"limit": {"25"}}), path)
	r = e.get(t, c, path)
	checkStrictHTML(t, "tenant page with a limit", r)
	if y := limitLineY(r.body); y != "86" {
		t.Errorf("own limit: line at %q, want 86", y)
	}
	wantContains(t, "own limit", r.body, ">Limit 25</text>",
		"Acme Corp used 40 of 25 credits in the last 30 days, over the limit.")
	bars = chartBars(t, r.body)
	if b := barOn(t, bars, e.dayAgo(t, 1)); !b.over || b.class != "fill-red-600" {
		t.Errorf("a day ago, past the limit: %+v", b)
	}
	if b := barOn(t, bars, e.dayAgo(t, 5)); b.over || b.class != "fill-indigo-600" {
		t.Errorf("5 days ago, under the limit: %+v", b)
	}

	// The htmx form answers with the section, chart included, and the workspace default's line.
	e.exec(t, `UPDATE workspaces SET settings = '{"defaultTenantAiCreditsLimit": 500}' WHERE id = $1`, e.ws.ID)
	r = e.postForm(t, c, path+"/credits", url.Values{"limit": {""}}, hxHeaders...)
	fragment(t, "htmx credits", r, `<section id="tenant-credits"`)
	if n := len(chartBars(t, r.body)); n != 30 {
		t.Errorf("htmx credits: %d bars, want 30", n)
	}
	if y := limitLineY(r.body); y != "14" {
		t.Errorf("default limit: line at %q, want 14", y)
	}
	wantContains(t, "default limit", r.body, ">Workspace default limit 500</text>",
		"Acme Corp used 40 of 500 credits in the last 30 days.")
	// The axis now reaches 500: a day ago is 30/500*144 high.
	if b := barOn(t, chartBars(t, r.body), e.dayAgo(t, 1)); b.height != "8.64" || b.over {
		t.Errorf("a day ago on the 500 axis: %+v", b)
	}

	// Without a limit at all, no line; without usage, an empty state and no SVG.
	e.exec(t, `UPDATE workspaces SET settings = '{}' WHERE id = $1`, e.ws.ID)
	wantAbsent(t, "unlimited", e.get(t, c, path).body, `data-testid="usage-limit-line"`)
	r = e.get(t, c, "/tenants/"+e.tenant(t, "initech").ID.String())
	wantCode(t, r, http.StatusOK)
	wantContains(t, "no usage", r.body, `data-testid="usage-empty"`, `data-testid="credit-usage"`)
	wantAbsent(t, "no usage", r.body, `data-testid="usage-svg"`, `data-testid="usage-bar"`)
}

var topRowRE = regexp.MustCompile(`(?s)<tr data-testid="top-row">.*?href="([^"]*)" data-testid="top-tenant">([^<]*)</a>.*?data-testid="top-used">([^<]*)<.*?data-testid="top-limit">\s*([^<]*?)\s*<.*?</tr>`)

func TestUsagePage(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	admin := e.signedIn(t, seed.AdminEmail)
	support := e.signedIn(t, seed.SupportEmail)

	// Nothing used yet: empty states.
	r := e.get(t, admin, "/usage")
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "empty usage page", r)
	wantContains(t, "empty", r.body, `data-testid="usage-empty"`, `data-testid="top-empty"`,
		`<a href="/usage" aria-current="page"`)
	wantAbsent(t, "empty", r.body, `data-testid="usage-svg"`, `data-testid="top-row"`)

	e.exec(t, `UPDATE workspaces SET settings = '{"aiCreditsRolling30DayLimit": 400, "defaultTenantAiCreditsLimit": 50}' WHERE id = $1`, e.ws.ID)
	e.exec(t, `UPDATE tenants SET ai_credits_rolling_30_day_limit = 100 WHERE workspace_id = $1 AND internal_id = 'globex'`, e.ws.ID)
	// Eleven tenants used credits: 10 + i each (all but oscorp), globex the most, over two days.
	ids := []string{"acme", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "tyrell", "cyberdyne", "soylent"}
	for i, id := range ids {
		e.spend(t, e.tenant(t, id).ID, 3+i, float64(10+i))
	}
	globex := e.tenant(t, "globex")
	e.spend(t, globex.ID, 2, 100)
	e.spend(t, globex.ID, 1, 50.5)
	e.spend(t, e.tenant(t, "oscorp").ID, 35, 999) // outside the window: not a top tenant
	total := 150.5
	for i := range ids {
		total += float64(10 + i)
	}

	for _, c := range []struct {
		name   string
		client *http.Client
	}{{"admin", admin}, {"support", support}} {
		r := e.get(t, c.client, "/usage")
		wantCode(t, r, http.StatusOK)
		checkStrictHTML(t, c.name+" usage page", r)
		rows := topRowRE.FindAllStringSubmatch(r.body, -1)
		if len(rows) != 10 {
			t.Fatalf("%s: %d top tenants, want 10", c.name, len(rows))
		}
		wantTop := [][3]string{{"Globex", "150.5", "100"}, {"Soylent", "19", "50 (workspace default)"}, {"Cyberdyne Systems", "18", "50 (workspace default)"}}
		for i, w := range wantTop {
			if rows[i][2] != w[0] || rows[i][3] != w[1] || rows[i][4] != w[2] {
				t.Errorf("%s: top %d = %q %q %q, want %v", c.name, i, rows[i][2], rows[i][3], rows[i][4], w)
			}
		}
		if rows[0][1] != "/tenants/"+globex.ID.String() {
			t.Errorf("%s: Globex links to %q", c.name, rows[0][1])
		}
		if last := rows[9]; last[2] != "Initech" || last[3] != "11" {
			t.Errorf("%s: 10th = %q %q, want Initech 11 (acme, 10, is 11th)", c.name, last[2], last[3])
		}
		wantAbsent(t, c.name, r.body, ">Acme Corp</a>", ">Oscorp</a>")
		// Globex is over its own limit; its bar is the full scale, red.
		if !strings.Contains(rows[0][0], `data-testid="top-over-limit"`) || !strings.Contains(rows[0][0], `width="100" height="10" rx="2" class="fill-red-600"`) {
			t.Errorf("%s: Globex's row: %s", c.name, rows[0][0])
		}
		if strings.Contains(rows[1][0], "top-over-limit") {
			t.Errorf("%s: Soylent is under its limit: %s", c.name, rows[1][0])
		}

		wantContains(t, c.name, r.body, fmt.Sprintf("<strong>%v</strong>", total), "of 400 credits", ">Workspace limit 400</text>",
			fmt.Sprintf("The workspace used %v of 400 credits in the last 30 days.", total))
		if y := limitLineY(r.body); y != "42.8" { // 400 on an axis to 500, 144 high
			t.Errorf("%s: limit line at %q, want 42.8", c.name, y)
		}
		wantAbsent(t, c.name, r.body, `data-testid="workspace-over-limit"`)
		bars := chartBars(t, r.body)
		if len(bars) != 30 {
			t.Fatalf("%s: %d bars, want 30", c.name, len(bars))
		}
		if b := barOn(t, bars, e.dayAgo(t, 2)); b.credits != "100" {
			t.Errorf("%s: the workspace 2 days ago: %+v", c.name, b)
		}
		if b := barOn(t, bars, e.dayAgo(t, 3)); b.credits != "10" {
			t.Errorf("%s: the workspace 3 days ago: %+v", c.name, b)
		}
		if c.name == "support" {
			if found := writeControls(r.body); len(found) > 0 {
				t.Errorf("support: controls that change data: %q", found)
			}
			wantAbsent(t, "support", r.body, "Change limits")
		} else {
			wantContains(t, "admin", r.body, `href="/settings/general#limits"`)
		}
	}

	// Over the workspace limit: the badge, and the bars past it in red.
	e.exec(t, `UPDATE workspaces SET settings = '{"aiCreditsRolling30DayLimit": 200}' WHERE id = $1`, e.ws.ID)
	r = e.get(t, admin, "/usage")
	wantContains(t, "over", r.body, `data-testid="workspace-over-limit"`, "over the limit.")
	if b := barOn(t, chartBars(t, r.body), e.dayAgo(t, 1)); !b.over || b.class != "fill-red-600" {
		t.Errorf("a day ago, past the workspace limit: %+v", b)
	}
	// Globex has its own limit; the others have none now.
	rows := topRowRE.FindAllStringSubmatch(r.body, -1)
	if len(rows) != 10 || rows[1][4] != "Unlimited" {
		t.Errorf("without a default, Soylent's limit = %q", rows[1][4])
	}
}
