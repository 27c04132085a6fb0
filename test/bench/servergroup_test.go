package bench

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/controllers/cloud"
	awscloud "github.com/gennaker/gennaker/controllers/cloud/aws"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
	"github.com/gennaker/gennaker/test/testenv"
)

// BenchmarkServerGroup measures the ServerGroup controller's cloud path against the AWS simulator
// (test/cloudsim/aws) with no delays: instances are InService and healthy in their target group at the
// first look, and a deleted group is gone at the next one, so what is measured is the operator's own
// overhead (watch, queue, cache, status writes, poll), not AWS's.
//
// For each N of BENCH_SG_N (default 200), on one simulator:
//   - floor: N groups made by the AWS provider directly, with no Kubernetes at all and as many goroutines
//     as the controller has workers: Connect once, then per group Create, Observe until healthy (with
//     SetTraffic if the observation says traffic is not Enabled, as the controller does), then Delete until
//     gone;
//   - engine: N ServerGroups (desired 2, traffic Enabled, one target group) created at once against a
//     manager running every controller, timed until a watch shows each Ready, Healthy and TrafficEnabled at
//     its generation; then all N deleted at once, timed until the watch shows each gone.
//
// engine/floor is the engine's wall time over the floor's (the two make as many groups): 2 means the
// operator takes twice as long as the bare cloud calls, that is half their groups/s.
func BenchmarkServerGroup(b *testing.B) {
	benchmarkServerGroup(b, func() (*sgCloud, func()) {
		sim := awssim.New(awssim.Options{
			Keys:        map[string]string{sgAccessKeyID: sgSecretKey},
			LaunchDelay: -1, TargetHealthyDelay: -1, TerminateDelay: -1, DeleteDelay: -1,
		})
		sim.AddTargetGroup(sgTargetGroup)
		srv := httptest.NewServer(sim)
		return awsCloud(sim, srv.URL), srv.Close
	})
}

// sgCloud is what the ServerGroup benchmark needs of one cloud: its simulator, provider, account and
// server group spec. A cloud's benchmark builds one per N and hands it to benchmarkServerGroup.
type sgCloud struct {
	// name is the cloud's, as the tables print it (AWS, GCP).
	name string
	// about says what the simulator's groups are, for the tables' title.
	about    string
	kind     v1alpha1.Provider
	provider func() cloud.Provider
	// account is the CloudAccount of the simulator, reading its credentials from secretNamespace's Secret,
	// allowing the namespaces given; secret is that Secret, creds its value for the floor.
	account func(name, secretNamespace string, allowed ...string) *v1alpha1.CloudAccount
	secret  func(ns string) *corev1.Secret
	creds   []byte
	region  string
	// spec fills the group's cloud block.
	spec       func(*v1alpha1.CloudServerGroup)
	calls      func() map[string]int
	resetCalls func()
	// left counts what a case left in the simulator (groups, templates), which must be nothing.
	left func() (groups, templates int)
}

// awsCloud is the AWS simulator at endpoint.
func awsCloud(sim *awssim.Sim, endpoint string) *sgCloud {
	return &sgCloud{
		name: "AWS", about: "one target group, on the AWS simulator", kind: v1alpha1.ProviderAWS,
		provider: func() cloud.Provider { return sgProvider() },
		account: func(name, secretNamespace string, allowed ...string) *v1alpha1.CloudAccount {
			return sgAccount(name, endpoint, secretNamespace, allowed...)
		},
		secret: func(ns string) *corev1.Secret {
			return &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "aws-credentials"},
				Data:       map[string][]byte{"credentials": []byte(sgCredentials)},
			}
		},
		creds: []byte(sgCredentials), region: sgRegion,
		spec: func(c *v1alpha1.CloudServerGroup) {
			c.AWS = &v1alpha1.AWSServerGroup{
				ImageID: "ami-0abc1234def567890", InstanceType: "m7g.large",
				TargetGroupARNs: []string{sgTargetGroup}, SubnetIDs: []string{"subnet-0a"},
			}
		},
		calls: sim.Calls, resetCalls: sim.ResetCalls,
		left: func() (int, int) { return len(sim.Groups()), len(sim.LaunchTemplates()) },
	}
}

