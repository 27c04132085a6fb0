package cli

import (
	"context"
	"regexp"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// TestTables: list (newest first, with who triggered), pending (with who may approve), servergroups
// (newest first, capacity, health, traffic, the run that made each), each from the fixture.
func TestTables(t *testing.T) {
	ns := namespace(t, "tables")
	fixture(t, ns)
	sg := &v1alpha1.ServerGroup{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "shop-main-v001"}, sg); err != nil {
		t.Fatal(err)
	}
	// Ages of server groups count from their creation, which the API server stamps.
	later := sg.CreationTimestamp.Add(90 * 60e9)
	for name, c := range map[string]struct {
		args []string
		at   bool
	}{
		"list":              {args: []string{"-n", ns, "list"}},
		"list-pipeline":     {args: []string{"-n", ns, "list", "smoke-tests"}},
		"pending":           {args: []string{"-n", ns, "pending"}},
		"servergroups":      {args: []string{"-n", ns, "servergroups", "shop-main"}, at: true},
		"servergroups-none": {args: []string{"-n", ns, "servergroups", "web-main"}, at: true},
	} {
		t.Run(name, func(t *testing.T) {
			at := now
			if c.at {
				at = later
			}
			r := plugin(t, at, c.args...)
			if r.code != 0 || r.err != "" {
				t.Fatalf("exit %d: %s", r.code, r.err)
			}
			golden(t, name, r.out)
		})
	}
}

// TestErrors: what a user gets wrong is one line on stderr naming the run, the stage or the flag, and a
// non-zero exit; nothing is changed.
func TestErrors(t *testing.T) {
	ns := namespace(t, "errors")
	fixture(t, ns)
	grant(t, ns, "bob@example.com")
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"no such execution":       {[]string{"get", "nope"}, "error: no execution nope in namespace errors\n"},
		"no such pipeline":        {[]string{"start", "nope"}, "error: no pipeline nope in namespace errors\n"},
		"bad parameter":           {[]string{"start", "demo", "-p", "image"}, "error: --param \"image\": want key=value\n"},
		"bad artifact":            {[]string{"start", "demo", "--artifact", "type=Jar"}, "error: --artifact \"type=Jar\": type and reference are required\n"},
		"bad output":              {[]string{"list", "-o", "wide"}, "error: --output \"wide\" is not one of json, yaml, name\n"},
		"not a judgment":          {[]string{"approve", "demo-1", "disable-old"}, "error: stage disable-old of demo-1 is a wait stage, not a manual judgment\n"},
		"no such stage":           {[]string{"approve", "demo-1", "nope"}, "error: demo-1 has no stage nope\n"},
		"not waiting":             {[]string{"approve", "demo-2", "go-no-go"}, "error: stage go-no-go of demo-2 is not waiting for a judgment: it is NotStarted\n"},
		"none waits":              {[]string{"reject", "demo-2"}, "error: no judgment of demo-2 waits (the run is Running)\n"},
		"already judged":          {[]string{"approve", "demo-0", "go-no-go"}, "error: stage go-no-go of demo-0 was already judged: Continue by alice@example.com at 2026-03-02T08:57:00Z, input ship: looks good\n"},
		"not allowed":             {[]string{"--as", "bob@example.com", "approve", "demo-1", "--input", "ship"}, "error: spec.judgments[go-no-go]: Forbidden: bob@example.com may not judge stage go-no-go: only users alice@example.com or members of groups release-managers may\n"},
		"skip a judgment":         {[]string{"skip-wait", "demo-1", "go-no-go"}, "error: stage go-no-go of demo-1 is a manualJudgment stage, not a wait\n"},
		"skip a wait not running": {[]string{"skip-wait", "demo-1", "disable-old"}, "error: stage disable-old of demo-1 is not waiting: it is NotStarted\n"},
		"cancel a finished run":   {[]string{"cancel", "demo-0"}, "error: demo-0 has already ended (Succeeded)\n"},
	} {
		t.Run(name, func(t *testing.T) {
			r := plugin(t, now, append([]string{"-n", ns}, c.args...)...)
			if r.code == 0 {
				t.Errorf("exit 0, want non-zero")
			}
			if r.err != c.want || r.out != "" {
				t.Errorf("stderr %q, want %q; stdout %q", r.err, c.want, r.out)
			}
		})
	}
	ex := &v1alpha1.Execution{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "demo-1"}, ex); err != nil {
		t.Fatal(err)
	}
	if len(ex.Spec.Judgments) != 0 || ex.Spec.Cancel || len(ex.Spec.SkipWaits) != 0 {
		t.Errorf("a refused command changed demo-1: %+v", ex.Spec)
	}
}

