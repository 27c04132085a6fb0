package trigger

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/validation"
)

// MaxMavenMetadata bounds a maven-metadata.xml: the file lists every version ever published, a few KiB for
// most Jars and some hundred KiB for the busiest; more than this is refused rather than read.
const MaxMavenMetadata = 4 << 20

// mavenSource is one Jar (groupId:artifactId) of a Maven repository, with the credentials Secret it is read
// with.
type mavenSource struct {
	repository, groupID, artifactID, namespace, secret string

	// Kept between looks by the poller's goroutine: the last metadata's versions with its ETag, so that
	// an unchanged file answers 304 with no body (If-Modified-Since is not sent: its one-second grain
	// would hide a version published in the second of the last look); the sha256 of the versions seen
	// newest.
	etag     string
	versions []string
	digests  map[string]string
}

// mavenMetadata is the part of maven-metadata.xml a trigger reads.
type mavenMetadata struct {
	XMLName    xml.Name `xml:"metadata"`
	Versioning struct {
		Versions []string `xml:"versions>version"`
	} `xml:"versioning"`
}

func mavenSourceOf(ns string, t *v1alpha1.MavenTrigger, in interest) (source, interest, bool) {
	match, err := MavenVersions(t.Versions)
	if err != nil {
		return nil, in, false
	}
	in.interval = interval(t.Interval, validation.DefaultImageInterval, validation.MinImageInterval)
	in.newest = match
	return &mavenSource{repository: strings.TrimRight(t.Repository, "/"), groupID: t.GroupID, artifactID: t.ArtifactID,
		namespace: ns, secret: t.SecretRef}, in, true
}

// MavenVersions compiles a maven trigger's version range into the function that picks the newest
// matching version: the greatest by semver order, snapshots never, nor versions that are not semver
// (1.2 and 1.2.3 are; 1.2.3.Final is not). An empty range matches every release.
func MavenVersions(versions string) (func([]string) string, error) {
	var c *semver.Constraints
	if versions != "" {
		var err error
		if c, err = semver.NewConstraint(versions); err != nil {
			return nil, err
		}
	}
	return func(vs []string) string {
		var best string
		var bestVer *semver.Version
		for _, v := range vs {
			if strings.HasSuffix(strings.ToUpper(v), "-SNAPSHOT") {
				continue
			}
			ver, err := semver.NewVersion(v)
			if err != nil || c != nil && !c.Check(ver) || c == nil && ver.Prerelease() != "" {
				continue
			}
			if bestVer == nil || ver.GreaterThan(bestVer) {
				best, bestVer = v, ver
			}
		}
		return best
	}, nil
}

func (s *mavenSource) key() string {
	return strings.Join([]string{v1alpha1.TriggerMaven, s.namespace, s.secret, s.repository, s.groupID, s.artifactID}, "\x00")
}

func (s *mavenSource) kind() string { return v1alpha1.TriggerMaven }

// dir is the Jar's directory in the repository: <repository>/<groupId as a path>/<artifactId>.
func (s *mavenSource) dir() string {
	return s.repository + "/" + strings.ReplaceAll(s.groupID, ".", "/") + "/" + s.artifactID
}

// JarURL is the URL of a version's Jar.
func (s *mavenSource) JarURL(version string) string {
	return fmt.Sprintf("%s/%s/%s-%s.jar", s.dir(), version, s.artifactID, version)
}

// look reads maven-metadata.xml once (a conditional GET where the repository sends an ETag), and the
// sha256 of each interest's newest version once, the first time that version is the newest.
func (s *mavenSource) look(ctx context.Context, ps *Pollers, interests map[string]interest) map[string]Seen {
	now := ps.clock().Now()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	user, password, err := s.credentials(ctx, ps)
	if err != nil {
		return failAll(interests, now, err)
	}
	hc := &http.Client{Transport: ps.transport()}
	if err := s.readMetadata(ctx, hc, user, password); err != nil {
		return failAll(interests, now, err)
	}
	out := make(map[string]Seen, len(interests))
	digests := map[string]string{}
	for ik, in := range interests {
		seen := Seen{CheckedAt: now, Count: len(s.versions), Version: in.newest(s.versions)}
		if seen.Version != "" {
			seen.Reference = s.JarURL(seen.Version)
			d, ok := s.digests[seen.Version]
			if !ok {
				if d, err = s.readDigest(ctx, hc, user, password, seen.Reference); err != nil {
					out[ik] = Seen{CheckedAt: now, Err: err}
					continue
				}
			}
			seen.Digest = d
			digests[seen.Version] = d
		}
		out[ik] = seen
	}
	// Only the versions newest now are kept: the map stays as small as the triggers sharing the source.
	s.digests = digests
	return out
}