// benchmarkServerGroup runs the floor and the engine for each N of BENCH_SG_N on the cloud newCloud
// makes (with what to call when done with it), and prints the tables.
func benchmarkServerGroup(b *testing.B, newCloud func() (*sgCloud, func())) {
	var rows []sgResult
	var c *sgCloud
	for _, n := range intsFromEnv(b, "BENCH_SG_N", "200") {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var done func()
			c, done = newCloud()
			defer done()
			calls := strings.ToLower(c.name) + "-calls/group"
			floors := map[string]sgResult{}
			report := func(b *testing.B, results ...sgResult) {
				b.ReportMetric(0, "ns/op")
				for _, r := range results {
					rows = append(rows, r)
					b.ReportMetric(r.groupsPerSecond(), r.op+"-groups/s")
					b.ReportMetric(float64(r.cloudCalls())/float64(r.n), r.op+"-"+calls)
					if r.engine {
						b.ReportMetric(float64(r.k8s.sum(writesIn(r.ns)))/float64(r.n), r.op+"-k8s-writes/group")
						if f, ok := floors[r.op]; ok {
							b.ReportMetric(r.wall.Seconds()/f.wall.Seconds(), r.op+"-engine/floor")
						}
					} else {
						floors[r.op] = r
					}
				}
			}
			b.Run("floor", func(b *testing.B) {
				report(b, runSGFloor(b, c, n)...)
			})
			b.Run("engine", func(b *testing.B) {
				report(b, runSGEngine(b, c, n)...)
			})
		})
	}
	if c != nil {
		printSGTables(c, rows)
	}
}

// The simulated AWS account of the benchmark.
const (
	sgAccessKeyID = "AKIDGENNAKERBENCH001"
	sgSecretKey   = "gnkr-bench-secret"
	sgTargetGroup = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/bench-web/0123456789abcdef"
	sgRegion      = "us-east-1"
	sgDesired     = 2
	sgCredentials = "[default]\naws_access_key_id = " + sgAccessKeyID + "\naws_secret_access_key = " + sgSecretKey + "\n"
)

// sgWorkers is the ServerGroup controller's MaxConcurrentReconciles (not exported by its package).
const sgWorkers = 4

// sgProvider is the AWS provider as the controller tests configure it for the simulator.
func sgProvider() *awscloud.Provider { return &awscloud.Provider{MaxBackoff: 20 * time.Millisecond} }

// sgResult is one create or delete case of the floor or the engine.
type sgResult struct {
	engine bool
	// op is create or delete.
	op string
	n  int
	// wall is from the first create (delete) to the last group seen converged (gone).
	wall time.Duration
	// latency is, per group, from just before its create (delete) to its convergence (end).
	latency []time.Duration
	// calls are the simulator's requests by operation during the case.
	calls map[string]int
	cpu   cpu
	load  string
	// The engine's: its namespace, the manager's requests in it (Events included once all arrived), the
	// ServerGroup controller's reconciles and how long the benchmark took to send its n creates (deletes).
	ns         string
	k8s        counts
	reconciles float64
	sendWall   time.Duration
}

func (r sgResult) name() string {
	if r.engine {
		return "engine " + r.op
	}
	return "floor " + r.op
}

func (r sgResult) groupsPerSecond() float64 { return float64(r.n) / r.wall.Seconds() }

func (r sgResult) cloudCalls() int {
	n := 0
	for _, v := range r.calls {
		n += v
	}
	return n
}

// sgAccount is the CloudAccount of the simulator, allowing the namespaces given.
func sgAccount(name, endpoint, secretNamespace string, allowed ...string) *v1alpha1.CloudAccount {
	return &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.CloudAccountSpec{
			Provider: v1alpha1.ProviderAWS,
			Credentials: v1alpha1.Credentials{
				Source:    v1alpha1.CredentialSourceSecret,
				SecretRef: &v1alpha1.SecretKeyRef{Namespace: secretNamespace, Name: "aws-credentials", Key: "credentials"},
			},
			AWS:               &v1alpha1.AWSAccount{Regions: []string{sgRegion}, Endpoint: v1alpha1.Endpoint(endpoint)},
			AllowedNamespaces: allowed,
		},
	}
}

