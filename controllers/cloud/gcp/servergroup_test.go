package gcp_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	gcpsim "github.com/gennaker/gennaker/test/cloudsim/gcp"
)

// A group goes through its life as a deploy drives it: made (template, then group) out of traffic,
// booted, put behind its backend service, healthy there, resized, taken out and deleted with its
// template.
func TestServerGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	sg := serverGroup("shop-main-v001", 3)

	op, err := c.Create(e.ctx, sg)
	if err != nil || op == nil || op.Action != v1alpha1.OperationCreate || !strings.Contains(op.ID, "/global/operations/") {
		t.Fatalf("first Create = %+v, %v; want the template's global operation", op, err)
	}
	if o, _ := c.Observe(e.ctx, sg); o.Exists {
		t.Fatal("the group exists before its template's operation ended")
	}
	e.must(c, sg)(op, nil)
	op, err = c.Create(e.ctx, sg)
	if err != nil || op == nil || !strings.Contains(op.ID, "/regions/"+region+"/operations/") {
		t.Fatalf("second Create = %+v, %v; want the group's regional operation", op, err)
	}
	e.must(c, sg)(op, nil)

	o, err := c.Observe(e.ctx, sg)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Exists || cloud.Check(sg, "group", o.Owner) != nil || o.Traffic != v1alpha1.TrafficDisabled ||
		o.Instances != (v1alpha1.Instances{Desired: 3}) || o.Status.GCP == nil || !strings.HasSuffix(o.Status.GCP.InstanceTemplate, "/global/instanceTemplates/shop-main-v001") {
		t.Fatalf("new group observed as %+v", o)
	}
	e.clock.Advance(bootDelay)
	if o, _ = c.Observe(e.ctx, sg); o.Instances != (v1alpha1.Instances{Desired: 3, Running: 3, Healthy: 3}) {
		t.Fatalf("booted disabled group: %+v (out of traffic, its own health decides)", o.Instances)
	}

	e.must(c, sg)(c.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled))
	o, _ = c.Observe(e.ctx, sg)
	if o.Traffic != v1alpha1.TrafficEnabled || o.Instances.Healthy != 0 || !strings.Contains(o.Unhealthy, "UNHEALTHY in backend service shop-web") {
		t.Fatalf("just enabled: %+v; want Enabled with no instance healthy in the backend service yet", o)
	}
	e.clock.Advance(healthyDelay)
	if o, _ = c.Observe(e.ctx, sg); o.Instances.Healthy != 3 || o.Unhealthy != "" {
		t.Fatalf("enabled a while: %+v", o)
	}
	if e.sim.Healthy(backendName) != 3 {
		t.Fatalf("the backend service has %d healthy instances, want 3", e.sim.Healthy(backendName))
	}

	e.must(c, sg)(c.UpdateCapacity(e.ctx, sg, v1alpha1.Capacity{Min: 0, Max: 10, Desired: 1}))
	if g, _ := e.sim.Group(sg.Name); g.TargetSize != 1 {
		t.Fatalf("target size %d after resizing to 1", g.TargetSize)
	}
	if op, err := c.UpdateCapacity(e.ctx, sg, v1alpha1.Capacity{Min: 0, Max: 10, Desired: 1}); op != nil || err != nil {
		t.Fatalf("resizing to the current size started %+v, %v", op, err)
	}

	e.must(c, sg)(c.SetTraffic(e.ctx, sg, v1alpha1.TrafficDisabled))
	if bs, _ := e.sim.BackendService(backendName); len(bs.Groups) != 0 {
		t.Fatalf("backends after disabling: %v", bs.Groups)
	}

	for i := 0; ; i++ {
		gone, op, err := c.Delete(e.ctx, sg)
		if err != nil {
			t.Fatal(err)
		}
		if gone {
			break
		}
		if i > 3 {
			t.Fatal("Delete never says gone")
		}
		e.must(c, sg)(op, nil)
	}
	if len(e.sim.Groups()) != 0 || len(e.sim.Templates()) != 0 {
		t.Fatalf("left behind: groups %v, templates %v", e.sim.Groups(), e.sim.Templates())
	}
}