// TestChanges: approve without a stage finds the one waiting and writes the decision, which admission
// stamps with who made it; skip-wait adds to spec.skipWaits; cancel sets spec.cancel; start creates a run
// with its parameters and artifacts and prints its generated name.
func TestChanges(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "changes")
	fixture(t, ns)
	get := func(name string) *v1alpha1.Execution {
		ex := &v1alpha1.Execution{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ex); err != nil {
			t.Fatal(err)
		}
		return ex
	}

	grant(t, ns, "alice@example.com")
	r := plugin(t, now, "-n", ns, "--as", "alice@example.com", "approve", "demo-1", "--input", "ship", "--comment", "scores look right")
	if r.code != 0 || r.out != "go-no-go approved on demo-1 (Continue, input ship, by alice@example.com)\n" {
		t.Errorf("approve: exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	j := get("demo-1").Spec.Judgments["go-no-go"]
	if j.Decision != v1alpha1.DecisionContinue || j.Input != "ship" || j.Comment != "scores look right" || j.JudgedBy != "alice@example.com" || j.JudgedAt == nil {
		t.Errorf("judgment %+v", j)
	}

	r = plugin(t, now, "-n", ns, "skip-wait", "demo-1-smoke", "soak")
	if r.code != 0 || r.out != "soak skipped on demo-1-smoke\n" {
		t.Errorf("skip-wait: exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	if got := get("demo-1-smoke").Spec.SkipWaits; len(got) != 1 || got[0] != "soak" {
		t.Errorf("skipWaits %v", got)
	}

	r = plugin(t, now, "-n", ns, "cancel", "demo-2")
	if r.code != 0 || r.out != "demo-2 canceled\n" {
		t.Errorf("cancel: exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	if ex := get("demo-2"); !ex.Spec.Cancel || ex.Annotations[v1alpha1.AnnotationCanceledBy] != "admin" {
		t.Errorf("demo-2 not canceled by admin: cancel %v, annotations %v", ex.Spec.Cancel, ex.Annotations)
	}

	r = plugin(t, now, "-n", ns, "start", "demo", "-p", "image=ami-0ddd", "--artifact", "type=MachineImage,reference=ami-0ddd,version=1.4")
	if r.code != 0 || !regexp.MustCompile(`^demo-[a-z0-9]{5}\n$`).MatchString(r.out) {
		t.Fatalf("start: exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	ex := get(r.out[:len(r.out)-1])
	if ex.Spec.Pipeline != "demo" || ex.Spec.Parameters["image"] != "ami-0ddd" || len(ex.Spec.Artifacts) != 1 || ex.Spec.Artifacts[0].Version != "1.4" ||
		ex.Annotations[v1alpha1.AnnotationCreatedBy] != "admin" {
		t.Errorf("started %+v, annotations %v", ex.Spec, ex.Annotations)
	}
	r = plugin(t, now, "-n", ns, "start", "demo", "-p", "image=ami-0eee", "-o", "name")
	if r.code != 0 || !regexp.MustCompile(`^execution.delivery.gennaker.io/demo-[a-z0-9]{5}\n$`).MatchString(r.out) {
		t.Errorf("start -o name: exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
}
