package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/validation"
)

// MaxImageBackoff bounds the wait after failed looks at a repository (errors and 429s double it from the
// interval).
const MaxImageBackoff = 10 * time.Minute

// Seen is what the last look at an image trigger's repository found.
type Seen struct {
	// CheckedAt is when the look ended.
	CheckedAt time.Time
	// Tag is the newest tag matching the trigger's constraint, "" if none does; Digest is its digest.
	Tag, Digest string
	// Tags is how many tags the repository has.
	Tags int
	// Err is why the look failed; the fields above are then empty.
	Err error
}

// Images polls the repositories of every image trigger: one poller per repository and credentials Secret,
// shared by all the Pipelines and triggers that watch it, at the shortest interval they ask for. Each look
// lists the tags once, then reads the digest of each trigger's newest matching tag once (a HEAD); the
// registry connection and its token are kept between looks. After a look it wakes the Pipelines, whose
// reconciler starts the runs: the poller writes nothing.
//
// Images is a manager Runnable, run by the leader only. Its memory is only a cache of the registries: what
// a trigger last started a run for is in the Pipeline's status, so a restarted manager resumes from there.
type Images struct {
	// Cache finds the Pipelines (a poller drops those gone or changed); Secrets reads the
	// kubernetes.io/dockerconfigjson Secrets past the cache, which keeps no Secret data.
	Cache   client.Reader
	Secrets client.Reader
	// Transport reaches the registries; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Clock times the looks; nil means the real clock.
	Clock clock.WithTicker
	// Events, if set, receives each Pipeline to reconcile after a look.
	Events chan<- event.GenericEvent

	mu      sync.Mutex
	ctx     context.Context // set by Start; pollers run under it
	pollers map[pollKey]*poller
}

// pollKey is what a poller is shared by: the repository and the credentials it is read with.
type pollKey struct {
	repository, namespace, secret string
}

// interest is one image trigger watching a poller's repository.
type interest struct {
	pipeline types.NamespacedName
	index    int
	interval time.Duration
	match    *validation.Constraint
}

type poller struct {
	key       pollKey
	interests map[string]interest // by pipeline/index
	seen      map[string]Seen     // by pipeline/index
	wake      chan struct{}       // a new interest wants a look now
	running   bool
}

func interestKey(pl types.NamespacedName, index int) string { return fmt.Sprintf("%s/%d", pl, index) }

// Watch records the image triggers of pl (replacing what it watched before) and returns, by trigger
// index, what the last look at each one's repository found; a trigger not yet looked at is missing.
func (im *Images) Watch(pl *v1alpha1.Pipeline) map[int]Seen {
	plKey := types.NamespacedName{Namespace: pl.Namespace, Name: pl.Name}
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.pollers == nil {
		im.pollers = map[pollKey]*poller{}
	}
	wanted := map[string]bool{}
	out := map[int]Seen{}
	for i, t := range pl.Spec.Triggers {
		if t.Image == nil {
			continue
		}
		match, ferr := validation.ImageConstraint(t.Image)
		if ferr != nil {
			continue // validation reports it
		}
		interval := validation.DefaultImageInterval
		if d, err := t.Image.Interval.Duration(); err == nil && t.Image.Interval != "" {
			interval = max(d, validation.MinImageInterval)
		}
		key := pollKey{repository: t.Image.Repository, namespace: pl.Namespace, secret: t.Image.SecretRef}
		p := im.pollers[key]
		if p == nil {
			p = &poller{key: key, interests: map[string]interest{}, seen: map[string]Seen{}, wake: make(chan struct{}, 1)}
			im.pollers[key] = p
		}
		ik := interestKey(plKey, i)
		wanted[key.repository+"\x00"+key.secret+"\x00"+ik] = true
		if _, known := p.interests[ik]; !known {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
		p.interests[ik] = interest{pipeline: plKey, index: i, interval: interval, match: match}
		if s, ok := p.seen[ik]; ok {
			out[i] = s
		}
		im.startLocked(p)
	}
	// Triggers pl no longer has (or moved to another repository) stop being looked for.
	for key, p := range im.pollers {
		if key.namespace != pl.Namespace {
			continue
		}
		for ik, in := range p.interests {
			if in.pipeline == plKey && !wanted[key.repository+"\x00"+key.secret+"\x00"+ik] {
				delete(p.interests, ik)
				delete(p.seen, ik)
			}
		}
	}
	return out
}

// Start runs the pollers until ctx ends.
func (im *Images) Start(ctx context.Context) error {
	im.mu.Lock()
	im.ctx = ctx
	if im.pollers == nil {
		im.pollers = map[pollKey]*poller{}
	}
	for _, p := range im.pollers {
		im.startLocked(p)
	}
	im.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (im *Images) startLocked(p *poller) {
	if im.ctx == nil || p.running || len(p.interests) == 0 {
		return
	}
	p.running = true
	go im.run(im.ctx, p)
}

func (im *Images) clock() clock.WithTicker {
	if im.Clock == nil {
		return clock.RealClock{}
	}
	return im.Clock
}

// run looks at p's repository until nothing watches it any more.
func (im *Images) run(ctx context.Context, p *poller) {
	logger := log.FromContext(ctx).WithValues("repository", p.key.repository, "namespace", p.key.namespace)
	var puller *remote.Puller
	var secretVersion string
	failures := 0
	for {
		interests := im.liveInterests(ctx, p)
		if interests == nil {
			return
		}
		var err error
		var pulled *remote.Puller
		pulled, secretVersion, err = im.puller(ctx, p.key, puller, secretVersion)
		if err == nil {
			puller = pulled
		}
		seen := look(ctx, puller, p.key.repository, interests, err, im.clock().Now())
		im.mu.Lock()
		wake := map[types.NamespacedName]bool{}
		for ik, s := range seen {
			if _, still := p.interests[ik]; still {
				p.seen[ik] = s
				wake[p.interests[ik].pipeline] = true
			}
		}
		im.mu.Unlock()
		for pl := range wake {
			if im.Events == nil {
				break
			}
			select {
			case im.Events <- event.GenericEvent{Object: &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: pl.Namespace, Name: pl.Name}}}:
			case <-ctx.Done():
				return
			}
		}

		wait := shortest(interests)
		failed := firstErr(seen)
		imageLooks.WithLabelValues(p.key.repository, lookResult(failed)).Inc()
		if failed != nil {
			failures++
			wait = min(wait<<min(failures, 10), MaxImageBackoff)
			logger.Info("could not read the repository; backing off", "error", failed.Error(), "retryIn", wait, "throttled", Throttled(failed))
		} else {
			failures = 0
		}
		timer := im.clock().NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		case <-p.wake:
			timer.Stop()
		}
	}
}

