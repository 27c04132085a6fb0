package stages

// The deploy stage's decisions, kept free of the API server: from one cluster's recorded progress, what its
// groups look like now, and the time, decide returns what to change and what the cluster waits for. The
// stage (deploy.go) observes, calls decide, and applies the actions it returns.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// Red/black defaults, for a DeployTarget without redBlack or with some of its fields left out.
const (
	defaultMaxRemainingServerGroups = 2
	defaultDelayBeforeScaleDown     = 5 * time.Minute
)

// deployConfig is one cluster's deploy spec as the decisions need it, with the defaults applied.
type deployConfig struct {
	Strategy v1alpha1.Strategy
	// MaxRemaining groups of the cluster are kept, the new one included (red/black).
	MaxRemaining         int
	DelayBeforeDisable   time.Duration
	ScaleDown            bool
	DelayBeforeScaleDown time.Duration
	// Rollback puts the cluster back as it was when the deploy fails or is canceled (red/black only).
	Rollback bool
}

// newDeployConfig resolves a target's strategy and red/black options. path is the target's field
// (deploy.clusters[0]) for messages; msg says what is wrong, if anything.
func newDeployConfig(t *v1alpha1.DeployTarget, path string) (cfg deployConfig, msg string) {
	cfg = deployConfig{
		Strategy:             t.Strategy,
		MaxRemaining:         defaultMaxRemainingServerGroups,
		ScaleDown:            true,
		DelayBeforeScaleDown: defaultDelayBeforeScaleDown,
		Rollback:             true,
	}
	switch cfg.Strategy {
	case "":
		cfg.Strategy = v1alpha1.StrategyRedBlack
	case v1alpha1.StrategyRedBlack, v1alpha1.StrategyHighlander, v1alpha1.StrategyNone:
	default:
		return cfg, fmt.Sprintf("%s.strategy: %q is not RedBlack, Highlander or None", path, t.Strategy)
	}
	if cfg.Strategy != v1alpha1.StrategyRedBlack {
		cfg.Rollback = false
	}
	rb := t.RedBlack
	if rb == nil {
		return cfg, ""
	}
	if rb.MaxRemainingServerGroups > 0 {
		cfg.MaxRemaining = int(rb.MaxRemainingServerGroups)
	}
	if rb.ScaleDown != nil {
		cfg.ScaleDown = *rb.ScaleDown
	}
	if rb.RollbackOnFailure != nil {
		cfg.Rollback = *rb.RollbackOnFailure && cfg.Strategy == v1alpha1.StrategyRedBlack
	}
	var err error
	if rb.DelayBeforeDisable != "" {
		if cfg.DelayBeforeDisable, err = rb.DelayBeforeDisable.Duration(); err != nil {
			return cfg, fmt.Sprintf("%s.redBlack.delayBeforeDisable: %v", path, err)
		}
	}
	if rb.DelayBeforeScaleDown != "" {
		if cfg.DelayBeforeScaleDown, err = rb.DelayBeforeScaleDown.Duration(); err != nil {
			return cfg, fmt.Sprintf("%s.redBlack.delayBeforeScaleDown: %v", path, err)
		}
	}
	return cfg, ""
}