// A Create repeated before its operation reached the ServerGroup's status (a crash in between) gets the
// same operation back: one template, one group.
func TestCreateRepeatedGetsTheSameOperation(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	sg := serverGroup("shop-main-v001", 2)
	first, err := c.Create(e.ctx, sg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.client().Create(e.ctx, sg) // a new process: nothing in memory
	if err != nil || again == nil || again.ID != first.ID {
		t.Fatalf("repeated Create = %+v, %v; want operation %s", again, err, first.ID)
	}
	e.must(c, sg)(first, nil)
	first, _ = c.Create(e.ctx, sg)
	again, _ = c.Create(e.ctx, sg)
	if first == nil || again == nil || again.ID != first.ID {
		t.Fatalf("repeated group insert: %+v then %+v", first, again)
	}
	if diff := cmp.Diff(map[string]int{"instanceTemplates": 1, "instanceGroupManagers": 1}, e.sim.Created()); diff != "" {
		t.Fatalf("made (-want +got):\n%s", diff)
	}
	calls := e.sim.Calls()
	if calls["instanceTemplates.insert"] != 2 || calls["regionInstanceGroupManagers.insert"] != 2 {
		t.Fatalf("calls %v", calls)
	}
}

// An insert whose operation fails is made again with a new requestId, and then succeeds.
func TestFailedOperationIsRetried(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	sg := serverGroup("shop-main-v001", 2)
	e.sim.Inject(gcpsim.Fault{Method: "instanceTemplates.insert", Kind: gcpsim.FailOperation, Count: 1})
	op, err := c.Create(e.ctx, sg)
	if err != nil {
		t.Fatal(err)
	}
	err = e.settle(c, sg, op)
	if cloud.ReasonOf(err) != cloud.Unavailable || !strings.Contains(err.Error(), "ZONE_RESOURCE_POOL_EXHAUSTED") || !cloud.Retryable(err) {
		t.Fatalf("failed operation: %v (reason %s); want a retryable Unavailable naming the code", err, cloud.ReasonOf(err))
	}
	again, err := c.Create(e.ctx, sg)
	if err != nil || again == nil || again.ID == op.ID {
		t.Fatalf("Create after the failure = %+v, %v; want a new operation", again, err)
	}
	e.must(c, sg)(again, nil)
	e.create(c, sg)
	if diff := cmp.Diff(map[string]int{"instanceTemplates": 1, "instanceGroupManagers": 1}, e.sim.Created()); diff != "" {
		t.Fatalf("made (-want +got):\n%s", diff)
	}
}

// Someone else changes the backend service between our read and our write: the write is refused for
// its stale fingerprint, the service read again, and both changes are there.
func TestEnableAfterAConcurrentChange(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	sg := serverGroup("shop-main-v001", 1)
	e.create(c, sg)
	e.sim.Inject(gcpsim.Fault{Method: "backendServices.update", Kind: gcpsim.ConcurrentChange, Count: 1})
	e.must(c, sg)(c.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled))
	bs, _ := e.sim.BackendService(backendName)
	if len(bs.Groups) != 2 || !strings.Contains(bs.Groups[0], "someone-elses-") || !strings.HasSuffix(bs.Groups[1], "/regions/"+region+"/instanceGroups/shop-main-v001") {
		t.Fatalf("backends %v; want someone else's and ours", bs.Groups)
	}
	if n := e.sim.Calls()["backendServices.update"]; n != 2 {
		t.Fatalf("%d updates; want the refused one and the one made on a fresh read", n)
	}
	e.must(c, sg)(c.SetTraffic(e.ctx, sg, v1alpha1.TrafficDisabled))
	if bs, _ = e.sim.BackendService(backendName); len(bs.Groups) != 1 || !strings.Contains(bs.Groups[0], "someone-elses-") {
		t.Fatalf("backends after disabling %v; want someone else's only", bs.Groups)
	}
}

