package stages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// Deploy is Spinnaker's deploy stage: it makes a new ServerGroup in every cluster of deploy.clusters, all
// in parallel, and replaces the cluster's older groups by the target's strategy (see decide). The stage
// succeeds once every cluster has, and fails as soon as one fails, after putting every red/black cluster
// with rollbackOnFailure back as it was (the other clusters stop where they are).
//
// The new group is named the Frigga way, app-stack-detail-vNNN, the application being the pipeline's: the
// sequence is the highest of the cluster plus one, wrapping from 999 to 000 and skipping names taken in the
// namespace. It carries the labels LabelCluster and LabelDeploy (a hash of the run's UID, the stage and
// the cluster's index, by which a restart finds it instead of making another) and AnnotationExecution. It
// is not owned by the Execution: server groups outlive runs and their history limit. It starts with traffic
// Disabled for red/black, and Enabled otherwise. Every string of the target's cloud block is rendered once,
// at Start; what the Checks need later is in the stage's outputs.
//
// Two runs never deploy one cluster at once: the stage holds a Lease per cluster from before it makes the
// cluster's new group until it ends, and waits while another run's deploy holds one (see deploy_lease.go).
//
// Cancel (a timeout, spec.cancel, or another branch failing the run) rolls back the red/black clusters
// with rollbackOnFailure, finished ones included, so the stage's clusters end on the same side: the groups
// the stage disabled are enabled again, at the capacity they had when it scaled them down, and the new
// group is disabled. It changes desired state only and does not wait; groups already destroyed stay gone.
//
// Outputs, readable by later stages as stages['<name>'].outputs.<key>:
//
//	serverGroup          string  the new group of the first cluster
//	previousServerGroup  string  that cluster's newest group before the deploy, "" when there was none
//	healthy              int     the new group's healthy instances, as last seen
//	serverGroups         list    per cluster: {account, region, cluster, serverGroup, previousServerGroup,
//	                             healthy}
//	progress             list    per cluster, what the stage has done so far (clusterProgress); it is the
//	                             stage's memory, not an interface, and may change between versions
type Deploy struct {
	Client client.Client
	// APIReader reads past the cache: for a group just made, and for the groups a rollback puts back.
	APIReader client.Reader
}

// Output keys of the deploy stage.
const (
	outputServerGroup         = "serverGroup"
	outputPreviousServerGroup = "previousServerGroup"
	outputHealthy             = "healthy"
	outputServerGroups        = "serverGroups"
	outputProgress            = "progress"
)

// serverGroupOutput is one entry of the serverGroups output.
type serverGroupOutput struct {
	Account             string `json:"account"`
	Region              string `json:"region"`
	Cluster             string `json:"cluster"`
	ServerGroup         string `json:"serverGroup"`
	PreviousServerGroup string `json:"previousServerGroup"`
	Healthy             int32  `json:"healthy"`
}

func (d Deploy) groups() serverGroups { return serverGroups{Client: d.Client, APIReader: d.APIReader} }

// plannedGroup is a cluster's new group as Start means to make it.
type plannedGroup struct {
	path    string
	cluster cluster
	spec    v1alpha1.ServerGroupSpec
}