// clusterProgress is what a deploy stage remembers of one of its clusters between reconciles; the stage
// keeps the list, one per deploy.clusters entry, in its output "progress". Every step is decided from it
// and from what the cluster's groups look like now. Whatever a later step acts on (the groups to disable,
// to destroy) is recorded one Check before it is touched, and the times delays count from are recorded
// when first seen, so a Check repeated after a crash or a lost status write does what was due again and no
// more, and a restart neither waits a delay again nor skips it.
type clusterProgress struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Cluster string `json:"cluster"`
	// ServerGroup is the group this stage made.
	ServerGroup string `json:"serverGroup"`
	// PreviousServerGroup was the cluster's newest group before, "" when there was none.
	PreviousServerGroup string `json:"previousServerGroup"`
	// Healthy is the new group's healthy instances, as last seen.
	Healthy int32 `json:"healthy"`

	// EnabledAt is when the new group was first seen healthy and taking traffic; delayBeforeDisable
	// counts from it.
	EnabledAt *metav1.Time `json:"enabledAt,omitempty"`
	// DisablePlanned is set, with Disable, once the older groups to disable are chosen.
	DisablePlanned bool `json:"disablePlanned,omitempty"`
	// Disable are the older groups that took traffic when the new one did: the ones this stage disables,
	// scales down, and puts back on a rollback.
	Disable []string `json:"disable,omitempty"`
	// DisabledAt is when all of Disable were first seen out of traffic; delayBeforeScaleDown counts from it.
	DisabledAt *metav1.Time `json:"disabledAt,omitempty"`
	// ScaleDownPlanned is set before Disable are scaled down; from then on a rollback restores their
	// capacity from AnnotationScaledDownFrom.
	ScaleDownPlanned bool `json:"scaleDownPlanned,omitempty"`
	// ScaledDownAt is when all of Disable were first seen at zero instances.
	ScaledDownAt *metav1.Time `json:"scaledDownAt,omitempty"`
	// DestroyPlanned is set, with Destroy, once the groups to destroy are chosen.
	DestroyPlanned bool `json:"destroyPlanned,omitempty"`
	// Destroy are the groups this stage destroys: beyond maxRemainingServerGroups (red/black), or every
	// older one (highlander).
	Destroy []string `json:"destroy,omitempty"`
	// DoneAt is when the cluster's deploy finished.
	DoneAt *metav1.Time `json:"doneAt,omitempty"`
	// Failure says why the cluster's deploy failed.
	Failure string `json:"failure,omitempty"`
	// RolledBack says the rollback was applied (on failure or cancel).
	RolledBack bool `json:"rolledBack,omitempty"`
}

// clusterView is what a Check saw of a cluster: the new group (nil once it is gone) and the others,
// deleting ones included.
type clusterView struct {
	New    *v1alpha1.ServerGroup
	Others []v1alpha1.ServerGroup
}

// find returns the group of that name, or nil.
func (v clusterView) find(name string) *v1alpha1.ServerGroup {
	if v.New != nil && v.New.Name == name {
		return v.New
	}
	for i := range v.Others {
		if v.Others[i].Name == name {
			return &v.Others[i]
		}
	}
	return nil
}

type actionKind string

// What a deploy does to a group.
const (
	actionEnable    actionKind = "enable"
	actionDisable   actionKind = "disable"
	actionScaleDown actionKind = "scaleDown" // record Capacity in AnnotationScaledDownFrom, then min 0, desired 0
	actionRestore   actionKind = "restore"   // traffic Enabled, and Capacity (when set) without the annotation
	actionDestroy   actionKind = "destroy"
)

// action is one change of one group's desired state.
type action struct {
	Kind  actionKind
	Group string
	// Capacity is, for scaleDown, the capacity scaled down from, and for restore, the capacity to
	// restore (nil: traffic only).
	Capacity *v1alpha1.Capacity
}

// String says what the action does, for messages.
func (a action) String() string {
	switch a.Kind {
	case actionEnable:
		return "enabled " + a.Group
	case actionDisable:
		return "disabled " + a.Group
	case actionScaleDown:
		return "scaled down " + a.Group
	case actionRestore:
		if a.Capacity != nil {
			return fmt.Sprintf("enabled %s at desired %d", a.Group, a.Capacity.Desired)
		}
		return "enabled " + a.Group
	}
	return "destroyed " + a.Group
}

// decision is what decide says about a cluster.
type decision struct {
	// Actions to apply now.
	Actions []action
	// Message says what the cluster is doing or waiting for.
	Message string
	// Next is when to look again; zero once the cluster is done or failed.
	Next time.Time
	// Done: the cluster's deploy succeeded.
	Done bool
	// Failure: the cluster's deploy failed, and why.
	Failure string
}

