package tenancy

import (
	"regexp"
)

// Redacted replaces a secret value in activity details.
const Redacted = "[redacted]"

// secretKey matches the names of values that must never reach the activity log: credentials,
// tokens, passwords, keys, authorization headers, cookies.
var secretKey = regexp.MustCompile(`(?i)(secret|password|passwd|token|api[-_]?key|credential|authorization|cookie|private[-_]?key|client[-_]?secret|signature|session)`)

// RedactSecrets returns a copy of v in which every value under a secret-looking key is replaced
// by Redacted, at any depth (objects in arrays included). The activity recorder applies it to
// every entry's details, so a caller that forgets cannot leak a credential into the log.
func RedactSecrets(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if secretKey.MatchString(k) && val != nil {
				// Lists of key names (credentialKeys) say which keys are set, never their values.
				if names, ok := val.([]string); ok && k == "credentialKeys" {
					out[k] = names
					continue
				}
				out[k] = Redacted
				continue
			}
			out[k] = RedactSecrets(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = RedactSecrets(val)
		}
		return out
	}
	return v
}
