package web

// The Console's Usage page: the workspace's AI credits over the last 30 days against its
// workspace-wide limit, and the tenants that used the most. Every manager reads it; limits are
// changed in Settings → Limits (and a tenant's own on its page).

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/usage"
)

// topTenants is how many tenants the Usage page lists.
const topTenants = 10

// usageDays turns the store's days into the chart's.
func usageDays(days []store.CreditDay) []usage.Day {
	out := make([]usage.Day, len(days))
	for i, d := range days {
		out[i] = usage.Day{Date: d.Day, Credits: d.Credits}
	}
	return out
}

func (s *Server) usagePage(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	var (
		ws   *tenancy.Workspace
		days []store.CreditDay
		top  []store.TenantCredits
		used float64
	)
	// A dashboard: it may be a few seconds behind, so the read replica serves it when there is one.
	err := s.db.InReadScope(r.Context(), sess.Scope(), func(tx *store.Tx) error {
		var err error
		if ws, err = tx.Workspace(r.Context()); err != nil {
			return err
		}
		if days, err = tx.CreditUsageByDay(r.Context(), uuid.Nil); err != nil {
			return err
		}
		if used, err = tx.WorkspaceCreditUsage(r.Context()); err != nil {
			return err
		}
		top, err = tx.TopCreditTenants(r.Context(), topTenants)
		return err
	})
	if err != nil {
		return err
	}
	v := usage.PageView{}
	if canWrite(sess) {
		v.SettingsURL = "/settings/general#limits"
	}
	v.Chart = usage.New(usage.Input{ID: "workspace-usage", Subject: "The workspace", Days: usageDays(days), Used: used,
		Limit: ws.Settings.AICreditsRolling30DayLimit, LimitLabel: "Workspace limit", Today: time.Now().UTC()})
	def := ws.Settings.DefaultTenantAICreditsLimit
	for _, t := range top {
		row := usage.TopTenant{Href: tenantPath(t.TenantID), Name: t.Name, InternalID: t.InternalID, Used: t.Credits, Limit: t.Limit}
		if row.Name == "" {
			row.Name = t.InternalID
		}
		if row.Limit == nil && def != nil {
			row.Limit, row.DefaultLimit = def, true
		}
		v.Top = append(v.Top, row)
	}
	v.Top = usage.ScaleTop(v.Top)
	return s.render(w, r, http.StatusOK, s.page(r, "Usage", "/usage"), usage.Page(v))
}
