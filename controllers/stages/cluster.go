package stages

// Shared by the deploy and server-group stage types: Frigga names, clusters and their order, what a
// ServerGroup's status says, and the patches the stages make.
//
// A cluster is the ServerGroups of one namespace that carry the label LabelCluster=app-stack-detail and
// have the same spec.account and spec.region. Its groups are named app-stack-detail-vNNN (Frigga).
//
// Stages never trust a group's status unless status.observedGeneration is the group's metadata.generation
// (and a condition's own observedGeneration, when it has one): right after a patch the status still
// describes the spec before it.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// serverGroupPoll is how often a stage that waits on server groups looks at them again by itself. It is
// woken sooner by the groups' status changes (the Execution controller maps a group to the run named in
// its AnnotationExecution); the poll covers groups another run annotated last. A variable so tests can
// shrink it. (Not "pollInterval": the webhook stage has a function of that name.)
var serverGroupPoll = 5 * time.Second

// sequences is how many Frigga sequence numbers there are: v000 to v999.
const sequences = 1000

// serverGroupName is the Frigga name of a cluster's group with a sequence number: app-stack-detail-v003.
func serverGroupName(cluster string, seq int) string {
	return fmt.Sprintf("%s-v%03d", cluster, seq)
}

// parseServerGroupName splits a Frigga server group name into its cluster and sequence number; ok is false
// when the name does not end in -v and three digits.
func parseServerGroupName(name string) (cluster string, seq int, ok bool) {
	i := strings.LastIndex(name, "-v")
	if i <= 0 {
		return "", 0, false
	}
	digits := name[i+2:]
	if len(digits) != 3 || strings.Trim(digits, "0123456789") != "" {
		return "", 0, false
	}
	n, _ := strconv.Atoi(digits)
	return name[:i], n, true
}

// sequenceOf is the sequence number of a group of the cluster, or -1 when its name is not
// cluster-vNNN.
func sequenceOf(cluster, name string) int {
	c, n, ok := parseServerGroupName(name)
	if !ok || c != cluster {
		return -1
	}
	return n
}

// nextSequence is the sequence number of the next group of a cluster: the highest of its groups plus one,
// wrapping from 999 to 000, skipping numbers whose name is taken (by any group of the namespace: object
// names are unique per namespace, while a cluster is one account and region). groups are the cluster's
// groups, deleting ones included.
func nextSequence(cluster string, groups []v1alpha1.ServerGroup, taken map[string]bool) (int, error) {
	highest := -1
	for i := range groups {
		highest = max(highest, sequenceOf(cluster, groups[i].Name))
	}
	first := (highest + 1) % sequences
	for i := range sequences {
		n := (first + i) % sequences
		if !taken[serverGroupName(cluster, n)] {
			return n, nil
		}
	}
	return 0, fmt.Errorf("every name from %s to %s is taken", serverGroupName(cluster, 0), serverGroupName(cluster, sequences-1))
}

// newerThan says whether a was made after b: the later creationTimestamp, then (within a second) the later
// sequence number, counted around the wrap from 999 to 000, then the greater name.
func newerThan(a, b *v1alpha1.ServerGroup) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	_, sa, oka := parseServerGroupName(a.Name)
	_, sb, okb := parseServerGroupName(b.Name)
	if oka && okb && sa != sb {
		d := ((sa-sb)%sequences + sequences) % sequences
		return d < sequences/2
	}
	return a.Name > b.Name
}

// newestFirst returns the groups sorted from the newest to the oldest.
func newestFirst(groups []v1alpha1.ServerGroup) []*v1alpha1.ServerGroup {
	out := make([]*v1alpha1.ServerGroup, len(groups))
	for i := range groups {
		out[i] = &groups[i]
	}
	slices.SortStableFunc(out, func(a, b *v1alpha1.ServerGroup) int {
		switch {
		case newerThan(a, b):
			return -1
		case newerThan(b, a):
			return 1
		}
		return 0
	})
	return out
}

// deleting says whether the group is on its way out (a finalizer holds it until the cloud group is gone).
func deleting(g *v1alpha1.ServerGroup) bool { return !g.DeletionTimestamp.IsZero() }

// live returns the groups that are not being deleted.
func live(groups []v1alpha1.ServerGroup) []v1alpha1.ServerGroup {
	out := make([]v1alpha1.ServerGroup, 0, len(groups))
	for _, g := range groups {
		if !deleting(&g) {
			out = append(out, g)
		}
	}
	return out
}

