package bench

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// waits is the number of zero-length wait stages of the benchmark's pipelines.
const waits = 10

// transitionsPerRun is how many stage transitions a run of the pipeline makes: NotStarted→Running and
// Running→Succeeded for each wait.
const transitionsPerRun = 2 * waits

// creators is how many goroutines create the Executions of a case.
const creators = 8

// A shape is a graph of ten zero-length waits.
type shape struct {
	name   string
	stages func() []v1alpha1.Stage
}

var shapes = []shape{
	// chain: s1 → s2 → … → s10.
	{"chain", func() []v1alpha1.Stage {
		var out []v1alpha1.Stage
		for i := 1; i <= waits; i++ {
			st := zeroWait(fmt.Sprintf("s%d", i))
			if i > 1 {
				st.DependsOn = []string{fmt.Sprintf("s%d", i-1)}
			}
			out = append(out, st)
		}
		return out
	}},
	// fanout: s1, then s2 … s10 all depending on s1 only.
	{"fanout", func() []v1alpha1.Stage {
		out := []v1alpha1.Stage{zeroWait("s1")}
		for i := 2; i <= waits; i++ {
			st := zeroWait(fmt.Sprintf("s%d", i))
			st.DependsOn = []string{"s1"}
			out = append(out, st)
		}
		return out
	}},
}

func zeroWait(name string) v1alpha1.Stage {
	return v1alpha1.Stage{Name: name, StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "0s"}}}
}

// createPipeline creates a pipeline whose runs all run at once (limitConcurrent false) and are all kept
// (historyLimit 1000, the most the API allows): neither the queue nor pruning is what is measured.
func createPipeline(b *testing.B, ns, name string, stages []v1alpha1.Stage) {
	b.Helper()
	pl := &v1alpha1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.PipelineSpec{
			Application:     "bench",
			LimitConcurrent: ptr.To(false),
			HistoryLimit:    ptr.To(int32(1000)),
			Stages:          stages,
		},
	}
	if err := env.Client.Create(context.Background(), pl); err != nil {
		b.Fatalf("creating pipeline %s/%s: %v", ns, name, err)
	}
}

func newExecution(ns, name, pipeline string) *v1alpha1.Execution {
	return &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: pipeline},
	}
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

// engineResult is what one engine case measured.
type engineResult struct {
	shape string
	n     int
	// transitions counted on the finished runs' stages (2 per stage that reached Succeeded).
	transitions int
	// wall is from the first create to the last run seen Succeeded by the watch.
	wall time.Duration
	// runLatency is, per run, from just before its create to its Succeeded seen by the watch.
	runLatency []time.Duration
	// during are the manager's requests in the case's namespace until the last run succeeded; all adds
	// the Events written after it (they are sent asynchronously).
	during, all counts
	ns          string
	eventsLag   time.Duration
	// createWall is how long creating the n Executions took.
	createWall time.Duration
	cpu        cpu
	reconciles float64
	byResult   string
	load       string
	failures   []string
}

// engineWrites are the manager's writes to Executions: the engine's status writes and any other.
func (r engineResult) engineWrites(c counts) int {
	return c.sum(writesTo(r.ns, "executions", "executions/status"))
}

func (r engineResult) events(c counts) int { return c.sum(writesTo(r.ns, "events")) }

// BenchmarkEngine runs, for each N of BENCH_N, the floors and then N Executions of each shape, and prints
// tables of them all. Run it with -benchtime 1x: each case is one measurement of N runs.
func BenchmarkEngine(b *testing.B) {
	template := sampleStatus(b)
	var rows []any
	for _, n := range sizes(b) {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			floors := map[string]floorResult{}
			for _, v := range floorVariants {
				b.Run(v.name, func(b *testing.B) {
					f := runFloor(b, v, n, template)
					floors[v.name] = f
					rows = append(rows, f)
					b.ReportMetric(0, "ns/op")
					b.ReportMetric(f.nsPerWrite(), "ns/write")
					b.ReportMetric(float64(f.writes)/f.wall.Seconds(), "writes/s")
				})
			}
			for _, sh := range shapes {
				b.Run(sh.name, func(b *testing.B) {
					r := runEngine(b, sh, n)
					rows = append(rows, r)
					t := float64(r.transitions)
					b.ReportMetric(0, "ns/op")
					b.ReportMetric(t/r.wall.Seconds(), "transitions/s")
					b.ReportMetric(float64(r.wall.Nanoseconds())/t, "ns/transition")
					b.ReportMetric(float64(r.engineWrites(r.all))/t, "writes/transition")
					b.ReportMetric(float64(r.all.sum(writesIn(r.ns)))/t, "writes+events/transition")
					for name, unit := range map[string]string{"floor": "engine/floor", "floor-sized": "engine/floor-sized"} {
						if f, ok := floors[name]; ok {
							b.ReportMetric(r.nsPerTransition()/f.nsPerWrite(), unit)
						}
					}
				})
			}
		})
	}
	printTables(rows)
}

