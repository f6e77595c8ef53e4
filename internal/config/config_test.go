package config

import (
	"os"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDevelopmentGeneratesKeysOnce(t *testing.T) {
	dir := t.TempDir()
	c1, err := Load(env(map[string]string{"TENANTRY_DATA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c1.Warnings) != 2 || c1.EncryptionKeys == nil || len(c1.SessionKeys) != 2 {
		t.Fatalf("warnings %v, keys %v", c1.Warnings, c1.SessionKeys)
	}
	c2, err := Load(env(map[string]string{"TENANTRY_DATA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if string(c1.SessionKeys[0]) != string(c2.SessionKeys[0]) {
		t.Fatal("development keys were generated again instead of kept")
	}
	// What one start sealed, the next opens.
	ct := c1.EncryptionKeys.Seal([]byte("x"), nil)
	if _, err := c2.EncryptionKeys.Open(ct, nil); err != nil {
		t.Fatal(err)
	}
}

func TestProductionRefusesWithoutKeys(t *testing.T) {
	_, err := Load(env(map[string]string{"TENANTRY_ENV": "production", "TENANTRY_DATA_DIR": t.TempDir()}))
	if err == nil {
		t.Fatal("production started without keys")
	}
	for _, want := range []string{"TENANTRY_SESSION_KEYS", "TENANTRY_ENCRYPTION_KEYS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestRejectsBadValues(t *testing.T) {
	cases := map[string]string{
		"TENANTRY_ENV":                     "staging",
		"TENANTRY_ADDR":                    "nonsense",
		"TENANTRY_BASE_URL":                "ftp://x",
		"DATABASE_URL":                     "mysql://x",
		"TENANTRY_LOG_LEVEL":               "loud",
		"TENANTRY_LOG_FORMAT":              "xml",
		"TENANTRY_SECRET_ROTATION_OVERLAP": "soon",
		"TENANTRY_SESSION_KEYS":            "c2hvcnQ=",
		"TENANTRY_ENCRYPTION_KEYS":         "k1:c2hvcnQ=",
		"TENANTRY_DB_POOLER":               "session",
	}
	for name, val := range cases {
		_, err := Load(env(map[string]string{name: val, "TENANTRY_DATA_DIR": t.TempDir()}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: err %v, want one naming %s", name, val, err, name)
		}
	}
}

func TestDefaultsAndSecureCookies(t *testing.T) {
	c, err := Load(env(map[string]string{"TENANTRY_DATA_DIR": t.TempDir(), "TENANTRY_ADDR": "127.0.0.1:9999"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "http://127.0.0.1:9999" || c.SecureCookies() || c.SecretRotationOverlap.Hours() != 24 || c.DBPooler != "none" {
		t.Fatalf("defaults: %+v", c)
	}
	if c, _ := Load(env(map[string]string{"TENANTRY_DATA_DIR": t.TempDir(), "TENANTRY_DB_POOLER": "transaction"})); c == nil || c.DBPooler != "transaction" {
		t.Fatalf("TENANTRY_DB_POOLER=transaction: %+v", c)
	}
	c, _ = Load(env(map[string]string{"TENANTRY_DATA_DIR": t.TempDir(), "TENANTRY_BASE_URL": "https://t.example/"}))
	if !c.SecureCookies() || c.BaseURL != "https://t.example" {
		t.Fatalf("https base URL: %+v", c)
	}
}

func TestReadReplicaSettings(t *testing.T) {
	c, err := Load(env(map[string]string{"TENANTRY_DATA_DIR": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseReadURL != "" || c.ReadMaxLag.String() != "5s" {
		t.Fatalf("defaults: read URL %q, max lag %s", c.DatabaseReadURL, c.ReadMaxLag)
	}
	c, err = Load(env(map[string]string{"TENANTRY_DATA_DIR": t.TempDir(),
		"DATABASE_READ_URL": "postgres://app@replica:5432/tenantry", "TENANTRY_READ_MAX_LAG": "2500ms"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseReadURL != "postgres://app@replica:5432/tenantry" || c.ReadMaxLag.Milliseconds() != 2500 {
		t.Fatalf("read URL %q, max lag %s", c.DatabaseReadURL, c.ReadMaxLag)
	}
	for _, bad := range []map[string]string{
		{"DATABASE_READ_URL": "mysql://replica/x"},
		{"TENANTRY_READ_MAX_LAG": "5"},
		{"TENANTRY_READ_MAX_LAG": "1s"},
		{"TENANTRY_READ_MAX_LAG": "1m"},
	} {
		bad["TENANTRY_DATA_DIR"] = t.TempDir()
		_, err := Load(env(bad))
		name := "TENANTRY_READ_MAX_LAG"
		if _, ok := bad["DATABASE_READ_URL"]; ok {
			name = "DATABASE_READ_URL"
		}
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v does not name %s", bad, err, name)
		}
	}
}

// The README's configuration table names every variable Tenantry reads.
func TestReadmeListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(b), "| `"+v.Name+"` |") {
			t.Errorf("README.md's configuration table does not list %s", v.Name)
		}
	}
}
