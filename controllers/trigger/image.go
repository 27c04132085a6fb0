package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/validation"
)

// imageSource is an image trigger's repository, with the credentials Secret it is read with.
type imageSource struct {
	repository, namespace, secret string

	// The registry client and the Secret version it was built from, kept between looks so that its
	// connection and token are kept; only the poller's goroutine touches them.
	puller        *remote.Puller
	secretVersion string
}

func imageSourceOf(ns string, t *v1alpha1.ImageTrigger, in interest) (source, interest, bool) {
	match, ferr := validation.ImageConstraint(t)
	if ferr != nil {
		return nil, in, false
	}
	in.interval = interval(t.Interval, validation.DefaultImageInterval, validation.MinImageInterval)
	in.newest = match.Newest
	return &imageSource{repository: t.Repository, namespace: ns, secret: t.SecretRef}, in, true
}

func (s *imageSource) key() string {
	return strings.Join([]string{v1alpha1.TriggerImage, s.namespace, s.secret, s.repository}, "\x00")
}

func (s *imageSource) kind() string { return v1alpha1.TriggerImage }

// look lists the repository's tags once and reads the digest of each interest's newest matching tag,
// once per distinct tag (a HEAD).
func (s *imageSource) look(ctx context.Context, ps *Pollers, interests map[string]interest) map[string]Seen {
	pulled, version, err := ps.puller(ctx, s, s.puller, s.secretVersion)
	if err == nil {
		s.puller, s.secretVersion = pulled, version
	}
	seen := lookImage(ctx, s.puller, s.repository, interests, err, ps.clock().Now())
	imageLooks.WithLabelValues(s.repository, lookResult(firstErr(seen))).Inc()
	return seen
}

// puller is the registry client for key: the previous one while the credentials Secret is unchanged, so
// that its connection and token are kept.
func (ps *Pollers) puller(ctx context.Context, key *imageSource, prev *remote.Puller, prevVersion string) (*remote.Puller, string, error) {
	auth := authn.Anonymous
	version := ""
	if key.secret != "" {
		var s corev1.Secret
		if err := ps.Secrets.Get(ctx, types.NamespacedName{Namespace: key.namespace, Name: key.secret}, &s); err != nil {
			return nil, prevVersion, secretError(key.secret, "image.secretRef", err)
		}
		version = s.ResourceVersion
		if prev != nil && version == prevVersion {
			return prev, version, nil
		}
		a, err := dockerAuth(&s, key.repository)
		if err != nil {
			return nil, prevVersion, &Misconfigured{Field: "image.secretRef", Reason: ReasonCredentials, Err: err}
		}
		auth = a
	} else if prev != nil {
		return prev, version, nil
	}
	t := ps.Transport
	if t == nil {
		t = remote.DefaultTransport
	}
	// One quick retry inside a look for a blip; a registry that keeps failing or throttles (429) is left
	// alone until the next look, later each time (run's backoff), rather than asked again within seconds.
	p, err := remote.NewPuller(remote.WithAuth(auth), remote.WithTransport(t), remote.WithUserAgent("gennaker"),
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Second, Factor: 2, Steps: 2}))
	return p, version, err
}

// dockerAuth finds the credentials for repository's registry in a kubernetes.io/dockerconfigjson Secret.
func dockerAuth(s *corev1.Secret, repository string) (authn.Authenticator, error) {
	if s.Type != corev1.SecretTypeDockerConfigJson {
		return nil, fmt.Errorf("Secret %s is not of type %s", s.Name, corev1.SecretTypeDockerConfigJson)
	}
	repo, err := name.NewRepository(repository)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
		return nil, fmt.Errorf("Secret %s: %s is not a Docker config", s.Name, corev1.DockerConfigJsonKey)
	}
	host := repo.RegistryStr()
	for k, a := range cfg.Auths {
		k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
		k, _, _ = strings.Cut(k, "/")
		if k == host || (host == name.DefaultRegistry && k == "index.docker.io") {
			return authn.FromConfig(a), nil
		}
	}
	return nil, fmt.Errorf("Secret %s has no credentials for %s", s.Name, host)
}

// lookImage lists the repository's tags once and reads the digest of each interest's newest matching
// tag, once per distinct tag.
func lookImage(ctx context.Context, p *remote.Puller, repository string, interests map[string]interest, failed error, now time.Time) map[string]Seen {
	if failed != nil {
		return failAll(interests, now, failed)
	}
	repo, err := name.NewRepository(repository)
	if err != nil {
		return failAll(interests, now, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tags, err := p.List(ctx, repo)
	if err != nil {
		return failAll(interests, now, registryError(err))
	}
	out := make(map[string]Seen, len(interests))
	digests := map[string]string{}
	for ik, in := range interests {
		s := Seen{CheckedAt: now, Count: len(tags), Version: in.newest(tags)}
		if s.Version != "" {
			d, ok := digests[s.Version]
			if !ok {
				desc, err := p.Head(ctx, repo.Tag(s.Version))
				if err != nil {
					out[ik] = Seen{CheckedAt: now, Err: fmt.Errorf("reading the digest of %s: %w", s.Version, registryError(err))}
					continue
				}
				d = desc.Digest.String()
				digests[s.Version] = d
			}
			s.Digest = d
		}
		out[ik] = s
	}
	return out
}

// registryError marks a registry's refusal of the credentials (401, 403) as a misconfiguration.
func registryError(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return &Misconfigured{Field: "image.secretRef", Reason: ReasonCredentials, Err: err}
	}
	return err
}

// Throttled says whether the source answered 429 Too Many Requests, or the cloud throttled.
func Throttled(err error) bool {
	var te *transport.Error
	var he *httpStatusError
	return errors.As(err, &te) && te.StatusCode == http.StatusTooManyRequests ||
		errors.As(err, &he) && he.Code == http.StatusTooManyRequests ||
		cloud.ReasonOf(err) == cloud.Throttled
}
