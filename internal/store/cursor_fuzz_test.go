package store

// Fuzz targets for what a list request hands the store before any SQL: the opaque cursor and the
// activity filter. In package store (not store_test) to reach the cursor types; no database. Run
// one with
//
//	go test -run '^$' -fuzz '^FuzzParseCursor$' -fuzztime 30s ./internal/store/

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// fuzzCursorRefused checks that err is the one refusal a bad cursor gets.
func fuzzCursorRefused(t *testing.T, s string, err error) {
	t.Helper()
	v, ok := tenancy.AsValidation(err)
	if !ok || len(v.Fields) != 1 || v.Fields[0].Path != "cursor" || v.Fields[0].Message == "" {
		t.Fatalf("cursor %q refused with %v (%T), want one ValidationError on \"cursor\"", s, err, err)
	}
}

// FuzzParseCursor: random strings never panic ParseCursor; "" and "0" mean the first page; what
// it accepts is base64url of JSON; garbage gets a ValidationError on "cursor"; a cursor made by
// MakeCursor parses back to the same value, for each cursor type the lists use.
func FuzzParseCursor(f *testing.F) {
	at := time.Date(2026, 1, 31, 9, 30, 0, 123456789, time.UTC)
	id := uuid.MustParse("0190f3a2-7b1c-7d2e-8f00-123456789abc")
	for _, s := range []string{
		"", "0", "00", " ", "null", "e30", "bnVsbA", "W10", "MQ", "Ig", "eyJ0IjoiIn0", "%", "====", "e30=", "e30.",
		MakeCursor(listCursor{At: at, ID: id}), MakeCursor(tenantCursor{Key: "Acme", ID: id}),
		MakeCursor(activityCursor{At: at, ID: id}), MakeCursor(map[string]any{"t": "yesterday", "i": "x"}),
		MakeCursor(map[string]any{"t": "2026-01-31T09:30:00Z", "i": "not-a-uuid"}),
		MakeCursor(map[string]any{"k": strings.Repeat("x", 1000), "i": id}),
		base64.RawURLEncoding.EncodeToString([]byte(`{"t":"2026-01-31T09:30:00Z","i":"` + id.String() + `","extra":1}`)),
		base64.StdEncoding.EncodeToString([]byte(`{"k":"a/b+c?","i":"` + id.String() + `"}`)),
		base64.RawURLEncoding.EncodeToString([]byte("{\"k\":\"\x00\xff\"}")),
		"' OR 1=1 --", "../../etc/passwd", "\x00", "\xff\xfe",
	} {
		f.Add(s, int64(0), int64(0), []byte(nil), "")
	}
	f.Add("", at.Unix(), int64(at.Nanosecond()), id[:], "Acme")
	f.Add("", int64(-62135596800), int64(0), make([]byte, 16), "")     // year 1
	f.Add("", int64(253402300799), int64(999999999), []byte{0xff}, "") // 9999-12-31T23:59:59.999999999
	f.Add("", int64(1e12), int64(0), []byte("0123456789abcdef"), "é\u2028\"\\")

	f.Fuzz(func(t *testing.T, s string, sec, nsec int64, idBytes []byte, key string) {
		for _, target := range []any{&listCursor{}, &tenantCursor{}, &activityCursor{}, &map[string]any{}} {
			has, err := ParseCursor(s, target)
			switch {
			case s == "" || s == "0":
				if has || err != nil {
					t.Fatalf("%q: has %v, err %v; want the first page", s, has, err)
				}
			case err != nil:
				if has {
					t.Fatalf("%q: has and an error", s)
				}
				fuzzCursorRefused(t, s, err)
			default:
				if !has {
					t.Fatalf("%q: neither a cursor nor an error", s)
				}
				b, derr := base64.RawURLEncoding.DecodeString(s)
				if derr != nil || !json.Valid(b) {
					t.Fatalf("%q accepted but is not base64url of JSON (%v)", s, derr)
				}
			}
		}

		// Round trips, for times a database can hold and JSON can write.
		when := time.Unix(sec, nsec).UTC()
		if y := when.Year(); y < 1 || y > 9999 {
			return
		}
		var cid uuid.UUID
		copy(cid[:], idBytes)
		lc := listCursor{At: when, ID: cid}
		var lback listCursor
		if has, err := ParseCursor(MakeCursor(lc), &lback); err != nil || !has || !lback.At.Equal(lc.At) || lback.ID != lc.ID {
			t.Fatalf("list cursor %+v came back as %+v (has %v, %v)", lc, lback, has, err)
		}
		ac := activityCursor{At: when, ID: cid}
		var aback activityCursor
		if has, err := ParseCursor(MakeCursor(ac), &aback); err != nil || !has || !aback.At.Equal(ac.At) || aback.ID != ac.ID {
			t.Fatalf("activity cursor %+v came back as %+v (has %v, %v)", ac, aback, has, err)
		}
		if utf8.ValidString(key) { // tenant names are text: valid UTF-8
			tc := tenantCursor{Key: key, ID: cid}
			var tback tenantCursor
			c := MakeCursor(tc)
			if c == "" || c == "0" {
				t.Fatalf("MakeCursor(%+v) = %q, which means the first page", tc, c)
			}
			if has, err := ParseCursor(c, &tback); err != nil || !has || tback != tc {
				t.Fatalf("tenant cursor %+v came back as %+v (has %v, %v)", tc, tback, has, err)
			}
		}
	})
}