func (r engineResult) nsPerTransition() float64 {
	return float64(r.wall.Nanoseconds()) / float64(r.transitions)
}

// sampleStatus runs one Execution of the chain and returns its finished status: the floor's objects get
// it, so that the floor writes objects as big as the engine's.
func sampleStatus(b *testing.B) v1alpha1.ExecutionStatus {
	b.Helper()
	ns := env.Namespace(b)
	createPipeline(b, ns, "bench", shapes[0].stages())
	var count counter
	stop := env.StartManagerWithConfig(b, count.config(env.Config))
	defer stop()
	st := runOne(b, ns, "sample", "bench")
	// Stopping the manager cancels the Events still on their way, and their recorder logs each as an error.
	drainEvents(&count, nil, ns, transitionsPerRun+2)
	return *st
}

// runOne runs one Execution and waits for it to succeed, polling every 50 ms.
func runOne(b *testing.B, ns, name, pipeline string) *v1alpha1.ExecutionStatus {
	b.Helper()
	return runOneWithin(b, ns, name, pipeline, testenv.EventuallyTimeout)
}

// runOneWithin is runOne, waiting up to timeout.
func runOneWithin(b *testing.B, ns, name, pipeline string, timeout time.Duration) *v1alpha1.ExecutionStatus {
	b.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, newExecution(ns, name, pipeline)); err != nil {
		b.Fatalf("creating execution %s: %v", name, err)
	}
	var ex v1alpha1.Execution
	deadline := time.Now().Add(timeout)
	for tick := time.NewTicker(50 * time.Millisecond); time.Now().Before(deadline); <-tick.C {
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &ex); err == nil && ex.Status.Phase == v1alpha1.ExecutionSucceeded {
			tick.Stop()
			return &ex.Status
		}
	}
	b.Fatalf("execution %s/%s did not succeed in %s: phase %q, conditions %v", ns, name, timeout, ex.Status.Phase, ex.Status.Conditions)
	return nil
}