// sgNames are the Frigga names of n groups of cluster bench-main-<detail>, a thousand to a detail:
// bench-main-floor0-v000, ..., bench-main-floor0-v999, bench-main-floor1-v000, ...
func sgNames(detail string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("bench-main-%s%d-v%03d", detail, i/1000, i%1000)
	}
	return out
}

// newServerGroup is a group of two instances taking traffic from one load balancer of the cloud; name is
// bench-main-<detail>-vNNN.
func newServerGroup(c *sgCloud, ns, name, account string) *v1alpha1.ServerGroup {
	detail := strings.TrimPrefix(name[:len(name)-len("-v000")], "bench-main-")
	sg := &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "bench", Stack: "main", Detail: detail, Account: account, Region: c.region,
			Capacity: v1alpha1.Capacity{Min: 0, Max: 10, Desired: sgDesired},
			Traffic:  v1alpha1.TrafficEnabled,
		},
	}
	c.spec(&sg.Spec.CloudServerGroup)
	return sg
}

// converged says whether the group is Ready, Healthy and TrafficEnabled, all for its current generation.
func converged(sg *v1alpha1.ServerGroup) bool {
	if sg.Status.ObservedGeneration != sg.Generation {
		return false
	}
	for _, t := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionHealthy, v1alpha1.ConditionTrafficEnabled} {
		c := meta.FindStatusCondition(sg.Status.Conditions, t)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != sg.Generation {
			return false
		}
	}
	return true
}

// simEmpty fails the benchmark if a case left groups or templates in the simulator.
func simEmpty(b *testing.B, c *sgCloud, after string) {
	b.Helper()
	if g, lt := c.left(); g != 0 || lt != 0 {
		b.Errorf("after %s the %s simulator still has %d groups and %d templates", after, c.name, g, lt)
	}
}

// runSGFloor makes and deletes n groups with the cloud's provider alone, sgWorkers at a time. An
// operation a call starts is polled at once until it ended, as tightly as the cloud answers.
func runSGFloor(b *testing.B, sc *sgCloud, n int) []sgResult {
	ctx := context.Background()
	c, err := sc.provider().Connect(ctx, sc.account("bench-floor", "none"), cloud.NewCredentials(sc.creds))
	if err != nil {
		b.Fatalf("connecting to the simulator: %v", err)
	}
	groups, indices := make([]*v1alpha1.ServerGroup, n), make([]int, n)
	for i, name := range sgNames("floor", n) {
		groups[i] = newServerGroup(sc, "floor", name, "bench-floor")
		groups[i].UID = uuid.NewUUID() // the owner tag of what Create makes; Delete checks it
		indices[i] = i
	}
	deadline := 2*time.Minute + time.Duration(n)*100*time.Millisecond
	// settle waits for what a call started; AWS starts nothing.
	settle := func(sg *v1alpha1.ServerGroup) func(*v1alpha1.CloudOperation, error) error {
		return func(op *v1alpha1.CloudOperation, err error) error {
			for err == nil && op != nil {
				var done bool
				if done, err = c.Operation(ctx, sg, *op); done {
					break
				}
			}
			return err
		}
	}

	// Each step returns how long it took for its group.
	create := func(sg *v1alpha1.ServerGroup) (time.Duration, error) {
		start := time.Now()
		if err := settle(sg)(c.Create(ctx, sg)); err != nil {
			return 0, err
		}
		for {
			obs, err := c.Observe(ctx, sg)
			if err != nil {
				return 0, err
			}
			if !obs.Exists {
				// A cloud that makes a group in steps (GCP: the template, then the group).
				if err := settle(sg)(c.Create(ctx, sg)); err != nil {
					return 0, err
				}
				continue
			}
			if !obs.Deleting && obs.Traffic != v1alpha1.TrafficEnabled {
				if err := settle(sg)(c.SetTraffic(ctx, sg, v1alpha1.TrafficEnabled)); err != nil {
					return 0, err
				}
				continue
			}
			if obs.Exists && !obs.Deleting && obs.Instances.Healthy == sgDesired && obs.Instances.Desired == sgDesired {
				return time.Since(start), nil
			}
			if time.Since(start) > deadline {
				return 0, fmt.Errorf("group %s not healthy within %s: %+v", sg.Name, deadline, obs)
			}
		}
	}
	remove := func(sg *v1alpha1.ServerGroup) (time.Duration, error) {
		start := time.Now()
		for {
			gone, op, err := c.Delete(ctx, sg)
			if err := settle(sg)(op, err); err != nil || gone {
				return time.Since(start), err
			}
			if time.Since(start) > deadline {
				return 0, fmt.Errorf("group %s not gone within %s", sg.Name, deadline)
			}
		}
	}

	var out []sgResult
	for _, step := range []struct {
		op string
		do func(*v1alpha1.ServerGroup) (time.Duration, error)
	}{{"create", create}, {"delete", remove}} {
		r := sgResult{op: step.op, n: n}
		latencies := make([]time.Duration, n)
		sc.resetCalls()
		cpu0, start := sampleCPU(), time.Now()
		err := within(sgWorkers, indices, func(i int) error {
			d, err := step.do(groups[i])
			latencies[i] = d
			return err
		})
		r.wall, r.cpu = time.Since(start), sampleCPU().since(cpu0)
		r.calls, r.load = sc.calls(), loadavg()
		if err != nil {
			b.Fatalf("floor %s: %v", step.op, err)
		}
		slices.Sort(latencies)
		r.latency = latencies
		out = append(out, r)
	}
	simEmpty(b, sc, "the floor")
	return out
}