// 429s are retried inside the call; too many end in Throttled.
func TestRateLimitsAreRetried(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	sg := serverGroup("shop-main-v001", 1)
	e.create(c, sg)
	e.sim.ResetCalls()
	e.sim.Inject(gcpsim.Fault{Method: "regionInstanceGroupManagers.get", Kind: gcpsim.RateLimit, Count: 2})
	if o, err := c.Observe(e.ctx, sg); err != nil || !o.Exists {
		t.Fatalf("Observe through two 429s: %+v, %v", o, err)
	}
	if n := e.sim.Calls()["regionInstanceGroupManagers.get"]; n != 3 {
		t.Fatalf("%d gets, want 3", n)
	}
	e.sim.Inject(gcpsim.Fault{Method: "regionInstanceGroupManagers.resize", Kind: gcpsim.RateLimit})
	_, err := c.UpdateCapacity(e.ctx, sg, v1alpha1.Capacity{Max: 10, Desired: 4})
	if cloud.ReasonOf(err) != cloud.Throttled {
		t.Fatalf("UpdateCapacity under constant 429s: %v, want Throttled", err)
	}
	e.sim.ClearFaults()
	e.sim.Inject(gcpsim.Fault{Method: "regionInstanceGroupManagers.resize", Kind: gcpsim.Unavailable, Count: 1})
	e.must(c, sg)(c.UpdateCapacity(e.ctx, sg, v1alpha1.Capacity{Max: 10, Desired: 4}))
}

// A group made by someone else is observed, but never changed: every write is NotOwned before any call.
// Owner words in a description that does not start as the operator's do not make it the ServerGroup's.
func TestForeignGroupIsNotOwned(t *testing.T) {
	for _, desc := range []string{"the team's own",
		"copied from gennaker.io/managed-by=gennaker gennaker.io/server-group=team/shop-main-v001 gennaker.io/uid=uid-shop-main-v001"} {
		t.Run(desc, func(t *testing.T) { foreignGroupIsNotOwned(t, desc) })
	}
}

func foreignGroupIsNotOwned(t *testing.T, desc string) {
	e := newEnv(t)
	c := e.client()
	sg := serverGroup("shop-main-v001", 1)
	sg.Spec.GCP = &v1alpha1.GCPServerGroup{InstanceTemplate: "team-template", BackendServices: []string{backendName}}
	e.teamGroupDescribed(t, "shop-main-v001", "team-template", desc)
	o, err := c.Observe(e.ctx, sg)
	if err != nil || !o.Exists || !o.Owner.None() {
		t.Fatalf("foreign group observed as %+v, %v", o, err)
	}
	e.sim.ResetCalls()
	_, err1 := c.Create(e.ctx, sg)
	_, err2 := c.UpdateCapacity(e.ctx, sg, v1alpha1.Capacity{Max: 5, Desired: 0})
	_, err3 := c.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled)
	_, _, err4 := c.Delete(e.ctx, sg)
	_, err5 := c.Adopt(e.ctx, sg)
	for i, err := range []error{err1, err2, err3, err4, err5} {
		var oe *cloud.OwnerError
		if cloud.ReasonOf(err) != cloud.NotOwned || !errors.As(err, &oe) {
			t.Errorf("call %d: %v, want NotOwned", i+1, err)
		}
	}
	for k := range e.sim.Calls() {
		if !strings.HasSuffix(k, ".get") && k != "oauth2.token" {
			t.Errorf("a write was made: %s", k)
		}
	}
	if g, _ := e.sim.Group("shop-main-v001"); g.TargetSize != 2 {
		t.Fatalf("the team's group changed: %+v", g)
	}
}