// Start renders every cluster's target, then makes (or, after a restart, finds) each cluster's new group.
func (d Deploy) Start(ctx context.Context, s *engine.StageRun) error {
	ds := s.Spec.Deploy
	ex := s.Execution
	app := ""
	if ex.Status.PipelineSpec != nil {
		app = ex.Status.PipelineSpec.Application
	}
	if app == "" {
		s.Fail("the run's frozen pipeline spec has no application to name the server groups after")
		return nil
	}
	// Everything is checked before anything is made.
	plans := make([]plannedGroup, len(ds.Clusters))
	for i := range ds.Clusters {
		t := &ds.Clusters[i]
		path := fmt.Sprintf("deploy.clusters[%d]", i)
		cfg, msg := newDeployConfig(t, path)
		if msg != "" {
			s.Fail(msg)
			return nil
		}
		name := v1alpha1.ClusterName(app, t.Stack, t.Detail)
		if msg := validClusterName(name); msg != "" {
			s.Fail(path + ": " + msg)
			return nil
		}
		for j := range i {
			if o := plans[j].cluster; o.Name == name && o.Account == t.Account && o.Region == t.Region {
				// Each would take the other's new group for an older one of the cluster.
				s.Fail(fmt.Sprintf("%s: %s is deploy.clusters[%d] already", path, o, j))
				return nil
			}
		}
		cloud, msg := renderCloud(s, path, &t.CloudServerGroup)
		if msg != "" {
			s.Fail(msg)
			return nil
		}
		traffic := v1alpha1.TrafficEnabled
		if cfg.Strategy == v1alpha1.StrategyRedBlack {
			traffic = v1alpha1.TrafficDisabled // checked beside the old ones before it takes traffic
		}
		plans[i] = plannedGroup{
			path:    path,
			cluster: cluster{Namespace: ex.Namespace, Name: name, Account: t.Account, Region: t.Region},
			spec: v1alpha1.ServerGroupSpec{
				Application:      app,
				Stack:            t.Stack,
				Detail:           t.Detail,
				Account:          t.Account,
				Region:           t.Region,
				Zones:            slices.Clone(t.Zones),
				Capacity:         t.Capacity,
				Traffic:          traffic,
				CloudServerGroup: cloud,
			},
		}
	}
	if err := s.EnsureFresh(ctx); err != nil {
		return err
	}
	clusters := make([]cluster, len(plans))
	for i := range plans {
		clusters[i] = plans[i].cluster
	}
	waiting, failure, err := d.leases().acquire(ctx, s, clusters)
	if err != nil {
		return err
	}
	if failure != "" {
		s.Fail(failure)
		return nil
	}
	if waiting != "" {
		// Check calls Start again until the stage holds every Lease: no progress is recorded until then.
		waitFor(s, waiting, s.Now.Add(serverGroupPoll))
		return nil
	}
	progress := make([]clusterProgress, 0, len(plans))
	var msgs []string
	for i, plan := range plans {
		g, previous, msg, err := d.create(ctx, s, i, plan)
		if err != nil {
			return err
		}
		if msg != "" {
			// The groups made so far stay, as a failed cluster's would: red/black ones take no traffic.
			if err := setDeployOutputs(s, progress); err != nil {
				return err
			}
			s.Fail(msg)
			return nil
		}
		progress = append(progress, clusterProgress{
			Account:             plan.cluster.Account,
			Region:              plan.cluster.Region,
			Cluster:             plan.cluster.Name,
			ServerGroup:         g.Name,
			PreviousServerGroup: previous,
			Healthy:             g.Status.Instances.Healthy,
		})
		msgs = append(msgs, clusterPrefix(len(plans), plan.cluster)+healthText(g))
	}
	if err := setDeployOutputs(s, progress); err != nil {
		return err
	}
	waitFor(s, strings.Join(msgs, "; "), s.Now.Add(serverGroupPoll))
	return nil
}

// deployKey is the value of LabelDeploy on the group a run's deploy stage makes for one of its clusters.
func deployKey(uid types.UID, stage string, index int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", uid, stage, index))
	return hex.EncodeToString(sum[:10])
}

// create makes a cluster's new group, or finds the one an earlier attempt made, and returns it with the
// cluster's newest other group. msg says why it cannot be made, when retrying would not help.
func (d Deploy) create(ctx context.Context, s *engine.StageRun, index int, plan plannedGroup) (g *v1alpha1.ServerGroup, previous, msg string, err error) {
	key := deployKey(s.Execution.UID, s.Spec.Name, index)
	// Past the cache: a group made before a restart, or by another run a moment ago, must be seen.
	reader := d.groups().live()
	var mine v1alpha1.ServerGroupList
	if err := reader.List(ctx, &mine, client.InNamespace(plan.cluster.Namespace), client.MatchingLabels{v1alpha1.LabelDeploy: key}); err != nil {
		return nil, "", "", err
	}
	all, err := plan.cluster.listAllRegions(ctx, reader)
	if err != nil {
		return nil, "", "", err
	}
	var groups []v1alpha1.ServerGroup
	taken := map[string]bool{}
	for _, o := range all {
		taken[o.Name] = true
		if o.Spec.Account == plan.cluster.Account && o.Spec.Region == plan.cluster.Region && o.Labels[v1alpha1.LabelDeploy] != key {
			groups = append(groups, o)
		}
	}
	if p := pick(groups, v1alpha1.TargetNewest); p != nil {
		previous = p.Name
	}
	if len(mine.Items) > 0 {
		// A restart between making the group and recording it.
		return newestFirst(mine.Items)[0].DeepCopy(), previous, "", nil
	}
	for range sequences {
		seq, err := nextSequence(plan.cluster.Name, groups, taken)
		if err != nil {
			return nil, "", fmt.Sprintf("%s: %s: %v", plan.path, plan.cluster, err), nil
		}
		g := &v1alpha1.ServerGroup{
			ObjectMeta: metav1.ObjectMeta{
				Name:        serverGroupName(plan.cluster.Name, seq),
				Namespace:   plan.cluster.Namespace,
				Labels:      map[string]string{v1alpha1.LabelCluster: plan.cluster.Name, v1alpha1.LabelDeploy: key},
				Annotations: map[string]string{v1alpha1.AnnotationExecution: s.Execution.Name},
			},
			Spec: *plan.spec.DeepCopy(),
		}
		InheritShard(s.Execution, g)
		err = d.Client.Create(ctx, g)
		switch {
		case err == nil:
			return g, previous, "", nil
		case apierrors.IsAlreadyExists(err):
			// Not ours (ours would have been found by its label): a group of another region or a hand-made one.
			taken[g.Name] = true
		case permanent(err):
			return nil, "", fmt.Sprintf("%s: creating server group %s: %v", plan.path, g.Name, err), nil
		default:
			return nil, "", "", err
		}
	}
	return nil, "", fmt.Sprintf("%s: %s: no free name", plan.path, plan.cluster), nil
}

