package stages

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// NewWebhookClient returns the HTTP client webhook stages should be given: http.DefaultTransport's
// settings, with a dialer that refuses link-local addresses and the cloud metadata services. The operator
// runs with a cloud identity (workload identity, IRSA) that the metadata service hands out to whoever asks
// from its pod; a pipeline author could otherwise point a webhook at http://169.254.169.254/... and read
// the operator's credentials back from the stage's outputs. Loopback and private addresses stay allowed:
// in-cluster services are what webhooks often call. An HTTP proxy from the environment is dialed instead
// of the remote, so behind one the check applies to the proxy only.
func NewWebhookClient() *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t = t.Clone()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: refuseMetadata}
	t.DialContext = d.DialContext
	return &http.Client{Transport: t}
}

// awsIPv6Metadata is the EC2 instance metadata service's IPv6 address, which is not link-local.
var awsIPv6Metadata = netip.MustParseAddr("fd00:ec2::254")

// refuseMetadata runs after name resolution, on the address about to be connected to, so a name that
// resolves to the metadata service (metadata.google.internal, or a rebinding trick) is refused too.
func refuseMetadata(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	ip = ip.Unmap()
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip == awsIPv6Metadata {
		return fmt.Errorf("%s is a link-local or cloud metadata address, which webhooks may not call", host)
	}
	return nil
}