// teamGroup makes an instance template and a group of 2 from it with the SDK, as a team would.
func (e *env) teamGroup(t *testing.T, name, template string) {
	t.Helper()
	e.teamGroupDescribed(t, name, template, "the team's own")
}

func (e *env) teamGroupDescribed(t *testing.T, name, template, description string) {
	t.Helper()
	opts := []option.ClientOption{option.WithEndpoint(e.url), option.WithoutAuthentication(), option.WithHTTPClient(e.bearer())}
	tc, err := compute.NewInstanceTemplatesRESTClient(e.ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	o, err := tc.Insert(e.ctx, &computepb.InsertInstanceTemplateRequest{Project: project, InstanceTemplateResource: &computepb.InstanceTemplate{
		Name: proto.String(template), Properties: &computepb.InstanceProperties{MachineType: proto.String("e2-small")}}})
	if err != nil || o.Poll(e.ctx) != nil {
		t.Fatal(err)
	}
	mc, err := compute.NewRegionInstanceGroupManagersRESTClient(e.ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	o, err = mc.Insert(e.ctx, &computepb.InsertRegionInstanceGroupManagerRequest{Project: project, Region: region,
		InstanceGroupManagerResource: &computepb.InstanceGroupManager{Name: proto.String(name), TargetSize: proto.Int32(2),
			InstanceTemplate: proto.String("global/instanceTemplates/" + template), Description: proto.String(description)}})
	if err != nil || o.Poll(e.ctx) != nil {
		t.Fatal(err)
	}
}

// A zonal group (one zone) lives in the zone, with zonal operations.
func TestZonalGroup(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	sg := serverGroup("shop-main-v001", 2)
	sg.Spec.Zones = []string{region + "-b"}
	e.must(c, sg)(c.Create(e.ctx, sg))
	op, err := c.Create(e.ctx, sg)
	if err != nil || op == nil || !strings.Contains(op.ID, "/zones/"+region+"-b/operations/") {
		t.Fatalf("zonal insert = %+v, %v", op, err)
	}
	e.must(c, sg)(op, nil)
	g, ok := e.sim.Group(sg.Name)
	if !ok || g.Scope != "zones/"+region+"-b" || g.TargetSize != 2 {
		t.Fatalf("group %+v", g)
	}
	sg.Spec.Zones = []string{"us-east1-b"}
	if _, err := c.Observe(e.ctx, sg); cloud.ReasonOf(err) != cloud.InvalidRequest || !strings.Contains(err.Error(), "spec.zones[0]") {
		t.Fatalf("zone of another region: %v", err)
	}
}

// A team's template named with image and machine type is copied into a template made for the group,
// with those replaced and everything else kept; the team's template is not changed.
func TestTemplateFromATeamTemplate(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.teamGroup(t, "other-v000", "team-template")
	sg := serverGroup("shop-main-v001", 1)
	sg.Spec.GCP = &v1alpha1.GCPServerGroup{InstanceTemplate: "team-template", Image: "shop-2", BackendServices: []string{backendName}}
	e.create(c, sg)
	var made, team gcpsim.TemplateView
	for _, tv := range e.sim.Templates() {
		switch tv.Name {
		case "shop-main-v001":
			made = tv
		case "team-template":
			team = tv
		}
	}
	if made.Properties["machineType"] != "e2-small" || !strings.Contains(fmt.Sprint(made.Properties["disks"]), "global/images/shop-2") ||
		!strings.Contains(made.Description, "gennaker.io/uid=uid-shop-main-v001") {
		t.Fatalf("made template %+v", made)
	}
	if team.Properties["disks"] != nil || team.Description != "" {
		t.Fatalf("the team's template changed: %+v", team)
	}
	labels, _ := made.Properties["labels"].(map[string]any)
	if labels["gennaker-managed-by"] != "gennaker" || labels["gennaker-cluster"] != "shop-main" {
		t.Fatalf("instance labels %v", labels)
	}
	g, _ := e.sim.Group(sg.Name)
	if !strings.HasSuffix(g.InstanceTemplate, "/global/instanceTemplates/shop-main-v001") {
		t.Fatalf("group built from %s", g.InstanceTemplate)
	}

	// Without image and machine type, the team's template is used as it is.
	sg2 := serverGroup("shop-main-v002", 1)
	sg2.Spec.GCP = &v1alpha1.GCPServerGroup{InstanceTemplate: "team-template"}
	e.create(c, sg2)
	if g, _ := e.sim.Group(sg2.Name); !strings.HasSuffix(g.InstanceTemplate, "/global/instanceTemplates/team-template") {
		t.Fatalf("group built from %s", g.InstanceTemplate)
	}
	if len(e.sim.Templates()) != 2 {
		t.Fatalf("templates %v", e.sim.Templates())
	}
}

// SetTraffic changes one backend service per call: with two, a group in one of them only is reported as
// the opposite of the spec's traffic, so that the controller calls SetTraffic again, both ways.
func TestTrafficOverTwoBackendServices(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.sim.AddBackendService("shop-api")
	sg := serverGroup("shop-main-v001", 1)
	sg.Spec.GCP.BackendServices = []string{backendName, "shop-api"}
	e.create(c, sg)
	in := func() (n int) {
		for _, name := range sg.Spec.GCP.BackendServices {
			if bs, _ := e.sim.BackendService(name); len(bs.Groups) == 1 {
				n++
			}
		}
		return n
	}
	for _, step := range []struct {
		want     v1alpha1.Traffic
		observed []v1alpha1.Traffic // after each SetTraffic call
		in       []int
	}{
		{v1alpha1.TrafficEnabled, []v1alpha1.Traffic{v1alpha1.TrafficDisabled, v1alpha1.TrafficEnabled}, []int{1, 2}},
		{v1alpha1.TrafficDisabled, []v1alpha1.Traffic{v1alpha1.TrafficEnabled, v1alpha1.TrafficDisabled}, []int{1, 0}},
	} {
		sg.Spec.Traffic = step.want
		for i, want := range step.observed {
			e.must(c, sg)(c.SetTraffic(e.ctx, sg, step.want))
			o, err := c.Observe(e.ctx, sg)
			if err != nil || o.Traffic != want || in() != step.in[i] {
				t.Fatalf("setting %s, call %d: observed %s (%v), in %d backend services; want %s, in %d", step.want, i+1, o.Traffic, err, in(), want, step.in[i])
			}
		}
	}
}

// A backend service deleted by someone else is one the group is not in: it is observed out of it,
// disabled without error, and deleted (not stuck on a 404); enabling into it is refused, naming it.
func TestBackendServiceDeletedBehindOurBack(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.sim.AddBackendService("shop-api")
	sg := serverGroup("shop-main-v001", 1)
	sg.Spec.GCP.BackendServices = []string{"shop-api", backendName}
	e.create(c, sg)
	sg.Spec.Traffic = v1alpha1.TrafficEnabled
	for range 2 {
		e.must(c, sg)(c.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled))
	}
	if !e.sim.RemoveBackendService("shop-api") {
		t.Fatal("no backend service shop-api")
	}
	if o, err := c.Observe(e.ctx, sg); err != nil || o.Traffic != v1alpha1.TrafficDisabled {
		t.Fatalf("observed %+v, %v; want Disabled (out of the service that is gone)", o, err)
	}
	if _, err := c.SetTraffic(e.ctx, sg, v1alpha1.TrafficEnabled); !cloud.IsNotFound(err) || !strings.Contains(err.Error(), "shop-api") {
		t.Fatalf("enabling into a deleted backend service: %v; want NotFound naming it", err)
	}
	for i := 0; ; i++ {
		gone, op, err := c.Delete(e.ctx, sg)
		if err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if gone {
			break
		}
		if i > 4 {
			t.Fatal("Delete never says gone")
		}
		e.must(c, sg)(op, nil)
	}
	if bs, _ := e.sim.BackendService(backendName); len(bs.Groups) != 0 || len(e.sim.Groups()) != 0 {
		t.Fatalf("left behind: backends %v, groups %v", bs.Groups, e.sim.Groups())
	}
}

// A group and its template deleted outside Gennaker are made again: the inserts' first requestIds are
// answered with the old operations, which ended, so the next ones in the chain are used; a new process
// walks the same chain to the same operation.
func TestRemadeAfterADeleteBehindOurBack(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	sg := serverGroup("shop-main-v001", 1)
	e.create(c, sg)

	opts := []option.ClientOption{option.WithEndpoint(e.url), option.WithoutAuthentication(), option.WithHTTPClient(e.bearer())}
	mc, err := compute.NewRegionInstanceGroupManagersRESTClient(e.ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	wait := func(o *compute.Operation, err error) {
		t.Helper()
		for i := 0; err == nil && !o.Done(); i++ {
			if i > 5 {
				t.Fatal("the team's delete never ended")
			}
			e.clock.Advance(stopDelay)
			err = o.Poll(e.ctx)
		}
		if err != nil {
			t.Fatalf("the team's delete: %v", err)
		}
	}
	wait(mc.Delete(e.ctx, &computepb.DeleteRegionInstanceGroupManagerRequest{Project: project, Region: region, InstanceGroupManager: sg.Name}))
	tc, err := compute.NewInstanceTemplatesRESTClient(e.ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	wait(tc.Delete(e.ctx, &computepb.DeleteInstanceTemplateRequest{Project: project, InstanceTemplate: sg.Name}))
	if o, err := c.Observe(e.ctx, sg); err != nil || o.Exists {
		t.Fatalf("after the delete behind our back: %+v, %v", o, err)
	}

	op, err := c.Create(e.ctx, sg)
	if err != nil || op == nil {
		t.Fatalf("Create after the delete = %+v, %v; want a new template insert", op, err)
	}
	if again, err := e.client().Create(e.ctx, sg); err != nil || again == nil || again.ID != op.ID {
		t.Fatalf("the same Create in a new process = %+v, %v; want %s", again, err, op.ID)
	}
	e.must(c, sg)(op, nil)
	e.create(c, sg)
	if diff := cmp.Diff(map[string]int{"instanceTemplates": 2, "instanceGroupManagers": 2}, e.sim.Created()); diff != "" {
		t.Fatalf("made (-want +got):\n%s", diff)
	}
	if o, err := c.Observe(e.ctx, sg); err != nil || !o.Exists || cloud.Check(sg, "group", o.Owner) != nil {
		t.Fatalf("remade group observed as %+v, %v", o, err)
	}
}

// A template of the ServerGroup's name being made by someone else (not yet there to read, but its name
// taken) stops Create: no group is inserted from an empty template; the next call looks again.
func TestTemplateTakenMeanwhileStopsCreate(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	sg := serverGroup("shop-main-v001", 1)
	tc, err := compute.NewInstanceTemplatesRESTClient(e.ctx, option.WithEndpoint(e.url), option.WithoutAuthentication(), option.WithHTTPClient(e.bearer()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Insert(e.ctx, &computepb.InsertInstanceTemplateRequest{Project: project, InstanceTemplateResource: &computepb.InstanceTemplate{
		Name: proto.String(sg.Name), Properties: &computepb.InstanceProperties{MachineType: proto.String("e2-small")}}}); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCalls()
	if op, err := c.Create(e.ctx, sg); op != nil || err != nil {
		t.Fatalf("Create = %+v, %v; want nothing started and no error", op, err)
	}
	calls := e.sim.Calls()
	if calls["instanceTemplates.insert"] != 1 || calls["regionInstanceGroupManagers.insert"] != 0 {
		t.Fatalf("calls %v; want the template's insert (refused) and no group insert", calls)
	}
}