// decide advances one cluster's deploy: from the progress recorded so far, the cluster as seen now and
// the time, it records newly reached progress in p and returns what to change and what is awaited.
//
// Red/black: the new group (made with traffic Disabled) becomes healthy, is enabled, takes traffic;
// after delayBeforeDisable, the older groups that took traffic are disabled; after delayBeforeScaleDown
// (with scaleDown) they are scaled to zero; then the oldest groups beyond maxRemainingServerGroups, new
// one counted, are destroyed (never one in use by traffic). Highlander: the new group (made Enabled) takes
// traffic, then every older group is destroyed. None: the new group (made Enabled) becomes healthy.
//
// Any group the cluster waits on whose Ready condition says a person must act fails the cluster, as does
// the new group's disappearance.
func decide(cfg deployConfig, p *clusterProgress, v clusterView, now time.Time) decision {
	if p.Failure != "" {
		return decision{Failure: p.Failure}
	}
	n := v.New
	if p.DoneAt != nil {
		if n == nil {
			return decision{Done: true, Message: p.ServerGroup + " deployed"}
		}
		p.Healthy = n.Status.Instances.Healthy
		return decision{Done: true, Message: doneText(n, p)}
	}
	if n == nil || deleting(n) {
		return failed(p, fmt.Sprintf("%s was deleted before the deploy finished", p.ServerGroup))
	}
	p.Healthy = n.Status.Instances.Healthy
	if msg := needsPerson(n); msg != "" {
		return failed(p, msg)
	}
	switch cfg.Strategy {
	case v1alpha1.StrategyHighlander:
		return decideHighlander(p, v, now)
	case v1alpha1.StrategyNone:
		return decideNone(p, v, now)
	}
	return decideRedBlack(cfg, p, v, now)
}

func failed(p *clusterProgress, msg string) decision {
	p.Failure = msg
	return decision{Failure: msg}
}

func poll(now time.Time, msg string, actions ...action) decision {
	return decision{Actions: actions, Message: msg, Next: now.Add(serverGroupPoll)}
}

// soon asks for the next Check at once: progress was just recorded, and is acted on once it is written.
func soon(now time.Time, msg string) decision {
	return decision{Message: msg, Next: now}
}

