package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/admission"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
)

// BenchmarkScale measures the manager's memory with a large history, and how fast it still answers:
//
//	SCALE_DONE=10000 SCALE_RUNNING=500 SCALE_GROUPS=10000 go test ./test/bench -run '^$' -bench Scale -benchtime 1x -timeout 3h
//
// It seeds SCALE_DONE (default 300) finished Executions of a 5-stage pipeline, their status written
// directly as a finished run's is (the frozen pipeline spec, five stages with outputs and conditions: about
// 7 KB each, printed), in pipelines of at most 1000 runs (the most historyLimit keeps); SCALE_RUNNING
// (default 20) running ones, half waiting for a judgment, half in a one-hour wait; and SCALE_GROUPS
// (default 50) ServerGroups on the AWS simulator (no delays), which the manager makes there, 100 to a
// target group.
//
// The manager is cmd/manager built by the benchmark and run as a subprocess, so RSS is its own: VmRSS from
// /proc, the Go heap from its /metrics (go_memstats_heap_inuse_bytes). It is measured after a full resync
// (every object reconciled and the reconcile count still for 3 s), then the manager is stopped and started
// again, timed until it is ready (a new run of a zero wait succeeds), and measured again after its resync.
// Last, one judgment at a time (up to 100), a merge patch of spec.judgments.gate and the time until a watch
// shows the stage after it Running.
// groupsPerTargetGroup is how many of BenchmarkScale's ServerGroups share a target group.
const groupsPerTargetGroup = 100

