package stages

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// NewWebhookClient returns the HTTP client webhook stages should be given: http.DefaultTransport's
// settings, with a dialer that refuses link-local addresses and the cloud metadata services. The operator
// runs with a cloud identity (workload identity, IRSA) that the metadata service hands out to whoever asks
// from its pod; a pipeline author could otherwise point a webhook at http://169.254.169.254/... and read
// the operator's credentials back from the stage's outputs. Loopback and private addresses stay allowed:
// in-cluster services are what webhooks often call.
//
// The proxy environment variables (HTTPS_PROXY and the like) are ignored: with one set, the address
// dialed would be the proxy's, and the check above would never see the remote's. A proxy is used only when
// proxy is not nil (the manager's --webhook-proxy), for every call; that proxy must then enforce its own
// egress rules, since the operator only checks the address of the proxy itself.
func NewWebhookClient(proxy *url.URL) *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t = &http.Transport{}
	}
	t = t.Clone()
	t.Proxy = nil
	if proxy != nil {
		t.Proxy = http.ProxyURL(proxy)
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: refuseMetadata}
	t.DialContext = d.DialContext
	// Answers wait in Calls' shared byte budget with their headers: a remote's headers must not push out
	// other runs' answers.
	t.MaxResponseHeaderBytes = maxResponseHeaderBytes
	return &http.Client{Transport: t}
}

// maxResponseHeaderBytes bounds a webhook response's headers.
const maxResponseHeaderBytes = 64 << 10

// metadataAddresses are the cloud metadata services that are not link-local.
var metadataAddresses = []netip.Addr{
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("168.63.129.16"),   // Azure's wireserver and its IMDS proxy
	netip.MustParseAddr("fd20:ce::254"),    // GCP, over IPv6
}

// awsIPv6Metadata holds the EC2 instance metadata service's IPv6 address, fd00:ec2::254.
var awsIPv6Metadata = netip.MustParsePrefix("fd00:ec2::/64")

// embedding are the IPv6 prefixes whose addresses carry an IPv4 address that the network delivers to:
// NAT64 (the well-known and the local-use prefix, the IPv4 address in the last 32 bits), 6to4 (bits 16 to
// 48) and the deprecated IPv4-compatible form (the last 32 bits). IPv4-mapped addresses are unmapped
// before any of this.
var embedding = []struct {
	prefix netip.Prefix
	at     int // byte offset of the IPv4 address
}{
	{netip.MustParsePrefix("64:ff9b::/96"), 12},
	{netip.MustParsePrefix("64:ff9b:1::/48"), 12},
	{netip.MustParsePrefix("2002::/16"), 2},
	{netip.MustParsePrefix("::/96"), 12},
}

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
	if forbidden(ip) {
		return fmt.Errorf("%s is a link-local or cloud metadata address, which the operator does not call", host)
	}
	return nil
}

// forbidden says whether ip is link-local or a metadata service, itself or embedded in an IPv6 address.
func forbidden(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		for _, e := range embedding {
			if e.prefix.Contains(ip) && !ip.IsUnspecified() && !ip.IsLoopback() {
				b := ip.As16()
				if forbidden(netip.AddrFrom4([4]byte(b[e.at : e.at+4]))) {
					return true
				}
			}
		}
	}
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || awsIPv6Metadata.Contains(ip) {
		return true
	}
	for _, m := range metadataAddresses {
		if ip == m {
			return true
		}
	}
	return false
}