// liveInterests are p's interests whose Pipeline still exists, nil when none is left (and p is then
// removed: a later Watch makes a new one).
func (im *Images) liveInterests(ctx context.Context, p *poller) map[string]interest {
	im.mu.Lock()
	candidates := make(map[string]interest, len(p.interests))
	for k, v := range p.interests {
		candidates[k] = v
	}
	im.mu.Unlock()
	// A Pipeline deleted, or whose trigger no longer watches this repository with these credentials, is
	// dropped here: its reconciler is not called again to say so.
	var dropped []string
	for ik, in := range candidates {
		var pl v1alpha1.Pipeline
		err := im.Cache.Get(ctx, in.pipeline, &pl)
		if apierrors.IsNotFound(err) || err == nil && !watches(&pl, in.index, p.key) {
			dropped = append(dropped, ik)
		}
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	// Only those looked at: an interest a Watch added meanwhile stays.
	for _, ik := range dropped {
		delete(p.interests, ik)
		delete(p.seen, ik)
	}
	candidates = make(map[string]interest, len(p.interests))
	for k, v := range p.interests {
		candidates[k] = v
	}
	if len(p.interests) == 0 {
		p.running = false
		delete(im.pollers, p.key)
		return nil
	}
	return candidates
}

func watches(pl *v1alpha1.Pipeline, index int, key pollKey) bool {
	if index >= len(pl.Spec.Triggers) {
		return false
	}
	t := pl.Spec.Triggers[index].Image
	return t != nil && t.Repository == key.repository && t.SecretRef == key.secret
}

// puller is the registry client for key: the previous one while the credentials Secret is unchanged, so
// that its connection and token are kept.
func (im *Images) puller(ctx context.Context, key pollKey, prev *remote.Puller, prevVersion string) (*remote.Puller, string, error) {
	auth := authn.Anonymous
	version := ""
	if key.secret != "" {
		var s corev1.Secret
		if err := im.Secrets.Get(ctx, types.NamespacedName{Namespace: key.namespace, Name: key.secret}, &s); err != nil {
			return nil, prevVersion, fmt.Errorf("reading Secret %s: %w", key.secret, err)
		}
		version = s.ResourceVersion
		if prev != nil && version == prevVersion {
			return prev, version, nil
		}
		a, err := dockerAuth(&s, key.repository)
		if err != nil {
			return nil, prevVersion, err
		}
		auth = a
	} else if prev != nil {
		return prev, version, nil
	}
	t := im.Transport
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

// look lists the repository's tags once and reads the digest of each interest's newest matching tag,
// once per distinct tag.
func look(ctx context.Context, p *remote.Puller, repository string, interests map[string]interest, failed error, now time.Time) map[string]Seen {
	out := make(map[string]Seen, len(interests))
	fail := func(err error) map[string]Seen {
		for ik := range interests {
			out[ik] = Seen{CheckedAt: now, Err: err}
		}
		return out
	}
	if failed != nil {
		return fail(failed)
	}
	repo, err := name.NewRepository(repository)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tags, err := p.List(ctx, repo)
	if err != nil {
		return fail(err)
	}
	digests := map[string]string{}
	for ik, in := range interests {
		s := Seen{CheckedAt: now, Tags: len(tags), Tag: in.match.Newest(tags)}
		if s.Tag != "" {
			d, ok := digests[s.Tag]
			if !ok {
				desc, err := p.Head(ctx, repo.Tag(s.Tag))
				if err != nil {
					s = Seen{CheckedAt: now, Err: fmt.Errorf("reading the digest of %s: %w", s.Tag, err)}
					out[ik] = s
					continue
				}
				d = desc.Digest.String()
				digests[s.Tag] = d
			}
			s.Digest = d
		}
		out[ik] = s
	}
	return out
}

func shortest(interests map[string]interest) time.Duration {
	var d time.Duration
	for _, in := range interests {
		if d == 0 || in.interval < d {
			d = in.interval
		}
	}
	return d
}

func firstErr(seen map[string]Seen) error {
	for _, s := range seen {
		if s.Err != nil {
			return s.Err
		}
	}
	return nil
}

func lookResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case Throttled(err):
		return "throttled"
	}
	return "error"
}

// Throttled says whether the registry answered 429 Too Many Requests.
func Throttled(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusTooManyRequests
}