// pick returns the Newest, Previous (second newest) or Oldest of the groups that are not being deleted,
// or nil when there is no such group.
func pick(groups []v1alpha1.ServerGroup, target v1alpha1.TargetSelector) *v1alpha1.ServerGroup {
	sorted := newestFirst(live(groups))
	switch {
	case target == v1alpha1.TargetNewest && len(sorted) > 0:
		return sorted[0]
	case target == v1alpha1.TargetPrevious && len(sorted) > 1:
		return sorted[1]
	case target == v1alpha1.TargetOldest && len(sorted) > 0:
		return sorted[len(sorted)-1]
	}
	return nil
}

// cluster names one cluster: a namespace's groups with one cluster label, account and region.
type cluster struct {
	Namespace, Name, Account, Region string
}

func (c cluster) String() string {
	return fmt.Sprintf("cluster %s in %s/%s", c.Name, c.Account, c.Region)
}

// validClusterName says why a cluster name cannot be a label value, or "" when it can.
func validClusterName(name string) string {
	if errs := validation.IsValidLabelValue(name); len(errs) > 0 {
		return fmt.Sprintf("cluster name %s cannot be the value of label %s: %s", name, v1alpha1.LabelCluster, strings.Join(errs, "; "))
	}
	return ""
}

// list returns the cluster's groups, deleting ones included.
func (c cluster) list(ctx context.Context, r client.Reader) ([]v1alpha1.ServerGroup, error) {
	all, err := c.listAllRegions(ctx, r)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, g := range all {
		if g.Spec.Account == c.Account && g.Spec.Region == c.Region {
			out = append(out, g)
		}
	}
	return out, nil
}

