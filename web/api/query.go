package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"tenantry/internal/tenancy"
)

// optional is a JSON property that may be absent, null or a value: PATCH needs all three.
type optional[T any] struct {
	Set   bool
	Value *T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

// query reads query parameters leniently, as the SDK's three encoders write them: repeated keys,
// bracketed keys (a[0]=x), comma-joined lists, and booleans as true/false/1/0.
type query struct{ v url.Values }

func newQuery(r *http.Request) query { return query{r.URL.Query()} }

func (q query) str(name string) string { return strings.TrimSpace(q.v.Get(name)) }

// list returns every value of name, from repeated, bracketed and comma-joined forms.
func (q query) list(name string) []string {
	var out []string
	for k, vs := range q.v {
		if k != name && k != name+"[]" && !(strings.HasPrefix(k, name+"[") && strings.HasSuffix(k, "]")) {
			continue
		}
		for _, v := range vs {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func (q query) boolean(name string) (*bool, error) {
	s := strings.ToLower(q.str(name))
	switch s {
	case "":
		return nil, nil
	case "true", "1":
		t := true
		return &t, nil
	case "false", "0":
		f := false
		return &f, nil
	}
	return nil, badQuery(name, "must be true, false, 1 or 0")
}

// limit reads limit with a default and a range.
func (q query) limit(def, max int) (int, error) {
	s := q.str("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, badQuery("limit", fmt.Sprintf("must be a whole number from 1 to %d", max))
	}
	return n, nil
}

func badQuery(name, msg string) error {
	e := apiError(http.StatusBadRequest, "invalid_query", name+": "+msg)
	e.Fields = []tenancy.FieldError{{Path: name, Message: msg}}
	return e
}
