package trigger

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// MaxBackoff bounds the wait after failed looks at a source (errors and 429s double it from the interval).
const MaxBackoff = 10 * time.Minute

// MaxImageBackoff is MaxBackoff, by its name from when only image triggers polled.
const MaxImageBackoff = MaxBackoff

// Seen is what the last look at a polled trigger's source found.
type Seen struct {
	// CheckedAt is when the look ended.
	CheckedAt time.Time
	// Version is the newest version matching the trigger, "" if none does: an image's tag, a Jar's
	// version, a machine image's name.
	Version string
	// Reference identifies that version where the version alone does not: the Jar's URL, the machine
	// image's ID; empty for an image, whose reference is built from the tag and digest.
	Reference string
	// Digest is the content's digest, where the source has one (an image's, a Jar's sha256).
	Digest string
	// Count is how many candidates the source has: tags, versions, images.
	Count int
	// Err is why the look failed; the fields above are then empty.
	Err error
}

// Misconfigured is a look's error that only a change of spec, Secret or CloudAccount can fix (credentials
// refused, an account that does not allow the namespace, a filter the cloud cannot apply), as opposed to
// a network error or a throttling registry, which a later look may not meet. The Pipeline is then not
// Ready. Field names the trigger's field at fault, such as machineImage.account.
type Misconfigured struct {
	Field  string
	Reason string // a condition reason
	Err    error
}

func (m *Misconfigured) Error() string { return m.Err.Error() }
func (m *Misconfigured) Unwrap() error { return m.Err }

// AsMisconfigured returns err's Misconfigured, if it is one.
func AsMisconfigured(err error) (*Misconfigured, bool) {
	var m *Misconfigured
	return m, errors.As(err, &m)
}

// CloudClients builds the cloud client of a CloudAccount: cloud.Clients, shared with the ServerGroup
// reconciler so that both use one connection and credential cache per account.
type CloudClients interface {
	For(ctx context.Context, account *v1alpha1.CloudAccount) (cloud.Client, error)
}

// Pollers polls the sources of every polled trigger (image, maven, machineImage): one poller per distinct
// source (a repository, a Jar, a cloud query, each with the credentials it is read with), shared by all the
// Pipelines and triggers that watch it, at the shortest interval they ask for, backing off on errors and
// 429s. A look reads the source once for all of them. After a look it wakes the Pipelines, whose reconciler
// starts the runs: the pollers write nothing.
//
// Pollers is a manager Runnable, run by the leader only. Its memory is only a cache of the sources: what a
// trigger last started a run for is in the Pipeline's status, and a run's name comes from the artifact's
// identity, so a restarted manager resumes from there without a duplicate.
type Pollers struct {
	// Cache finds the Pipelines (a poller drops those gone or changed) and the CloudAccounts; Secrets reads
	// credentials Secrets past the cache, which keeps no Secret data.
	Cache   client.Reader
	Secrets client.Reader
	// Transport reaches the registries and Maven repositories; nil means http.DefaultTransport (the manager
	// passes the webhook stages' egress-guarded one).
	Transport http.RoundTripper
	// Clouds, if set, reads machine images; without it machineImage triggers report that they cannot.
	Clouds CloudClients
	// Clock times the looks; nil means the real clock.
	Clock clock.WithTicker
	// Events, if set, receives each Pipeline to reconcile after a look.
	Events chan<- event.GenericEvent

	mu      sync.Mutex
	ctx     context.Context // set by Start; pollers run under it
	pollers map[string]*poller
}

// Images is Pollers, by its name from when only image triggers polled.
type Images = Pollers

// source is one thing the pollers read. Its key says which triggers share it: two triggers whose sources
// have the same key are served by one look. A source keeps what is worth keeping between looks (a
// registry client and its token, the last metadata and its ETag).
type source interface {
	key() string
	// kind is the trigger type, for logs and metrics.
	kind() string
	// look reads the source once and says what each interest sees.
	look(ctx context.Context, p *Pollers, interests map[string]interest) map[string]Seen
}