// Check advances every cluster that is not done, and finishes the stage once all are done or one failed;
// a stage still waiting for a cluster's Lease tries to start again.
func (d Deploy) Check(ctx context.Context, s *engine.StageRun) error {
	if _, ok := s.Status.Outputs[outputProgress]; !ok {
		return d.Start(ctx, s)
	}
	return d.check(ctx, s)
}

func (d Deploy) check(ctx context.Context, s *engine.StageRun) error {
	progress, cfgs, msg := d.load(s)
	if msg != "" {
		s.Fail(msg)
		return nil
	}
	n := len(progress)
	views := make([]clusterView, n)
	decisions := make([]decision, n)
	failing := false
	for i := range progress {
		v, err := d.view(ctx, s, &progress[i], d.Client)
		if err != nil {
			return err
		}
		views[i] = v
		decisions[i] = decide(cfgs[i], &progress[i], v, s.Now)
		failing = failing || decisions[i].Failure != ""
	}
	for i := range decisions {
		for _, a := range decisions[i].Actions {
			if failing {
				break
			}
			msg, err := d.apply(ctx, s, views[i], a)
			if err != nil {
				return err
			}
			if msg != "" {
				progress[i].Failure = msg
				failing = true
			}
		}
	}
	if failing {
		return d.failAndRollBack(ctx, s, progress, cfgs)
	}
	if err := setDeployOutputs(s, progress); err != nil {
		return err
	}
	var msgs []string
	var next time.Time
	allDone := true
	for i, dec := range decisions {
		cl := cluster{Name: progress[i].Cluster, Account: progress[i].Account, Region: progress[i].Region}
		msgs = append(msgs, clusterPrefix(n, cl)+dec.Message)
		if dec.Done {
			continue
		}
		if allDone || dec.Next.Before(next) {
			next = dec.Next
		}
		allDone = false
	}
	if allDone {
		s.Succeed(strings.Join(msgs, "; "))
		return nil
	}
	waitFor(s, strings.Join(msgs, "; "), next)
	return nil
}

// failAndRollBack rolls back what must be, and fails the stage with every cluster's failure.
func (d Deploy) failAndRollBack(ctx context.Context, s *engine.StageRun, progress []clusterProgress, cfgs []deployConfig) error {
	notes, err := d.rollBack(ctx, s, progress, cfgs)
	if err != nil {
		return err
	}
	if err := setDeployOutputs(s, progress); err != nil {
		return err
	}
	var msgs []string
	for i := range progress {
		if f := progress[i].Failure; f != "" {
			cl := cluster{Name: progress[i].Cluster, Account: progress[i].Account, Region: progress[i].Region}
			msgs = append(msgs, clusterPrefix(len(progress), cl)+f)
		}
	}
	msg := strings.Join(msgs, "; ")
	if len(notes) > 0 {
		msg += "; rolled back: " + strings.Join(notes, ", ")
	}
	s.Fail(msg)
	return nil
}