// FuzzActivityFilterValidate: random filter values never panic Validate, and it refuses exactly
// what its rules say, on the parameter's own name: unknown statuses and actor types, types over
// 100 bytes or with NUL, more than 50 types, searches over 200 bytes or with NUL, from not before
// to, limits outside 0..1000.
func FuzzActivityFilterValidate(f *testing.F) {
	f.Add("success", "manager", "tenant.created", "acme", uint8(1), 50, int64(0), int64(0), false)
	f.Add("error", "tenant-token", "connection.created", "", uint8(0), 0, int64(1e9), int64(2e9), true)
	f.Add("Success", "Manager", strings.Repeat("t", 101), strings.Repeat("s", 201), uint8(51), 1001, int64(2e9), int64(1e9), true)
	f.Add("", "", "", "", uint8(3), -1, int64(5), int64(5), true)
	f.Add("warning", "system", "a\x00b", "nul\x00", uint8(2), 1000, int64(0), int64(1), true)
	f.Add("success,error", "workspace-token", "ü", strings.Repeat("é", 100), uint8(50), 1, int64(0), int64(0), false)
	f.Add("success", "system", "x", strings.Repeat("é", 101), uint8(1), 1, int64(0), int64(0), false)
	f.Add("' OR 1=1 --", "<script>", "{{input}}", "%_\\", uint8(1), 1, int64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, status, actor, typ, text string, ntypes uint8, limit int, from, to int64, window bool) {
		fl := ActivityFilter{Statuses: []string{status}, ActorTypes: []string{actor}, Text: text, Limit: limit}
		for range ntypes {
			fl.Types = append(fl.Types, typ)
		}
		if window {
			a, b := time.Unix(from, 0), time.Unix(to, 0)
			fl.From, fl.To = &a, &b
		}
		err := fl.Validate()
		want := map[string]bool{
			"status": status != "success" && status != "warning" && status != "error",
			"actor":  actor != "manager" && actor != "workspace-token" && actor != "tenant-token" && actor != "system",
			"type":   ntypes > 50 || ntypes > 0 && (len(typ) > 100 || strings.ContainsRune(typ, 0)),
			"search": len(text) > 200 || strings.ContainsRune(text, 0),
			"from":   window && from >= to,
			"limit":  limit < 0 || limit > 1000,
		}
		if err == nil {
			for p, bad := range want {
				if bad {
					t.Fatalf("%+v accepted, want a problem on %q", fl, p)
				}
			}
			return
		}
		v, ok := tenancy.AsValidation(err)
		if !ok {
			t.Fatalf("error %v (%T) is not a ValidationError", err, err)
		}
		for p, bad := range want {
			if bad != (v.For(p) != "") {
				t.Fatalf("%+v: problem on %q is %q, want one: %v (all: %v)", fl, p, v.For(p), bad, v.Fields)
			}
		}
		for _, fe := range v.Fields {
			if _, known := want[fe.Path]; !known {
				t.Fatalf("problem on unknown parameter %q", fe.Path)
			}
		}
	})
}