// interest is one trigger watching a poller's source.
type interest struct {
	pipeline types.NamespacedName
	index    int
	name     string
	interval time.Duration
	// newest picks, among a source's versions, the newest this trigger matches ("" if none); nil for
	// sources that filter for the trigger themselves (a cloud query).
	newest func(versions []string) string
}

type poller struct {
	src       source
	interests map[string]interest // by pipeline/index
	seen      map[string]Seen     // by pipeline/index
	wake      chan struct{}       // a new interest wants a look now
	running   bool
}

func interestKey(pl types.NamespacedName, index int) string { return fmt.Sprintf("%s/%d", pl, index) }

// sourceOf is the source trigger index of pl polls, and its interest; ok is false for a trigger that is not
// polled, or whose spec does not compile (validation reports it).
func sourceOf(pl *v1alpha1.Pipeline, index int) (src source, in interest, ok bool) {
	if index >= len(pl.Spec.Triggers) {
		return nil, interest{}, false
	}
	t := &pl.Spec.Triggers[index]
	in = interest{pipeline: types.NamespacedName{Namespace: pl.Namespace, Name: pl.Name}, index: index, name: t.Name}
	switch {
	case t.Image != nil:
		src, in, ok = imageSourceOf(pl.Namespace, t.Image, in)
	case t.Maven != nil:
		src, in, ok = mavenSourceOf(pl.Namespace, t.Maven, in)
	case t.MachineImage != nil:
		src, in, ok = machineImageSourceOf(pl.Namespace, t.MachineImage, in)
	}
	return src, in, ok
}

