package aws

import (
	"net/url"
	"strconv"
	"strings"
)

// Request parameters arrive form-encoded. AWS Query lists are
// Name.member.1, Name.member.2, ...; EC2 Query lists are Name.1, Name.2, ...
// The SDK numbers items contiguously from 1 and sends an empty "Name=" for an
// empty Query list, which both helpers read as no items.

// memberList reads an AWS Query list of scalars.
func memberList(f url.Values, name string) []string {
	return indexedList(f, name+".member")
}

// indexedList reads an EC2 Query list of scalars (or, with a ".member" prefix,
// an AWS Query one).
func indexedList(f url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		vs, ok := f[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, vs[0])
	}
}

// structList returns the prefixes ("Tags.member.1", ...) of a list of
// structures, for reading their fields with f.Get(prefix + ".Field").
func structList(f url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		p := prefix + "." + strconv.Itoa(i)
		found := false
		for k := range f {
			if strings.HasPrefix(k, p+".") {
				found = true
				break
			}
		}
		if !found {
			return out
		}
		out = append(out, p)
	}
}

// optInt32 reads an optional integer parameter.
func optInt32(f url.Values, name string) (v int32, present bool, err error) {
	s, ok := f[name]
	if !ok || s[0] == "" {
		return 0, false, nil
	}
	n, perr := strconv.ParseInt(s[0], 10, 32)
	if perr != nil {
		return 0, true, validation("Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", s[0], lowerFirst(name))
	}
	return int32(n), true, nil
}

// boolParam reads a boolean parameter; anything but "true" is false.
func boolParam(f url.Values, name string) bool {
	return strings.EqualFold(f.Get(name), "true")
}

// requireParam returns the named parameter or the ValidationError AWS sends
// when a required member is missing.
func requireParam(f url.Values, name string) (string, error) {
	v := f.Get(name)
	if v == "" {
		return "", validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(name))
	}
	return v, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