// credentials are the username and password of the trigger's Secret, read past the cache; empty without
// one.
func (s *mavenSource) credentials(ctx context.Context, ps *Pollers) (user, password string, err error) {
	if s.secret == "" {
		return "", "", nil
	}
	var sec corev1.Secret
	if err := ps.Secrets.Get(ctx, types.NamespacedName{Namespace: s.namespace, Name: s.secret}, &sec); err != nil {
		return "", "", secretError(s.secret, "maven.secretRef", err)
	}
	user, password = string(sec.Data["username"]), string(sec.Data["password"])
	if user == "" || password == "" {
		return "", "", &Misconfigured{Field: "maven.secretRef", Reason: ReasonCredentials,
			Err: fmt.Errorf("Secret %s must have the keys username and password", s.secret)}
	}
	return user, password, nil
}

// get GETs url with basic authentication if set, and returns the answer unless it is an error status.
func (s *mavenSource) get(ctx context.Context, hc *http.Client, url, user, password string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "gennaker")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotModified {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	herr := &httpStatusError{URL: url, Code: resp.StatusCode}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		why := "the repository refuses anonymous reads: set maven.secretRef"
		if user != "" {
			why = fmt.Sprintf("the repository refuses the credentials of Secret %s", s.secret)
		}
		return nil, &Misconfigured{Field: "maven.secretRef", Reason: ReasonCredentials, Err: fmt.Errorf("%s (%w)", why, herr)}
	}
	return nil, herr
}

// readMetadata reads maven-metadata.xml into s.versions, unless it is unchanged since the last look.
func (s *mavenSource) readMetadata(ctx context.Context, hc *http.Client, user, password string) error {
	url := s.dir() + "/maven-metadata.xml"
	header := http.Header{}
	if s.versions != nil && s.etag != "" {
		header.Set("If-None-Match", s.etag)
	}
	resp, err := s.get(ctx, hc, url, user, password, header)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && s.versions != nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxMavenMetadata+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > MaxMavenMetadata {
		return fmt.Errorf("GET %s: the file is more than %d bytes", url, MaxMavenMetadata)
	}
	var md mavenMetadata
	if err := xml.NewDecoder(bytes.NewReader(body)).Decode(&md); err != nil {
		return fmt.Errorf("GET %s: not a maven-metadata.xml: %w", url, err)
	}
	s.versions = md.Versioning.Versions
	if s.versions == nil {
		s.versions = []string{}
	}
	s.etag = resp.Header.Get("ETag")
	return nil
}

// readDigest reads <jar>.sha256: "sha256:<hex>", or "" when the repository publishes none (404).
func (s *mavenSource) readDigest(ctx context.Context, hc *http.Client, user, password, jar string) (string, error) {
	resp, err := s.get(ctx, hc, jar+".sha256", user, password, nil)
	if he, ok := err.(*httpStatusError); ok && he.Code == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil {
		return "", fmt.Errorf("GET %s.sha256: %w", jar, err)
	}
	// The file is the hex digest, sometimes followed by the file's name (sha256sum's format).
	fields := strings.Fields(string(body))
	if len(fields) == 0 {
		return "", fmt.Errorf("GET %s.sha256: empty", jar)
	}
	if raw, err := hex.DecodeString(fields[0]); err != nil || len(raw) != 32 {
		return "", fmt.Errorf("GET %s.sha256: not a sha256 digest", jar)
	}
	return "sha256:" + strings.ToLower(fields[0]), nil
}
