package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// escaping says how a template's values are made safe for the text they are inserted into.
type escaping int

const (
	escapeNone escaping = iota
	escapeJSON
	escapeURL
)

// EscapeJSON makes a template render a JSON document that its values cannot break out of. A value inside a
// JSON string literal of the template ("text": "deployed ${ parameters.image }") is inserted as that
// string's content, escaped: quotes, backslashes and control characters cannot end the string. A value
// anywhere else ("count": ${ stages.x.outputs.n }) is inserted as one JSON value: a number, bool, list or
// map as JSON, null as null, and a string (parameters are strings) quoted.
func EscapeJSON() Option { return func(o *options) { o.escape = escapeJSON } }

// EscapeURL makes a template render a URL whose structure its values cannot change. Where a value lands is
// read from what was rendered before it: in the path it is path-escaped (a / in the value is %2F, one
// segment, and a value . or .. is %2E or %2E%2E, never a step up), in the query or fragment query-escaped
// (& = ? # and spaces are escaped). A value that starts the template (a base URL from a parameter, a
// Location header to poll) is inserted as is, since choosing the endpoint is what such a value is for.
// Anywhere else before the path (a tenant's name in the host, a port) the template's author chose the
// endpoint, so a value that could move it elsewhere is refused rather than escaped, which no host
// understands: one with / ? # @ \ % or whitespace, or a colon, except as a port of digits after the
// template's own colon.
func EscapeURL() Option { return func(o *options) { o.escape = escapeURL } }

// insert renders val for a template whose text so far is prefix.
func (e escaping) insert(prefix string, val ref.Val) (string, error) {
	switch e {
	case escapeJSON:
		if inJSONString(prefix) {
			s, err := jsonText(val)
			if err != nil {
				return "", err
			}
			q, err := jsonString(s)
			return q[1 : len(q)-1], err
		}
		return jsonValue(val)
	case escapeURL:
		s, err := toString(val)
		if err != nil {
			return "", err
		}
		switch urlPart(prefix) {
		case urlPath:
			return pathSegment(prefix, s), nil
		case urlQuery:
			return url.QueryEscape(s), nil
		}
		if prefix == "" {
			return s, nil
		}
		return s, inAuthority(prefix, s)
	}
	return toString(val)
}

// jsonText is the text a value stands for inside a JSON string: as Render gives it, with a list or map as
// JSON whose & < > are left as they are (they are escaped once, as string content).
func jsonText(val ref.Val) (string, error) {
	switch val.(type) {
	case traits.Lister, traits.Mapper:
		return listOrMapJSON(val, false)
	}
	return toString(val)
}

// inJSONString says whether JSON text ends inside a string literal.
func inJSONString(text string) bool {
	in := false
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\\':
			if in {
				i++ // the escaped character, which may be a quote
			}
		case '"':
			in = !in
		}
	}
	return in
}

// jsonString quotes s as a JSON string. HTML characters are left as they are: the body is JSON, not a
// web page, and "\u0026" where a receiver's log shows & helps nobody.
func jsonString(s string) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// jsonValue renders val as one JSON value.
func jsonValue(val ref.Val) (string, error) {
	switch v := val.(type) {
	case types.Null:
		return "null", nil
	case types.Bool, types.Int, types.Uint:
		return toString(val)
	case types.Double:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("%v has no JSON form", f)
		}
		out, err := json.Marshal(f)
		return string(out), err
	case traits.Lister, traits.Mapper:
		return listOrMapJSON(val, false)
	}
	s, err := toString(val) // a string, a timestamp, a duration
	if err != nil {
		return "", err
	}
	return jsonString(s)
}

// urlComponent is the part of a URL that a position in it belongs to.
type urlComponent int

const (
	urlSchemeOrHost urlComponent = iota
	urlPath
	urlQuery // the fragment is escaped as a query is
)

// urlPart says which part of a URL, absolute or relative, the text after prefix belongs to.
func urlPart(prefix string) urlComponent {
	if strings.ContainsAny(prefix, "?#") {
		return urlQuery
	}
	rest := prefix
	if i := strings.Index(prefix, "://"); i >= 0 {
		rest = prefix[i+len("://"):]
	} else if strings.HasPrefix(prefix, "//") {
		rest = prefix[len("//"):]
	} else if strings.HasPrefix(prefix, "/") {
		return urlPath // a path-absolute reference, as a status URL may be
	}
	if strings.Contains(rest, "/") {
		return urlPath
	}
	return urlSchemeOrHost
}

// pathSegment path-escapes a value inserted after prefix. A value . or .. that starts a segment would take
// the path a step up or stay where it is once a server or a relative reference resolves it: its dots are
// escaped too.
func pathSegment(prefix, s string) string {
	if (s == "." || s == "..") && strings.HasSuffix(prefix, "/") {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}

// inAuthority refuses a value inserted after prefix, before the path, that could change which endpoint the
// URL names: move the host into userinfo (@), end the authority (/ ? # \), smuggle an escape (%), or add a
// port the template did not ask for.
func inAuthority(prefix, s string) error {
	if strings.HasSuffix(prefix, ":") && s != "" && strings.Trim(s, "0123456789") == "" {
		return nil // a port
	}
	for _, r := range s {
		if strings.ContainsRune("/?#@\\%:", r) || unicode.IsSpace(r) {
			return fmt.Errorf("a value inserted into a URL's scheme, host or port may not contain %q", r)
		}
	}
	return nil
}