// Cancel rolls back the red/black clusters with rollbackOnFailure. It only changes desired state. The
// clusters' Leases stay: they pass to the next deploy once the cancel is recorded in the run's status.
func (d Deploy) Cancel(ctx context.Context, s *engine.StageRun) error {
	progress, cfgs, msg := d.load(s)
	if msg == "" { // otherwise nothing is recorded, so nothing this stage knows it changed
		if _, err := d.rollBack(ctx, s, progress, cfgs); err != nil {
			return err
		}
		if err := setDeployOutputs(s, progress); err != nil {
			return err
		}
	}
	return nil
}

func (d Deploy) leases() clusterLeases {
	return clusterLeases{Client: d.Client, APIReader: d.groups().live()}
}

// rollBack applies rollback to every cluster that has one, reading the groups past the cache (a
// scale-down annotation written a moment ago must be seen), and returns what it did. A change the API
// server refuses for good is reported in the notes and skipped: a rollback must not block a failure or a
// cancel.
func (d Deploy) rollBack(ctx context.Context, s *engine.StageRun, progress []clusterProgress, cfgs []deployConfig) ([]string, error) {
	var notes []string
	for i := range progress {
		p := &progress[i]
		if cfgs[i].Strategy != v1alpha1.StrategyRedBlack || !cfgs[i].Rollback {
			continue
		}
		v, err := d.view(ctx, s, p, d.groups().live())
		if err != nil {
			return nil, err
		}
		for _, a := range rollback(cfgs[i], p, v) {
			msg, err := d.apply(ctx, s, v, a)
			if err != nil {
				return nil, err
			}
			if msg != "" {
				notes = append(notes, "could not "+msg)
				continue
			}
			notes = append(notes, a.String())
		}
		p.RolledBack = true
	}
	return notes, nil
}

// load reads the stage's progress and resolves each cluster's config.
func (d Deploy) load(s *engine.StageRun) ([]clusterProgress, []deployConfig, string) {
	clusters := s.Spec.Deploy.Clusters
	raw, ok := s.Status.Outputs[outputProgress]
	var progress []clusterProgress
	if !ok || json.Unmarshal(raw.Raw, &progress) != nil || len(progress) != len(clusters) {
		return nil, nil, "status.outputs.progress is missing or does not match deploy.clusters: the stage's status was not written by the operator"
	}
	cfgs := make([]deployConfig, len(clusters))
	for i := range clusters {
		cfg, msg := newDeployConfig(&clusters[i], fmt.Sprintf("deploy.clusters[%d]", i))
		if msg != "" {
			return nil, nil, msg
		}
		cfgs[i] = cfg
	}
	return progress, cfgs, ""
}

// view reads a cluster's groups with r (the cache, or the API server), and the new group, when r does not
// have it yet, from the API server.
func (d Deploy) view(ctx context.Context, s *engine.StageRun, p *clusterProgress, r client.Reader) (clusterView, error) {
	ns := s.Execution.Namespace
	cl := cluster{Namespace: ns, Name: p.Cluster, Account: p.Account, Region: p.Region}
	groups, err := cl.list(ctx, r)
	if err != nil {
		return clusterView{}, err
	}
	var v clusterView
	for i := range groups {
		if groups[i].Name == p.ServerGroup {
			v.New = groups[i].DeepCopy()
		} else {
			v.Others = append(v.Others, groups[i])
		}
	}
	if v.New == nil {
		g, err := d.groups().get(ctx, types.NamespacedName{Namespace: ns, Name: p.ServerGroup})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return clusterView{}, err
		default:
			v.New = g
		}
	}
	return v, nil
}