func decideRedBlack(cfg deployConfig, p *clusterProgress, v clusterView, now time.Time) decision {
	n := v.New
	if p.EnabledAt == nil {
		if n.Spec.Traffic == v1alpha1.TrafficDisabled {
			if !healthy(n) {
				return poll(now, healthText(n))
			}
			return poll(now, fmt.Sprintf("%s: enabling traffic, %d/%d healthy", n.Name, n.Status.Instances.Healthy, n.Spec.Capacity.Desired),
				action{Kind: actionEnable, Group: n.Name})
		}
		if !takingTraffic(n) {
			return poll(now, awaitingTraffic(n))
		}
		p.EnabledAt = ptrTime(now)
	}
	if end := p.EnabledAt.Add(cfg.DelayBeforeDisable); now.Before(end) {
		return decision{Message: fmt.Sprintf("%s takes traffic; disabling the older server groups at %s", n.Name, clock(end)), Next: end}
	}

	if !p.DisablePlanned {
		p.DisablePlanned = true
		p.Disable = nil
		for _, g := range oldestFirst(live(v.Others)) {
			if g.Spec.Traffic != v1alpha1.TrafficDisabled {
				p.Disable = append(p.Disable, g.Name)
			}
		}
		if len(p.Disable) > 0 {
			return soon(now, "disabling "+strings.Join(p.Disable, ", "))
		}
	}
	var actions []action
	var pending []string
	if p.DisabledAt == nil {
		for _, name := range p.Disable {
			g := v.find(name)
			if g == nil || deleting(g) {
				continue // gone: takes no traffic
			}
			if msg := needsPerson(g); msg != "" {
				return failed(p, msg)
			}
			if g.Spec.Traffic != v1alpha1.TrafficDisabled {
				actions = append(actions, action{Kind: actionDisable, Group: name})
				pending = append(pending, name)
			} else if !outOfTraffic(g) {
				pending = append(pending, name)
			}
		}
		if len(pending) > 0 {
			return poll(now, "disabling "+strings.Join(pending, ", "), actions...)
		}
		p.DisabledAt = ptrTime(now)
	}

	if cfg.ScaleDown && len(p.Disable) > 0 && p.ScaledDownAt == nil {
		if end := p.DisabledAt.Add(cfg.DelayBeforeScaleDown); now.Before(end) {
			return decision{Message: fmt.Sprintf("%s takes traffic; scaling down %s at %s", n.Name, strings.Join(p.Disable, ", "), clock(end)), Next: end}
		}
		if !p.ScaleDownPlanned {
			p.ScaleDownPlanned = true
			return soon(now, "scaling down "+strings.Join(p.Disable, ", "))
		}
		for _, name := range p.Disable {
			g := v.find(name)
			if g == nil || deleting(g) {
				continue
			}
			if msg := needsPerson(g); msg != "" {
				return failed(p, msg)
			}
			if c := g.Spec.Capacity; c.Min != 0 || c.Desired != 0 {
				actions = append(actions, action{Kind: actionScaleDown, Group: name, Capacity: &c})
				pending = append(pending, name)
			} else if !fresh(g) || g.Status.Instances.Desired != 0 {
				pending = append(pending, name)
			}
		}
		if len(pending) > 0 {
			return poll(now, "scaling down "+strings.Join(pending, ", "), actions...)
		}
		p.ScaledDownAt = ptrTime(now)
	}

	return destroyThenDone(p, v, now, func() []string { return beyond(v.Others, cfg.MaxRemaining) })
}

func decideHighlander(p *clusterProgress, v clusterView, now time.Time) decision {
	n := v.New
	if p.EnabledAt == nil {
		if n.Spec.Traffic == v1alpha1.TrafficDisabled {
			// Made Enabled; only someone else disables it.
			return poll(now, awaitingTraffic(n), action{Kind: actionEnable, Group: n.Name})
		}
		if !takingTraffic(n) {
			return poll(now, awaitingTraffic(n))
		}
		p.EnabledAt = ptrTime(now)
	}
	return destroyThenDone(p, v, now, func() []string {
		var all []string
		for _, g := range oldestFirst(live(v.Others)) {
			all = append(all, g.Name)
		}
		return all
	})
}

func decideNone(p *clusterProgress, v clusterView, now time.Time) decision {
	n := v.New
	if n.Spec.Traffic == v1alpha1.TrafficDisabled {
		return poll(now, healthText(n), action{Kind: actionEnable, Group: n.Name})
	}
	if !healthy(n) {
		return poll(now, healthText(n))
	}
	p.DoneAt = ptrTime(now)
	return decision{Done: true, Message: doneText(n, p)}
}

// destroyThenDone is a cluster's last step: it records the groups plan chooses to destroy (once, so the
// choice holds across Checks), destroys them, and finishes the cluster once they are gone.
func destroyThenDone(p *clusterProgress, v clusterView, now time.Time, plan func() []string) decision {
	if !p.DestroyPlanned {
		p.DestroyPlanned = true
		p.Destroy = plan()
		if len(p.Destroy) > 0 {
			return soon(now, "destroying "+strings.Join(p.Destroy, ", "))
		}
	}
	if d, ok := destroying(p, v, now); !ok {
		return d
	}
	p.DoneAt = ptrTime(now)
	return decision{Done: true, Message: doneText(v.New, p)}
}