// Watch records the polled triggers of pl (replacing what it watched before) and returns, by trigger
// index, what the last look at each one's source found; a trigger not yet looked at is missing.
func (ps *Pollers) Watch(pl *v1alpha1.Pipeline) map[int]Seen {
	plKey := types.NamespacedName{Namespace: pl.Namespace, Name: pl.Name}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.pollers == nil {
		ps.pollers = map[string]*poller{}
	}
	wanted := map[string]bool{}
	out := map[int]Seen{}
	for i := range pl.Spec.Triggers {
		src, in, ok := sourceOf(pl, i)
		if !ok {
			continue
		}
		key := src.key()
		p := ps.pollers[key]
		if p == nil {
			p = &poller{src: src, interests: map[string]interest{}, seen: map[string]Seen{}, wake: make(chan struct{}, 1)}
			ps.pollers[key] = p
		}
		ik := interestKey(plKey, i)
		wanted[key+"\x00"+ik] = true
		if _, known := p.interests[ik]; !known {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
		p.interests[ik] = in
		if s, ok := p.seen[ik]; ok {
			out[i] = s
		}
		ps.startLocked(p)
	}
	// Triggers pl no longer has (or moved to another source) stop being looked for.
	for key, p := range ps.pollers {
		for ik, in := range p.interests {
			if in.pipeline == plKey && !wanted[key+"\x00"+ik] {
				delete(p.interests, ik)
				delete(p.seen, ik)
			}
		}
	}
	return out
}

// Start runs the pollers until ctx ends.
func (ps *Pollers) Start(ctx context.Context) error {
	ps.mu.Lock()
	ps.ctx = ctx
	if ps.pollers == nil {
		ps.pollers = map[string]*poller{}
	}
	for _, p := range ps.pollers {
		ps.startLocked(p)
	}
	ps.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (ps *Pollers) startLocked(p *poller) {
	if ps.ctx == nil || p.running || len(p.interests) == 0 {
		return
	}
	p.running = true
	go ps.run(ps.ctx, p)
}

func (ps *Pollers) clock() clock.WithTicker {
	if ps.Clock == nil {
		return clock.RealClock{}
	}
	return ps.Clock
}

func (ps *Pollers) transport() http.RoundTripper {
	if ps.Transport == nil {
		return http.DefaultTransport
	}
	return ps.Transport
}

// run looks at p's source until nothing watches it any more.
func (ps *Pollers) run(ctx context.Context, p *poller) {
	logger := log.FromContext(ctx).WithValues("source", p.src.key(), "type", p.src.kind())
	failures := 0
	for {
		interests := ps.liveInterests(ctx, p)
		if interests == nil {
			return
		}
		seen := p.src.look(ctx, ps, interests)
		ps.mu.Lock()
		wake := map[types.NamespacedName]bool{}
		for ik, s := range seen {
			if _, still := p.interests[ik]; still {
				p.seen[ik] = s
				wake[p.interests[ik].pipeline] = true
			}
		}
		ps.mu.Unlock()
		for ik, s := range seen {
			in := interests[ik]
			looks.WithLabelValues(in.pipeline.Namespace, in.pipeline.Name, in.name, p.src.kind(), lookResult(s.Err)).Inc()
		}
		for pl := range wake {
			if ps.Events == nil {
				break
			}
			select {
			case ps.Events <- event.GenericEvent{Object: &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: pl.Namespace, Name: pl.Name}}}:
			case <-ctx.Done():
				return
			}
		}

		wait := shortest(interests)
		if failed := firstErr(seen); failed != nil {
			failures++
			wait = min(wait<<min(failures, 10), MaxBackoff)
			logger.Info("could not read the source; backing off", "error", failed.Error(), "retryIn", wait, "throttled", Throttled(failed))
		} else {
			failures = 0
		}
		timer := ps.clock().NewTimer(wait)
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

// liveInterests are p's interests whose Pipeline still exists and still watches p's source, nil when none
// is left (and p is then removed: a later Watch makes a new one).
func (ps *Pollers) liveInterests(ctx context.Context, p *poller) map[string]interest {
	ps.mu.Lock()
	candidates := make(map[string]interest, len(p.interests))
	for k, v := range p.interests {
		candidates[k] = v
	}
	ps.mu.Unlock()
	// A Pipeline deleted, or whose trigger no longer watches this source, is dropped here: its reconciler
	// is not called again to say so.
	var dropped []string
	for ik, in := range candidates {
		var pl v1alpha1.Pipeline
		err := ps.Cache.Get(ctx, in.pipeline, &pl)
		if apierrors.IsNotFound(err) {
			dropped = append(dropped, ik)
			continue
		}
		if err == nil {
			if src, _, ok := sourceOf(&pl, in.index); !ok || src.key() != p.src.key() {
				dropped = append(dropped, ik)
			}
		}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	// Only those looked at: an interest a Watch added meanwhile stays.
	for _, ik := range dropped {
		delete(p.interests, ik)
		delete(p.seen, ik)
	}
	if len(p.interests) == 0 {
		p.running = false
		delete(ps.pollers, p.src.key())
		return nil
	}
	candidates = make(map[string]interest, len(p.interests))
	for k, v := range p.interests {
		candidates[k] = v
	}
	return candidates
}

// failAll is what every interest sees when the look failed before reading anything.
func failAll(interests map[string]interest, now time.Time, err error) map[string]Seen {
	out := make(map[string]Seen, len(interests))
	for ik := range interests {
		out[ik] = Seen{CheckedAt: now, Err: err}
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

// httpStatusError is a source's answer that was not 200 (or 304).
type httpStatusError struct {
	URL  string
	Code int
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// interval is a trigger's interval: def when unset, at least least.
func interval(d v1alpha1.Duration, def, least time.Duration) time.Duration {
	if v, err := d.Duration(); err == nil && d != "" {
		return max(v, least)
	}
	return def
}

// Reasons of the Pipeline's Ready=False when a polled trigger is misconfigured.
const (
	// ReasonCredentials: the source refused the trigger's credentials, or its Secret is missing or unusable.
	ReasonCredentials = "TriggerCredentials"
)

// secretError is a credentials Secret that cannot be read: missing is a misconfiguration of field, any
// other error the API server's and passes.
func secretError(name, field string, err error) error {
	if apierrors.IsNotFound(err) {
		return &Misconfigured{Field: field, Reason: ReasonCredentials, Err: fmt.Errorf("Secret %s not found", name)}
	}
	return fmt.Errorf("reading Secret %s: %w", name, err)
}