func BenchmarkScale(b *testing.B) {
	done := intsFromEnv(b, "SCALE_DONE", "300")[0]
	running := intsFromEnv(b, "SCALE_RUNNING", "20")[0]
	groups := intsFromEnv(b, "SCALE_GROUPS", "50")[0]
	ctx := context.Background()
	ns := env.NamespaceWithoutAdmission(b)
	bin := buildManager(b)

	// The AWS simulator and its account, for the ServerGroups.
	sim := awssim.New(awssim.Options{
		Keys:        map[string]string{sgAccessKeyID: sgSecretKey},
		LaunchDelay: -1, TargetHealthyDelay: -1, TerminateDelay: -1, DeleteDelay: -1,
	})
	// Target groups of at most 100 groups each, as real load balancers hold a few groups, not thousands:
	// in one target group, every health look would read every group's instances.
	targetGroupOf := map[string]string{}
	for i, name := range sgNames("scale", groups) {
		arn := fmt.Sprintf("arn:aws:elasticloadbalancing:%s:123456789012:targetgroup/scale-%03d/0123456789abcdef", sgRegion, i/groupsPerTargetGroup)
		targetGroupOf[name] = arn
		sim.AddTargetGroup(arn)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	aws := awsCloud(sim, srv.URL)
	if err := env.Client.Create(ctx, aws.secret(ns)); err != nil {
		b.Fatalf("creating the credentials' secret: %v", err)
	}
	account := aws.account("scale-"+ns, ns, ns)
	if err := env.Client.Create(ctx, account); err != nil {
		b.Fatalf("creating the cloud account: %v", err)
	}
	defer func() { _ = env.Client.Delete(ctx, account) }()

	// Pipelines: the history's (1000 runs each), the running runs', and the probe's.
	historyPipelines := (done + 999) / 1000
	for i := range historyPipelines {
		createPipeline(b, ns, fmt.Sprintf("history-%02d", i), historyStages())
	}
	createPipeline(b, ns, "gate", []v1alpha1.Stage{
		{Name: "gate", StageType: v1alpha1.StageType{ManualJudgment: &v1alpha1.ManualJudgmentStage{Instructions: "go?"}}},
		{Name: "after", DependsOn: []string{"gate"}, StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "1h"}}},
	})
	createPipeline(b, ns, "soak", []v1alpha1.Stage{{Name: "soak", StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "1h"}}}})
	createPipeline(b, ns, "probe", []v1alpha1.Stage{zeroWait("now")})

	seed := time.Now()
	size := seedHistory(b, ns, done)
	fmt.Printf("\nseeded %d finished runs (status %d bytes as JSON each) in %s\n", done, size, time.Since(seed).Round(time.Millisecond))

	// The first manager makes the running runs wait and the groups converge.
	m := startManager(b, bin)
	m.ready(b, ns, "probe-0")
	judged := names("judged", running/2)
	soaks := names("soak", running-running/2)
	waiting := map[string]bool{}
	after := map[string]time.Time{}
	tr := track(b, ns, func(ex *v1alpha1.Execution, at time.Time) {
		for _, st := range ex.Status.Stages {
			switch {
			case st.Phase == v1alpha1.StageWaitingForJudgment, st.Name == "soak" && st.Phase == v1alpha1.StageRunning:
				waiting[ex.Name] = true
			case st.Name == "after" && st.Phase == v1alpha1.StageRunning:
				if _, seen := after[ex.Name]; !seen {
					after[ex.Name] = at
				}
			}
		}
	})
	defer tr.stop()
	if err := within(creators, judged, func(name string) error { return env.Client.Create(ctx, newExecution(ns, name, "gate")) }); err != nil {
		b.Fatalf("creating the judged runs: %v", err)
	}
	if err := within(creators, soaks, func(name string) error { return env.Client.Create(ctx, newExecution(ns, name, "soak")) }); err != nil {
		b.Fatalf("creating the waiting runs: %v", err)
	}
	ready := map[string]bool{}
	gt := trackGroups(b, ns, func(sg *v1alpha1.ServerGroup, deleted bool, _ time.Time) {
		if !deleted && converged(sg) {
			ready[sg.Name] = true
		}
	})
	defer gt.stop()
	start := time.Now()
	if err := within(creators, sgNames("scale", groups), func(name string) error {
		sg := newServerGroup(aws, ns, name, account.Name)
		sg.Spec.AWS.TargetGroupARNs = []string{targetGroupOf[name]}
		return env.Client.Create(ctx, sg)
	}); err != nil {
		b.Fatalf("creating the server groups: %v", err)
	}
	// 150 ms an object: at 10,000 groups on a 2-core machine they converge at about 7 a second.
	timeout := 5*time.Minute + time.Duration(groups+running)*150*time.Millisecond
	if !tr.wait(timeout, func() bool { return len(waiting) == running }) {
		b.Fatalf("%d of %d running runs came to wait", len(waiting), running)
	}
	if !gt.wait(timeout, func() bool { return len(ready) == groups }) {
		b.Fatalf("%d of %d server groups converged in %s", len(ready), groups, time.Since(start).Round(time.Second))
	}
	fmt.Printf("%d runs waiting and %d server groups converged in %s\n", running, groups, time.Since(start).Round(time.Millisecond))
	first := m.settled(b)
	m.stop(b)

	// The restart: how long until it works, and what it holds once it has seen everything again.
	m = startManager(b, bin)
	readyIn := m.ready(b, ns, "probe-1")
	second := m.settled(b)
	defer m.stop(b)

	// Judgments under that load, one at a time.
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"judgments":{"gate":{"decision":"Continue"}}}}`))
	var latencies []time.Duration
	for _, name := range judged[:min(len(judged), 100)] {
		t := time.Now()
		if err := env.Client.Patch(ctx, newExecution(ns, name, ""), patch); err != nil {
			b.Fatalf("judging %s: %v", name, err)
		}
		var at time.Time
		if !tr.wait(30*time.Second, func() bool { at = after[name]; return !at.IsZero() }) {
			b.Fatalf("stage after of %s did not start within 30s of its judgment", name)
		}
		latencies = append(latencies, at.Sub(t))
	}
	slices.Sort(latencies)

	b.ReportMetric(0, "ns/op")
	b.ReportMetric(mib(first.rss), "rss-MiB")
	b.ReportMetric(mib(first.heap), "heap-MiB")
	b.ReportMetric(mib(second.rss), "restarted-rss-MiB")
	b.ReportMetric(mib(second.heap), "restarted-heap-MiB")
	b.ReportMetric(readyIn.Seconds(), "restart-ready-s")
	fmt.Printf("\nScale: %d finished runs, %d running, %d server groups (AWS simulator), load %s\n", done, running, groups, loadavg())
	fmt.Printf("  after the first resync:  RSS %.0f MiB, Go heap in use %.0f MiB (%s)\n", mib(first.rss), mib(first.heap), first.took.Round(time.Millisecond))
	fmt.Printf("  after a restart's resync: RSS %.0f MiB, Go heap in use %.0f MiB; ready (a new run succeeded) %s after start, resync done %s after start\n",
		mib(second.rss), mib(second.heap), readyIn.Round(time.Millisecond), second.took.Round(time.Millisecond))
	if len(latencies) > 0 {
		p50, p99 := percentile(latencies, 50), percentile(latencies, 99)
		b.ReportMetric(ms(p50), "judgment-p50-ms")
		b.ReportMetric(ms(p99), "judgment-p99-ms")
		fmt.Printf("  judgment patch → next stage Running, %d one at a time: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n\n",
			len(latencies), ms(p50), ms(p99), ms(latencies[len(latencies)-1]))
	}
}

// historyStages are the history pipeline's five stages, with what a real one carries: a webhook with a
// body, a judgment with instructions, a precondition, a wait, a webhook that polls.
func historyStages() []v1alpha1.Stage {
	body := `{"text":"Release ${ parameters.version } of shop to production: ` + strings.Repeat("canary scores, error budget, dashboards; ", 8) + `"}`
	return []v1alpha1.Stage{
		{Name: "notify", StageType: v1alpha1.StageType{Webhook: &v1alpha1.WebhookStage{URL: "https://chat.example.com/hooks/release", Method: "POST", Body: body}}},
		{Name: "go-no-go", DependsOn: []string{"notify"}, StageType: v1alpha1.StageType{ManualJudgment: &v1alpha1.ManualJudgmentStage{
			Instructions: "Check the canary's scores and the error budget before you ship. " + strings.Repeat("See the runbook. ", 10),
			Inputs:       []string{"ship", "hold"}}}},
		{Name: "check", DependsOn: []string{"go-no-go"}, StageType: v1alpha1.StageType{CheckPreconditions: &v1alpha1.CheckPreconditionsStage{
			Expressions: []string{"stages['go-no-go'].outputs.input == 'ship'"}}}},
		{Name: "soak", DependsOn: []string{"check"}, StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "10m"}}},
		{Name: "announce", DependsOn: []string{"soak"}, StageType: v1alpha1.StageType{Webhook: &v1alpha1.WebhookStage{URL: "https://chat.example.com/hooks/done", Method: "POST", Body: body}}},
	}
}

// seedHistory creates done finished runs of the history pipelines and writes each one's status as the
// engine leaves it, and returns the size of one status as JSON.
func seedHistory(b *testing.B, ns string, done int) int {
	ctx := context.Background()
	spec := v1alpha1.PipelineSpec{Application: "bench", HistoryLimit: ptr.To(int32(1000)), LimitConcurrent: ptr.To(false), Stages: historyStages()}
	now := metav1.Now()
	status := func(i int) v1alpha1.ExecutionStatus {
		st := v1alpha1.ExecutionStatus{
			Phase: v1alpha1.ExecutionSucceeded, StartTime: &now, CompletionTime: &now, PipelineGeneration: 1,
			Parameters: map[string]string{"version": fmt.Sprintf("1.%d.0", i)}, PipelineSpec: spec.DeepCopy(),
		}
		for _, s := range spec.Stages {
			out := map[string]apiextensionsv1.JSON{
				"statusCode": {Raw: []byte("200")},
				"body":       {Raw: []byte(strconv.Quote(strings.Repeat("ok ", 100)))},
			}
			st.Stages = append(st.Stages, v1alpha1.StageStatus{
				Name: s.Name, Type: "webhook", Phase: v1alpha1.StageSucceeded, StartTime: &now, EndTime: &now,
				Message: "called https://chat.example.com/hooks/release: 200 OK", Outputs: out,
				Conditions: []metav1.Condition{{Type: "Judged", Status: metav1.ConditionTrue, Reason: "Continue",
					Message: "Continue by alice at 2026-12-04T10:00:00Z, input ship", LastTransitionTime: now}},
			})
		}
		// Observed at generation 1, as the engine leaves a run it finished: otherwise the first manager
		// writes every run's status once, which no real history asks of it.
		st.ObservedGeneration = 1
		st.Conditions = []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "every stage succeeded", LastTransitionTime: now, ObservedGeneration: 1},
			{Type: "Succeeded", Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "every stage succeeded", LastTransitionTime: now, ObservedGeneration: 1},
		}
		return st
	}
	raw, _ := json.Marshal(status(0))
	if err := within(creators, names("done", done), func(name string) error {
		i, _ := strconv.Atoi(strings.TrimPrefix(name, "done-"))
		ex := newExecution(ns, name, fmt.Sprintf("history-%02d", i/1000))
		// The run is created finished; the manager is not running yet, so nothing starts it.
		if err := env.Client.Create(ctx, ex); err != nil {
			return err
		}
		ex.Status = status(i)
		return env.Client.Status().Update(ctx, ex)
	}); err != nil {
		b.Fatalf("seeding the history: %v", err)
	}
	return len(raw)
}

// buildManager builds cmd/manager once per benchmark run.
func buildManager(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "manager")
	cmd := exec.Command("go", "build", "-o", out, "../../cmd/manager")
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("building the manager: %v", err)
	}
	fmt.Printf("built cmd/manager in %s\n", time.Since(start).Round(time.Second))
	return out
}

// manager is one manager subprocess.
type manager struct {
	cmd     *exec.Cmd
	metrics string
	started time.Time
}

// startManager runs the manager against the benchmark's API server, its metrics on a loopback port.
func startManager(b *testing.B, bin string) *manager {
	b.Helper()
	dir := b.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cfg := env.Config
	kc := clientcmdapi.NewConfig()
	kc.Clusters["bench"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["bench"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "bench"}
	kc.CurrentContext = "bench"
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		b.Fatalf("writing the manager's kubeconfig: %v", err)
	}
	metrics, probes, hooks := freePort(b), freePort(b), freePort(b)
	// The webhook configurations point at the benchmark's own webhook server (testenv), so the manager's
	// serves nothing; it needs a certificate to start, not the self-signed mode, which would point the
	// configurations at it and leave them dangling once it stops.
	if _, err := admission.SelfSigned(dir); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--metrics-bind-address", metrics, "--metrics-secure=false",
		"--health-probe-bind-address", probes, "--webhook-cert-dir", dir, "--webhook-port", strings.Split(hooks, ":")[1])
	logs, err := os.Create(filepath.Join(os.TempDir(), "gennaker-scale-manager.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	m := &manager{cmd: cmd, metrics: "http://" + metrics + "/metrics", started: time.Now()}
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the manager: %v", err)
	}
	// A benchmark that fails must not leave its manager running.
	b.Cleanup(func() { m.stop(b) })
	return m
}

func freePort(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// ready creates a run of the probe pipeline and returns how long after its start the manager took to
// finish it: its caches synced and its controllers working.
func (m *manager) ready(b *testing.B, ns, name string) time.Duration {
	b.Helper()
	// Time to ready is what is measured, so the wait is long: at the size the manager first lists
	// and reconciles tens of thousands of objects.
	runOneWithin(b, ns, name, "probe", 15*time.Minute)
	return time.Since(m.started)
}

// footprint is what a manager holds once it has seen everything.
type footprint struct {
	rss, heap float64
	took      time.Duration
}

// settled waits until the manager's reconciles stop for 3 s (its resync is done), then reads its memory.
func (m *manager) settled(b *testing.B) footprint {
	b.Helper()
	last, since := -1.0, time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		got := m.metric(b, "controller_runtime_reconcile_total")
		if got != last {
			last, since = got, now
		}
		if now.Sub(since) > 3*time.Second || now.Sub(m.started) > 30*time.Minute {
			break
		}
	}
	return footprint{rss: m.rss(b), heap: m.metric(b, "go_memstats_heap_inuse_bytes"), took: since.Sub(m.started)}
}

// metric sums the samples of one metric family on the manager's /metrics.
func (m *manager) metric(b *testing.B, name string) float64 {
	resp, err := http.Get(m.metrics)
	if err != nil {
		b.Fatalf("reading the manager's metrics: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// rss is the manager's resident set, from /proc.
func (m *manager) rss(b *testing.B) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("reading the manager's RSS: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

// stop ends the manager as Kubernetes would (SIGTERM) and waits for it.
func (m *manager) stop(b *testing.B) {
	if m.cmd.ProcessState != nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	_ = m.cmd.Wait()
}

func mib(bytes float64) float64 { return bytes / (1 << 20) }