// listAllRegions returns the namespace's groups with the cluster's label, whatever their account and
// region: they share the namespace's object names.
func (c cluster) listAllRegions(ctx context.Context, r client.Reader) ([]v1alpha1.ServerGroup, error) {
	var list v1alpha1.ServerGroupList
	if err := r.List(ctx, &list, client.InNamespace(c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: c.Name}); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// fresh says whether the group's status describes its current spec.
func fresh(g *v1alpha1.ServerGroup) bool {
	return g.Status.ObservedGeneration == g.Generation
}

// condition returns a condition of the group's status when it describes the current spec, or nil.
func condition(g *v1alpha1.ServerGroup, condType string) *metav1.Condition {
	if !fresh(g) {
		return nil
	}
	c := meta.FindStatusCondition(g.Status.Conditions, condType)
	if c == nil || (c.ObservedGeneration != 0 && c.ObservedGeneration != g.Generation) {
		return nil
	}
	return c
}

func isTrue(g *v1alpha1.ServerGroup, condType string) bool {
	c := condition(g, condType)
	return c != nil && c.Status == metav1.ConditionTrue
}

// healthy says the group's healthy instances are as many as desired, for its current spec.
func healthy(g *v1alpha1.ServerGroup) bool { return isTrue(g, v1alpha1.ConditionHealthy) }

// takingTraffic says the group is in its load balancers and healthy, for its current spec.
func takingTraffic(g *v1alpha1.ServerGroup) bool {
	return healthy(g) && isTrue(g, v1alpha1.ConditionTrafficEnabled)
}

// outOfTraffic says the group is out of its load balancers, for its current spec. A group the cloud
// does not have (yet) takes no traffic either.
func outOfTraffic(g *v1alpha1.ServerGroup) bool {
	return fresh(g) && g.Status.Traffic != v1alpha1.TrafficEnabled
}

// inUse says the group takes traffic or is meant to: such a group is never destroyed to keep a cluster
// small.
func inUse(g *v1alpha1.ServerGroup) bool {
	return g.Spec.Traffic != v1alpha1.TrafficDisabled || g.Status.Traffic == v1alpha1.TrafficEnabled
}

// needsPerson returns a failure message when the group's Ready condition says a person must act (the
// account is missing or does not allow the namespace, or the cloud refused the request), or "".
func needsPerson(g *v1alpha1.ServerGroup) string {
	c := condition(g, v1alpha1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionFalse {
		return ""
	}
	switch c.Reason {
	case v1alpha1.ReasonAccountNotFound, v1alpha1.ReasonAccountNotAllowed, v1alpha1.ReasonInvalidRequest:
		return fmt.Sprintf("%s: Ready=False %s: %s", g.Name, c.Reason, c.Message)
	}
	return ""
}

// healthText says how many of the group's desired instances are healthy, and why it is not Ready when the
// reason is more than the ordinary converging.
func healthText(g *v1alpha1.ServerGroup) string {
	msg := fmt.Sprintf("%s: %d/%d healthy", g.Name, g.Status.Instances.Healthy, g.Spec.Capacity.Desired)
	return msg + readyNote(g)
}

// readyNote is "; Ready=False Throttled: ..." when the group's Ready condition says the cloud is failing,
// and "" while it converges normally.
func readyNote(g *v1alpha1.ServerGroup) string {
	c := condition(g, v1alpha1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionFalse {
		return ""
	}
	switch c.Reason {
	case v1alpha1.ReasonCreating, v1alpha1.ReasonUpdating, v1alpha1.ReasonDeleting:
		return ""
	}
	return fmt.Sprintf(" (Ready=False %s: %s)", c.Reason, c.Message)
}

// scaledDownFrom returns the capacity recorded in the group's AnnotationScaledDownFrom, if it has one that
// parses.
func scaledDownFrom(g *v1alpha1.ServerGroup) (*v1alpha1.Capacity, bool) {
	raw, ok := g.Annotations[v1alpha1.AnnotationScaledDownFrom]
	if !ok {
		return nil, false
	}
	var c v1alpha1.Capacity
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, false
	}
	return &c, true
}

// serverGroups reads and changes ServerGroups for a stage.
type serverGroups struct {
	Client client.Client
	// APIReader reads past the cache; nil means the cache alone.
	APIReader client.Reader
}

// live returns the API server's reader, or the cache's when there is none.
func (c serverGroups) live() client.Reader {
	if c.APIReader != nil {
		return c.APIReader
	}
	return c.Client
}

// get reads a group from the cache, or from the API server when the cache does not have it (yet).
func (c serverGroups) get(ctx context.Context, key types.NamespacedName) (*v1alpha1.ServerGroup, error) {
	var g v1alpha1.ServerGroup
	err := c.Client.Get(ctx, key, &g)
	if apierrors.IsNotFound(err) && c.APIReader != nil {
		err = c.APIReader.Get(ctx, key, &g)
	}
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// patch applies mutate to the group as a merge patch, with AnnotationExecution naming the run, and says
// whether a call was made: none when mutate changes nothing. g is updated to the API server's answer.
func (c serverGroups) patch(ctx context.Context, s *engine.StageRun, g *v1alpha1.ServerGroup, mutate func(*v1alpha1.ServerGroup)) (bool, error) {
	before := g.DeepCopy()
	mutate(g)
	if equality.Semantic.DeepEqual(before.Spec, g.Spec) && equality.Semantic.DeepEqual(before.Annotations, g.Annotations) {
		return false, nil
	}
	annotate(g, s.Execution.Name)
	if err := s.EnsureFresh(ctx); err != nil {
		return false, err
	}
	return true, c.Client.Patch(ctx, g, client.MergeFrom(before))
}

// delete deletes the group, unless it is already on its way out. It first annotates it with the run's
// name, so that the group's disappearance wakes the run.
func (c serverGroups) delete(ctx context.Context, s *engine.StageRun, g *v1alpha1.ServerGroup) error {
	if deleting(g) {
		return nil
	}
	if err := s.EnsureFresh(ctx); err != nil {
		return err
	}
	if g.Annotations[v1alpha1.AnnotationExecution] != s.Execution.Name {
		before := g.DeepCopy()
		annotate(g, s.Execution.Name)
		if err := c.Client.Patch(ctx, g, client.MergeFrom(before)); err != nil {
			return err
		}
	}
	return c.Client.Delete(ctx, g, client.Preconditions{UID: &g.UID})
}

func annotate(g *v1alpha1.ServerGroup, execution string) {
	if g.Annotations == nil {
		g.Annotations = map[string]string{}
	}
	g.Annotations[v1alpha1.AnnotationExecution] = execution
}

func setTraffic(t v1alpha1.Traffic) func(*v1alpha1.ServerGroup) {
	return func(g *v1alpha1.ServerGroup) { g.Spec.Traffic = t }
}

// permanent says an API error will not go away by retrying: the stage fails instead.
func permanent(err error) bool { return err != nil && !retryable(err) }

// resolveTarget finds the group a ServerGroupTarget names in the run's namespace. field is the stage's
// field, such as disableServerGroup, for messages. A failure a person must fix is returned as msg; err is
// for the API server's transient errors.
func (c serverGroups) resolveTarget(ctx context.Context, s *engine.StageRun, field string, t *v1alpha1.ServerGroupTarget) (g *v1alpha1.ServerGroup, msg string, err error) {
	ns := s.Execution.Namespace
	if t.ServerGroup != "" {
		g, err := c.get(ctx, types.NamespacedName{Namespace: ns, Name: t.ServerGroup})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("%s.serverGroup: %s not found in namespace %s", field, t.ServerGroup, ns), nil
		}
		if err != nil {
			return nil, "", err
		}
		return g, "", nil
	}
	if t.Cluster == "" {
		return nil, fmt.Sprintf("%s: one of serverGroup or cluster is required", field), nil
	}
	if msg := validClusterName(t.Cluster); msg != "" {
		return nil, fmt.Sprintf("%s.cluster: %s", field, msg), nil
	}
	cl := cluster{Namespace: ns, Name: t.Cluster, Account: t.Account, Region: t.Region}
	groups, err := cl.list(ctx, c.Client)
	if err != nil {
		return nil, "", err
	}
	target := t.Target
	if target == "" {
		target = v1alpha1.TargetNewest
	}
	g = pick(groups, target)
	if g == nil {
		n := len(live(groups))
		return nil, fmt.Sprintf("%s.target: %s in namespace %s has no %s server group (it has %d)", field, cl, ns, target, n), nil
	}
	return g.DeepCopy(), "", nil
}

// outputString reads a string output of the stage, or "".
func outputString(s *engine.StageRun, key string) string {
	raw, ok := s.Status.Outputs[key]
	if !ok {
		return ""
	}
	var v string
	if err := json.Unmarshal(raw.Raw, &v); err != nil {
		return ""
	}
	return v
}

// waitFor keeps the stage running with a message, and asks to be checked again at next. A poll (next
// within serverGroupPoll of now) does not move an earlier check already asked for, so that a stage woken
// often by group changes does not rewrite its status for nothing.
func waitFor(s *engine.StageRun, msg string, next time.Time) {
	if prev := s.Status.NextCheckTime; prev != nil && prev.After(s.Now) && prev.Time.Before(next) && !next.After(s.Now.Add(serverGroupPoll)) {
		next = prev.Time
	}
	s.Running(msg, next)
}

// clusterOf is the cluster a group belongs to: its cluster label (or the one its Frigga name fields
// give), account and region.
func clusterOf(g *v1alpha1.ServerGroup) cluster {
	name := g.Labels[v1alpha1.LabelCluster]
	if name == "" {
		name = v1alpha1.ClusterName(g.Spec.Application, g.Spec.Stack, g.Spec.Detail)
	}
	return cluster{Namespace: g.Namespace, Name: name, Account: g.Spec.Account, Region: g.Spec.Region}
}

// refuseLastEnabled fails s, and reports it, when taking g out of traffic would leave its cluster with no
// group serving (see lastEnabled).
func (c serverGroups) refuseLastEnabled(ctx context.Context, s *engine.StageRun, field string, g *v1alpha1.ServerGroup) (bool, error) {
	msg, err := c.lastEnabled(ctx, field, g)
	if err != nil || msg == "" {
		return false, err
	}
	s.Fail(msg)
	return true, nil
}

// serving says whether a group takes traffic as the cloud shows it, not only as its spec asks: one asked to
// be Enabled that is not in its load balancers yet, has no healthy instance, or is another's (NotOwned)
// would not carry the cluster's traffic.
func serving(g *v1alpha1.ServerGroup) bool {
	return !deleting(g) && g.Spec.Traffic == v1alpha1.TrafficEnabled &&
		g.Status.Traffic == v1alpha1.TrafficEnabled && g.Status.Instances.Healthy > 0
}

// lastEnabled returns why taking g out of traffic (disabling or destroying it) would leave its cluster with
// no enabled server group, or "" when another group of the cluster is enabled or g is not: Spinnaker's
// guard against an outage made by a pipeline. field is the stage's type, for the message. It reads past
// the cache, so that a group enabled a moment ago by another stage counts.
func (c serverGroups) lastEnabled(ctx context.Context, field string, g *v1alpha1.ServerGroup) (string, error) {
	if !inUse(g) || deleting(g) {
		return "", nil
	}
	cl := clusterOf(g)
	groups, err := cl.list(ctx, c.live())
	if err != nil {
		return "", err
	}
	for i := range groups {
		o := &groups[i]
		if o.Name != g.Name && serving(o) {
			return "", nil
		}
	}
	return fmt.Sprintf("%s: %s is the last enabled server group of %s in namespace %s; set allowLastEnabled: true to take it out anyway",
		field, g.Name, cl, g.Namespace), nil
}
