package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 10 << 20

// Error is the body of every error response, in the shape Membrane's SDK turns into its error
// classes: type decides the class, key the kind, message is for people; fields name bad paths.
type Error struct {
	Status  int                  `json:"-"`
	Type    string               `json:"type"`
	Key     string               `json:"key,omitempty"`
	Message string               `json:"message"`
	Fields  []tenancy.FieldError `json:"fields,omitempty"`
	Data    map[string]any       `json:"data,omitempty"`
}

func (e *Error) Error() string { return e.Message }

func apiError(status int, key, message string) *Error {
	typ := "bad_request"
	if status >= 500 {
		typ = "internal"
	}
	return &Error{Status: status, Type: typ, Key: key, Message: message}
}

// toError maps any error to its API form: the one table of statuses and keys.
func toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	// The client went away mid-request (its context was cancelled): nobody reads the answer and it
	// is not a server fault, so it is not logged as one (nginx's 499).
	if errors.Is(err, context.Canceled) {
		return &Error{Status: 499, Type: "bad_request", Key: "client_closed_request", Message: "the client closed the request"}
	}
	if v, ok := tenancy.AsValidation(err); ok {
		e := apiError(http.StatusUnprocessableEntity, "validation_error", v.Error())
		if v.Conflict {
			e = apiError(http.StatusConflict, "already_exists", v.Error())
		}
		e.Fields = v.Fields
		return e
	}
	switch {
	case errors.Is(err, tenancy.ErrUnauthenticated):
		return apiError(http.StatusUnauthorized, "not_authenticated", err.Error())
	case errors.Is(err, tenancy.ErrNotFound):
		return apiError(http.StatusNotFound, "not_found", "not found")
	case errors.Is(err, tenancy.ErrForbidden):
		return apiError(http.StatusForbidden, "access_denied", "this token may not do that")
	case errors.Is(err, tenancy.ErrConflict):
		return apiError(http.StatusConflict, "already_exists", err.Error())
	case errors.Is(err, tenancy.ErrRateLimited):
		return apiError(http.StatusTooManyRequests, "rate_limit_exceeded", err.Error())
	case errors.Is(err, tenancy.ErrInvalidSelection):
		return apiError(http.StatusBadRequest, "invalid_selection", err.Error())
	case store.Unavailable(err):
		return apiError(http.StatusServiceUnavailable, "service_unavailable", "the database is unavailable; retry shortly")
	}
	return apiError(http.StatusInternalServerError, "", "internal error; it has been logged")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON object body into dst. An empty body is an empty object whatever its
// content type (the SDK sends empty POSTs as x-www-form-urlencoded). Unknown fields, trailing
// data, invalid UTF-8 and non-JSON content types are refused with a 4xx that says what to fix.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apiError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
		}
		return apiError(http.StatusBadRequest, "bad_body", "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	} else if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return apiError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
		}
	}
	if !utf8.Valid(body) {
		return apiError(http.StatusBadRequest, "malformed_json", "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return apiError(http.StatusBadRequest, "malformed_json", "request body has data after the JSON value")
	}
	return nil
}

func jsonProblem(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return apiError(http.StatusBadRequest, "malformed_json", fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se))
	case errors.As(err, &te):
		path := te.Field
		if path == "" {
			e := apiError(http.StatusBadRequest, "malformed_json", "request body must be a JSON object")
			return e
		}
		e := apiError(http.StatusUnprocessableEntity, "validation_error", fmt.Sprintf("%s: must be %s, not %s", path, jsonType(te.Type.String()), te.Value))
		e.Fields = []tenancy.FieldError{{Path: path, Message: fmt.Sprintf("must be %s", jsonType(te.Type.String()))}}
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e := apiError(http.StatusUnprocessableEntity, "validation_error", fmt.Sprintf("unknown field %q", f))
		e.Fields = []tenancy.FieldError{{Path: f, Message: "is not a known field"}}
		return e
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return apiError(http.StatusBadRequest, "malformed_json", "request body is truncated JSON")
	}
	return apiError(http.StatusBadRequest, "malformed_json", "malformed JSON: "+err.Error())
}

func jsonType(goType string) string {
	switch {
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "float"), strings.Contains(goType, "int"), strings.Contains(goType, "Number"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	case strings.HasPrefix(goType, "map"), strings.HasPrefix(goType, "struct"), strings.Contains(goType, "."):
		return "an object"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return goType
}