// runSGEngine starts a counted manager whose provider talks to the simulator, lets one group through
// (the manager is then up: caches synced, the account's client made), then creates n ServerGroups at once
// and waits until all converged, then deletes them all at once and waits until all are gone.
func runSGEngine(b *testing.B, sc *sgCloud, n int) []sgResult {
	ctx := context.Background()
	ns, warm := env.Namespace(b), env.Namespace(b)
	defer cleanup(b, []client.Object{&eventsv1.Event{}}, ns, warm)
	if err := env.Client.Create(ctx, sc.secret(ns)); err != nil {
		b.Fatalf("creating the credentials' secret: %v", err)
	}
	account := sc.account(ns, ns, ns, warm)
	if err := env.Client.Create(ctx, account); err != nil {
		b.Fatalf("creating the cloud account: %v", err)
	}
	defer func() { _ = env.Client.Delete(ctx, account) }()

	var count counter
	cfg := count.config(env.Config)
	stop := env.StartManagerWith(b, testenv.Manager{Config: cfg, Controllers: controllers.Options{
		Providers:       map[v1alpha1.Provider]cloud.Provider{sc.kind: sc.provider()},
		ServerGroupPoll: 100 * time.Millisecond,
		CloudMaxBackoff: 500 * time.Millisecond,
	}})
	defer stop()
	warmUp(b, sc, warm, account.Name)
	simEmpty(b, sc, "the warm-up")

	groups := sgNames("engine", n)
	started := make(map[string]time.Time, n)
	ready := make(map[string]time.Time, n)
	gone := make(map[string]time.Time, n)
	var failures []string
	tr := trackGroups(b, ns, func(sg *v1alpha1.ServerGroup, deleted bool, at time.Time) {
		switch {
		case deleted:
			gone[sg.Name] = at
		case converged(sg):
			if _, seen := ready[sg.Name]; !seen {
				ready[sg.Name] = at
			}
		default:
			if c := meta.FindStatusCondition(sg.Status.Conditions, v1alpha1.ConditionReady); c != nil &&
				c.Status == metav1.ConditionFalse && c.Reason != v1alpha1.ReasonCreating && c.Reason != v1alpha1.ReasonUpdating &&
				c.Reason != v1alpha1.ReasonDeleting {
				failures = append(failures, fmt.Sprintf("%s %s: %s", sg.Name, c.Reason, c.Message))
			}
		}
	})
	defer tr.stop()

	timeout := 2*time.Minute + time.Duration(n)*100*time.Millisecond
	// step runs act on every group with creators goroutines and waits until done holds every group.
	step := func(op string, act func(name string) error, done map[string]time.Time) sgResult {
		r := sgResult{engine: true, op: op, n: n, ns: ns}
		sc.resetCalls()
		before, cpu0, rec0 := count.snapshot(), sampleCPU(), sgReconciles()
		start := time.Now()
		err := within(creators, groups, func(name string) error {
			t := time.Now()
			tr.mu.Lock()
			started[name] = t
			tr.mu.Unlock()
			return act(name)
		})
		if err != nil {
			b.Fatalf("engine %s: %v", op, err)
		}
		r.sendWall = time.Since(start)
		finished := tr.wait(timeout, func() bool { return len(done) == n })
		r.cpu, r.load = sampleCPU().since(cpu0), loadavg()
		r.calls = sc.calls()
		tr.mu.Lock()
		var last time.Time
		for name, at := range done {
			r.latency = append(r.latency, at.Sub(started[name]))
			if at.After(last) {
				last = at
			}
		}
		fails := slices.Clone(failures)
		failures = nil
		tr.mu.Unlock()
		r.wall = last.Sub(start)
		if !finished {
			r.wall = time.Since(start)
			b.Errorf("engine %s: %d of %d groups done within %s", op, len(r.latency), n, timeout)
		}
		slices.Sort(r.latency)
		// Events go out asynchronously: one per group created, two per group deleted (Deleting, Deleted).
		perGroup := map[string]int{"create": 1, "delete": 2}[op]
		drainEvents(&count, before, ns, n*perGroup)
		r.k8s = count.snapshot().since(before)
		r.reconciles = sgReconciles() - rec0
		if len(fails) > 0 {
			b.Errorf("%d groups failed a reconcile, e.g. %s", len(fails), fails[0])
		}
		return r
	}

	created := step("create", func(name string) error {
		return env.Client.Create(ctx, newServerGroup(sc, ns, name, account.Name))
	}, ready)
	deleted := step("delete", func(name string) error {
		return env.Client.Delete(ctx, &v1alpha1.ServerGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
	}, gone)
	simEmpty(b, sc, "the engine")
	return []sgResult{created, deleted}
}

// warmUp creates one group, waits until it converged, deletes it and waits until it is gone, polling
// every 50 ms.
func warmUp(b *testing.B, c *sgCloud, ns, account string) {
	b.Helper()
	ctx := context.Background()
	const name = "bench-main-warmup-v000"
	if err := env.Client.Create(ctx, newServerGroup(c, ns, name, account)); err != nil {
		b.Fatalf("creating the warm-up group: %v", err)
	}
	key := types.NamespacedName{Namespace: ns, Name: name}
	poll := func(what string, done func(err error, sg *v1alpha1.ServerGroup) bool) {
		var sg v1alpha1.ServerGroup
		deadline := time.Now().Add(testenv.EventuallyTimeout)
		for tick := time.NewTicker(50 * time.Millisecond); time.Now().Before(deadline); <-tick.C {
			if done(env.Client.Get(ctx, key, &sg), &sg) {
				tick.Stop()
				return
			}
		}
		b.Fatalf("the warm-up group did not %s within %s: conditions %v", what, testenv.EventuallyTimeout, sg.Status.Conditions)
	}
	poll("converge", func(err error, sg *v1alpha1.ServerGroup) bool { return err == nil && converged(sg) })
	if err := env.Client.Delete(ctx, &v1alpha1.ServerGroup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
		b.Fatalf("deleting the warm-up group: %v", err)
	}
	poll("go", func(err error, _ *v1alpha1.ServerGroup) bool { return apierrors.IsNotFound(err) })
}

// trackGroups is track for the ServerGroups of a namespace: on gets every version the watch delivers, and
// deleted true when one is gone.
func trackGroups(b *testing.B, ns string, on func(sg *v1alpha1.ServerGroup, deleted bool, at time.Time)) *tracker {
	return watch(b, ns, &v1alpha1.ServerGroup{}, func(obj any, deleted bool, at time.Time) {
		if sg, ok := obj.(*v1alpha1.ServerGroup); ok {
			on(sg, deleted, at)
		}
	})
}

// sgReconciles counts the ServerGroup controller's reconciles so far, whatever their result (reconciles
// counts the Execution controller's only).
func sgReconciles() float64 {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0
	}
	n := 0.0
	for _, mf := range families {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "servergroup" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// printSGTables prints the ServerGroup cases, floor and engine side by side, to stdout.
func printSGTables(c *sgCloud, rows []sgResult) {
	if len(rows) == 0 {
		return
	}
	floors := map[string]sgResult{}
	for _, r := range rows {
		if !r.engine {
			floors[fmt.Sprint(r.op, r.n)] = r
		}
	}
	fmt.Printf("\nServerGroups of %d instances and %s with no delays: the operator's overhead, not %s's.\n", sgDesired, c.about, c.name)
	fmt.Printf("floor: the %s provider alone, %d goroutines (Create, Observe until healthy; Delete until gone; operations polled at once). engine: the manager, %d workers, poll %s.\n",
		c.name, sgWorkers, sgWorkers, 100*time.Millisecond)

	fmt.Println("\nTime (wall: from the first create or delete to the last group converged or gone, as a watch sees it for the engine; a group: from its create or delete)")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\tN\twall\tgroups/s\tms/group\tengine/floor\tgroup p50 ms\tgroup p99 ms\tload avg\t")
	for _, r := range rows {
		ratio := ""
		if f, ok := floors[fmt.Sprint(r.op, r.n)]; ok && r.engine {
			ratio = fmt.Sprintf("%.2f", r.wall.Seconds()/f.wall.Seconds())
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%.0f\t%.2f\t%s\t%.0f\t%.0f\t%s\t\n",
			r.name(), r.n, r.wall.Round(time.Millisecond), r.groupsPerSecond(), ms(r.wall)/float64(r.n), ratio,
			ms(percentile(r.latency, 50)), ms(percentile(r.latency, 99)), r.load)
	}
	_ = w.Flush()

	fmt.Println("\nCost per group (the manager's requests in the case's namespace, Events included once all were written; CPU while the case ran, the simulator's included)")
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\tN\t"+c.name+" calls\tk8s writes\tservergroups\tservergroups/status\tevents\tfailed requests\treconciles\tCPU ms: test process\tapiserver\tetcd\t")
	for _, r := range rows {
		n := float64(r.n)
		per := func(d time.Duration) float64 { return ms(d) / n }
		if !r.engine {
			fmt.Fprintf(w, "%s\t%d\t%.2f\t\t\t\t\t\t\t%.2f\t%.2f\t%.2f\t\n",
				r.name(), r.n, float64(r.cloudCalls())/n, per(r.cpu.Self), per(r.cpu.APIServer), per(r.cpu.Etcd))
			continue
		}
		fmt.Fprintf(w, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			r.name(), r.n, float64(r.cloudCalls())/n, float64(r.k8s.sum(writesIn(r.ns)))/n,
			float64(r.k8s.sum(writesTo(r.ns, "servergroups")))/n, float64(r.k8s.sum(writesTo(r.ns, "servergroups/status")))/n,
			float64(r.k8s.sum(writesTo(r.ns, "events")))/n, r.k8s.sum(failed(r.ns)), r.reconciles/n,
			per(r.cpu.Self), per(r.cpu.APIServer), per(r.cpu.Etcd))
	}
	_ = w.Flush()

	fmt.Println("\n" + c.name + " calls per group, by operation")
	ops := map[string]bool{}
	for _, r := range rows {
		for op := range r.calls {
			ops[op] = true
		}
	}
	sorted := make([]string, 0, len(ops))
	for op := range ops {
		sorted = append(sorted, op)
	}
	sort.Strings(sorted)
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"operation"}
	for _, r := range rows {
		header = append(header, fmt.Sprintf("%s N=%d", r.name(), r.n))
	}
	fmt.Fprintln(w, strings.Join(header, "\t")+"\t")
	for _, op := range sorted {
		line := []string{op}
		for _, r := range rows {
			line = append(line, fmt.Sprintf("%.2f", float64(r.calls[op])/float64(r.n)))
		}
		fmt.Fprintln(w, strings.Join(line, "\t")+"\t")
	}
	_ = w.Flush()

	fmt.Println()
	for _, r := range rows {
		if r.engine {
			fmt.Printf("engine %s N=%d: the benchmark's %d %ss sent in %s; requests: %s\n",
				r.op, r.n, r.n, r.op, r.sendWall.Round(time.Millisecond), describe(r.k8s, r.ns))
		}
	}
	fmt.Println()
}
