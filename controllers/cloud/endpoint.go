package cloud

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ParseEndpoint parses a URL the operator sends credentials, signed assertions or tokens to (an endpoint
// override, a key's token URI). It must be https, or plain http to a loopback address (a simulator on
// the same machine), so that no secret ever crosses a network in the clear; loopback says it is one. The
// error names field.
func ParseEndpoint(field, raw string) (u *url.URL, loopback bool, err error) {
	u, err = url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, false, fmt.Errorf("%s %q is not an http(s) URL", field, raw)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	loopback = strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback())
	if u.Scheme == "http" && !loopback {
		return nil, false, fmt.Errorf("%s %q: plain http is allowed only to a loopback address", field, raw)
	}
	return u, loopback, nil
}