// destroying deletes the groups of p.Destroy that are still there, and says whether they are all gone.
func destroying(p *clusterProgress, v clusterView, now time.Time) (decision, bool) {
	var actions []action
	var pending []string
	for _, name := range p.Destroy {
		g := v.find(name)
		if g == nil {
			continue
		}
		if msg := needsPerson(g); msg != "" {
			return failed(p, msg), false
		}
		if !deleting(g) {
			actions = append(actions, action{Kind: actionDestroy, Group: name})
		}
		pending = append(pending, name)
	}
	if len(pending) > 0 {
		return poll(now, "destroying "+strings.Join(pending, ", "), actions...), false
	}
	return decision{}, true
}

// beyond returns the groups to destroy so that the cluster keeps max groups, the new one counted: the
// oldest, oldest first, but never one in use by traffic. others are the cluster's groups but the new one.
func beyond(others []v1alpha1.ServerGroup, max int) []string {
	kept := 1 // the new group
	var out []string
	for _, g := range newestFirst(live(others)) {
		if kept < max {
			kept++
			continue
		}
		if !inUse(g) {
			out = append(out, g.Name)
		}
	}
	slices.Reverse(out)
	return out
}

// rollback returns what puts a red/black cluster back as it was, when its deploy fails or is canceled:
// the groups the stage disabled take traffic again, at the capacity they were scaled down from if the
// stage scaled them down, and the new group is disabled. Nothing for the other strategies, or without
// rollbackOnFailure: their new group stays as it is. The actions are the same however often it is called,
// less those already done.
func rollback(cfg deployConfig, p *clusterProgress, v clusterView) []action {
	if cfg.Strategy != v1alpha1.StrategyRedBlack || !cfg.Rollback {
		return nil
	}
	var out []action
	for _, name := range p.Disable {
		g := v.find(name)
		if g == nil || deleting(g) {
			continue
		}
		a := action{Kind: actionRestore, Group: name}
		if c, ok := scaledDownFrom(g); ok && p.ScaleDownPlanned && g.Spec.Capacity.Min == 0 && g.Spec.Capacity.Desired == 0 {
			a.Capacity = c
		}
		if a.Capacity == nil && g.Spec.Traffic != v1alpha1.TrafficDisabled {
			continue
		}
		out = append(out, a)
	}
	if n := v.New; n != nil && !deleting(n) && n.Spec.Traffic != v1alpha1.TrafficDisabled {
		out = append(out, action{Kind: actionDisable, Group: n.Name})
	}
	return out
}

// oldestFirst returns the groups sorted from the oldest to the newest.
func oldestFirst(groups []v1alpha1.ServerGroup) []*v1alpha1.ServerGroup {
	out := newestFirst(groups)
	slices.Reverse(out)
	return out
}

func awaitingTraffic(g *v1alpha1.ServerGroup) string {
	return fmt.Sprintf("%s: waiting to take traffic, %d/%d healthy%s", g.Name, g.Status.Instances.Healthy, g.Spec.Capacity.Desired, readyNote(g))
}

func doneText(n *v1alpha1.ServerGroup, p *clusterProgress) string {
	msg := fmt.Sprintf("%s deployed, %d/%d healthy", n.Name, n.Status.Instances.Healthy, n.Spec.Capacity.Desired)
	if len(p.Disable) > 0 {
		msg += "; disabled " + strings.Join(p.Disable, ", ")
		if p.ScaledDownAt != nil {
			msg += " and scaled it down"
			if len(p.Disable) > 1 {
				msg = strings.TrimSuffix(msg, "it down") + "them down"
			}
		}
	}
	if len(p.Destroy) > 0 {
		msg += "; destroyed " + strings.Join(p.Destroy, ", ")
	}
	return msg
}

func clock(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ptrTime is t as status records it: to the second, as it reads back after a write.
func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t).Rfc3339Copy()
	return &mt
}