// apply makes one action's change. msg says why the API server refused it for good.
func (d Deploy) apply(ctx context.Context, s *engine.StageRun, v clusterView, a action) (msg string, err error) {
	g := v.find(a.Group)
	if g == nil {
		return "", nil // gone: nothing left to change
	}
	sgs := d.groups()
	switch a.Kind {
	case actionDestroy:
		err = sgs.delete(ctx, s, g)
	case actionEnable:
		_, err = sgs.patch(ctx, s, g, setTraffic(v1alpha1.TrafficEnabled))
	case actionDisable:
		_, err = sgs.patch(ctx, s, g, setTraffic(v1alpha1.TrafficDisabled))
	case actionScaleDown:
		from, merr := json.Marshal(a.Capacity)
		if merr != nil {
			return "", merr
		}
		_, err = sgs.patch(ctx, s, g, func(g *v1alpha1.ServerGroup) {
			if g.Annotations == nil {
				g.Annotations = map[string]string{}
			}
			g.Annotations[v1alpha1.AnnotationScaledDownFrom] = string(from)
			g.Spec.Capacity = v1alpha1.Capacity{Min: 0, Desired: 0, Max: a.Capacity.Max}
		})
	case actionRestore:
		_, err = sgs.patch(ctx, s, g, func(g *v1alpha1.ServerGroup) {
			g.Spec.Traffic = v1alpha1.TrafficEnabled
			if a.Capacity != nil {
				g.Spec.Capacity = *a.Capacity
				delete(g.Annotations, v1alpha1.AnnotationScaledDownFrom)
			}
		})
	default:
		return "", fmt.Errorf("unknown action %q", a.Kind)
	}
	switch {
	case err == nil || apierrors.IsNotFound(err):
		return "", nil
	case errors.Is(err, engine.ErrStale) || !permanent(err):
		return "", err
	}
	return fmt.Sprintf("%s %s: %v", doing[a.Kind], a.Group, err), nil
}

// doing names an action in messages.
var doing = map[actionKind]string{
	actionEnable:    "enabling",
	actionDisable:   "disabling",
	actionScaleDown: "scaling down",
	actionRestore:   "re-enabling",
	actionDestroy:   "destroying",
}

// setDeployOutputs records the progress and the outputs derived from it.
func setDeployOutputs(s *engine.StageRun, progress []clusterProgress) error {
	list := make([]serverGroupOutput, len(progress))
	for i, p := range progress {
		list[i] = serverGroupOutput{
			Account: p.Account, Region: p.Region, Cluster: p.Cluster,
			ServerGroup: p.ServerGroup, PreviousServerGroup: p.PreviousServerGroup, Healthy: p.Healthy,
		}
	}
	first := serverGroupOutput{}
	if len(list) > 0 {
		first = list[0]
	}
	for _, o := range []struct {
		key string
		v   any
	}{
		{outputServerGroup, first.ServerGroup},
		{outputPreviousServerGroup, first.PreviousServerGroup},
		{outputHealthy, first.Healthy},
		{outputServerGroups, list},
		{outputProgress, progress},
	} {
		if err := s.SetOutput(o.key, o.v); err != nil {
			return err
		}
	}
	return nil
}

// clusterPrefix names the cluster in a message, when the stage has more than one.
func clusterPrefix(clusters int, cl cluster) string {
	if clusters < 2 {
		return ""
	}
	return fmt.Sprintf("%s/%s: ", cl.Account, cl.Region)
}

// renderCloud resolves the ${ ... } expressions of every string of a target's cloud block. path is the
// target's field (deploy.clusters[0]) for messages.
func renderCloud(s *engine.StageRun, path string, in *v1alpha1.CloudServerGroup) (v1alpha1.CloudServerGroup, string) {
	out := *in.DeepCopy()
	msg := ""
	render := func(field string, v *string) {
		if msg != "" {
			return
		}
		got, err := s.Render(*v, nil)
		if err != nil {
			msg = fmt.Sprintf("%s.%s: %v", path, field, err)
			return
		}
		*v = got
	}
	renderList := func(field string, vs []string) {
		for i := range vs {
			render(fmt.Sprintf("%s[%d]", field, i), &vs[i])
		}
	}
	if a := out.AWS; a != nil {
		if lt := a.LaunchTemplate; lt != nil {
			render("aws.launchTemplate.name", &lt.Name)
			render("aws.launchTemplate.version", &lt.Version)
		}
		render("aws.imageID", &a.ImageID)
		render("aws.instanceType", &a.InstanceType)
		renderList("aws.targetGroupARNs", a.TargetGroupARNs)
		renderList("aws.subnetIDs", a.SubnetIDs)
	}
	if g := out.GCP; g != nil {
		render("gcp.instanceTemplate", &g.InstanceTemplate)
		render("gcp.image", &g.Image)
		render("gcp.machineType", &g.MachineType)
		renderList("gcp.backendServices", g.BackendServices)
		render("gcp.network", &g.Network)
		render("gcp.subnetwork", &g.Subnetwork)
	}
	if az := out.Azure; az != nil {
		render("azure.imageID", &az.ImageID)
		render("azure.vmSize", &az.VMSize)
		renderList("azure.backendAddressPoolIDs", az.BackendAddressPoolIDs)
		render("azure.subnetID", &az.SubnetID)
	}
	return out, msg
}