// runEngine starts a counted manager, lets a first run through (the manager is then up: caches synced,
// controllers started), then creates n Executions of the shape at once and waits until all succeeded.
func runEngine(b *testing.B, sh shape, n int) engineResult {
	ctx := context.Background()
	ns, warm := env.Namespace(b), env.Namespace(b)
	defer cleanup(b, []client.Object{&v1alpha1.Execution{}, &eventsv1.Event{}, &v1alpha1.Pipeline{}}, ns, warm)
	createPipeline(b, ns, "bench", sh.stages())
	createPipeline(b, warm, "bench", sh.stages())
	var count counter
	stop := env.StartManagerWithConfig(b, count.config(env.Config))
	defer stop()
	runOne(b, warm, "warm-up", "bench")

	r := engineResult{shape: sh.name, n: n, ns: ns}
	created := make(map[string]time.Time, n)
	done := make(map[string]time.Time, n)
	var last time.Time
	tr := track(b, ns, func(ex *v1alpha1.Execution, at time.Time) {
		if _, seen := done[ex.Name]; seen {
			return
		}
		switch ex.Status.Phase {
		case v1alpha1.ExecutionSucceeded:
			done[ex.Name], last = at, at
		case v1alpha1.ExecutionFailed, v1alpha1.ExecutionCanceled:
			done[ex.Name], last = at, at
			r.failures = append(r.failures, fmt.Sprintf("%s %s: %s", ex.Name, ex.Status.Phase, readyMessage(ex)))
		}
	})
	defer tr.stop()

	before, cpu0, rec0 := count.snapshot(), sampleCPU(), reconciles()
	start := time.Now()
	err := within(creators, names("run", n), func(name string) error {
		t := time.Now()
		tr.mu.Lock()
		created[name] = t
		tr.mu.Unlock()
		return env.Client.Create(ctx, newExecution(ns, name, "bench"))
	})
	if err != nil {
		b.Fatalf("creating executions: %v", err)
	}
	r.createWall = time.Since(start)
	timeout := 2*time.Minute + time.Duration(n)*100*time.Millisecond
	finished := tr.wait(timeout, func() bool { return len(done) == n })
	cpu1 := sampleCPU()
	r.during = count.snapshot().since(before)
	r.cpu = cpu1.since(cpu0)
	r.load = loadavg()
	tr.mu.Lock()
	r.wall = last.Sub(start)
	if !finished {
		r.wall = time.Since(start)
	}
	for name, at := range done {
		r.runLatency = append(r.runLatency, at.Sub(created[name]))
	}
	tr.mu.Unlock()
	slices.Sort(r.runLatency)
	if !finished {
		stuck(b, ns, n, timeout)
	}
	r.eventsLag = drainEvents(&count, before, ns, n*(transitionsPerRun+2))
	r.all = count.snapshot().since(before)
	// Counted after the Events drained: a reconcile's metric is recorded after its write, which the
	// watch may show first.
	r.reconciles, r.byResult = sumSince(reconciles(), rec0)
	r.transitions = transitionsOf(b, ns)
	tr.mu.Lock()
	r.failures = slices.Clone(r.failures)
	tr.mu.Unlock()
	if len(r.failures) > 0 {
		b.Errorf("%d runs did not succeed, e.g. %s", len(r.failures), r.failures[0])
	}
	if r.transitions != n*transitionsPerRun {
		b.Errorf("counted %d transitions on the runs' stages, want %d", r.transitions, n*transitionsPerRun)
	}
	if r.transitions == 0 {
		r.transitions = n * transitionsPerRun
	}
	return r
}

// drainEvents waits until the manager wrote want Event requests in namespace ns since before, or none for
// 2 s (at most 2 min), and returns how long after the start the last one came. The recorder sends Events
// in goroutines of its own.
func drainEvents(count *counter, before counts, ns string, want int) time.Duration {
	start := time.Now()
	last, lastChange := -1, start
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		got := count.snapshot().since(before).sum(writesTo(ns, "events"))
		if got != last {
			last, lastChange = got, now
		}
		if got >= want || now.Sub(lastChange) > 2*time.Second || now.Sub(start) > 2*time.Minute {
			return lastChange.Sub(start)
		}
	}
	return 0
}

// stuck reports the runs that did not finish, with their phases: evidence, not a workaround.
func stuck(b *testing.B, ns string, n int, timeout time.Duration) {
	b.Helper()
	var list v1alpha1.ExecutionList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		b.Errorf("listing the stuck executions: %v", err)
		return
	}
	byPhase := map[string][]string{}
	for _, ex := range list.Items {
		if ex.Status.Phase != v1alpha1.ExecutionSucceeded {
			k := fmt.Sprintf("%s (%s)", ex.Status.Phase, ex.Status.CurrentStage)
			byPhase[k] = append(byPhase[k], ex.Name)
		}
	}
	var lines []string
	for k, v := range byPhase {
		lines = append(lines, fmt.Sprintf("%s: %d, e.g. %s", k, len(v), v[0]))
	}
	sort.Strings(lines)
	b.Errorf("not every run finished within %s: %d of %d listed; unfinished by phase: %s", timeout, len(list.Items), n, strings.Join(lines, "; "))
}

// transitionsOf counts the transitions the finished runs of namespace ns made: two per stage that
// Succeeded (NotStarted→Running→Succeeded).
func transitionsOf(b *testing.B, ns string) int {
	b.Helper()
	var list v1alpha1.ExecutionList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		b.Errorf("listing executions: %v", err)
		return 0
	}
	n := 0
	for _, ex := range list.Items {
		for _, st := range ex.Status.Stages {
			if st.Phase == v1alpha1.StageSucceeded {
				n += 2
			}
		}
	}
	return n
}

func readyMessage(ex *v1alpha1.Execution) string {
	for _, c := range ex.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c.Message
		}
	}
	return ""
}
