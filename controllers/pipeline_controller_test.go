package controllers_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/index"
	"github.com/gennaker/gennaker/controllers/pipeline"
	"github.com/gennaker/gennaker/test/testenv"
)

// startPipelineController runs a manager with the Pipeline reconciler alone, on clk, watching namespace ns
// only, until the test ends or the returned stop is called. Without the Execution engine the test alone
// sets the phases of Executions; with a fake clock it alone says what time it is. Starting a second one
// after stop is a controller restart: all it knows is what the API server has.
func startPipelineController(t *testing.T, ns string, clk clock.PassiveClock) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:     testenv.Scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating the manager: %v", err)
	}
	if err := index.Setup(context.Background(), mgr); err != nil {
		t.Fatalf("registering the indexes: %v", err)
	}
	if err := (&pipeline.Reconciler{Client: mgr.GetClient(), Clock: clk}).SetupWithManager(mgr); err != nil {
		t.Fatalf("setting up the pipeline controller: %v", err)
	}
	return testenv.Run(t, mgr)
}

// cronPipeline is a valid pipeline with the given triggers. It is deleted when the test ends, so that the
// managers of later tests, on the real clock, do not fire it.
func cronPipeline(t *testing.T, ns, name string, triggers ...v1alpha1.Trigger) *v1alpha1.Pipeline {
	t.Helper()
	pl := &v1alpha1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.PipelineSpec{
			Application: "shop",
			Parameters:  []v1alpha1.Parameter{{Name: "image", Default: "ami-0"}},
			Triggers:    triggers,
			Stages:      []v1alpha1.Stage{waitStage("soak")},
		},
	}
	if err := env.Client.Create(context.Background(), pl); err != nil {
		t.Fatalf("creating pipeline %s: %v", name, err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pl) })
	return pl
}

func cronTrigger(schedule, timeZone string, params map[string]string) v1alpha1.Trigger {
	return v1alpha1.Trigger{Cron: &v1alpha1.CronTrigger{Schedule: schedule, TimeZone: timeZone}, Parameters: params}
}

// at parses an RFC 3339 time.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// updatePipeline applies change to the Pipeline as the API server has it, again if the controller's status
// write got in between.
func updatePipeline(g *WithT, pl *v1alpha1.Pipeline, change func(*v1alpha1.Pipeline)) {
	g.Eventually(func(g Gomega) {
		got := getPipeline(g, pl)
		change(got)
		g.Expect(env.Client.Update(context.Background(), got)).To(Succeed())
	}).Should(Succeed())
}

// getPipeline reads a Pipeline as the API server has it.
func getPipeline(g Gomega, pl *v1alpha1.Pipeline) *v1alpha1.Pipeline {
	var got v1alpha1.Pipeline
	g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(pl), &got)).To(Succeed())
	return &got
}

// triggerStates renders status.triggers as "[index] schedule tz=zone last=... next=...", times in UTC.
func triggerStates(pl *v1alpha1.Pipeline) []string {
	var out []string
	for _, ts := range pl.Status.Triggers {
		next := "none"
		if ts.NextScheduleTime != nil {
			next = ts.NextScheduleTime.UTC().Format(time.RFC3339)
		}
		out = append(out, fmt.Sprintf("[%d] %s tz=%s last=%s next=%s", ts.Index, ts.Schedule, ts.TimeZone,
			ts.LastScheduleTime.UTC().Format(time.RFC3339), next))
	}
	return out
}

// waitTriggers waits until the pipeline's status.triggers reads want.
func waitTriggers(g *WithT, pl *v1alpha1.Pipeline, want ...string) {
	g.Eventually(func(g Gomega) {
		g.Expect(triggerStates(getPipeline(g, pl))).To(Equal(want))
	}).Should(Succeed())
}

// runsOf lists the Executions of namespace ns, by name.
func runsOf(g Gomega, ns string) map[string]v1alpha1.Execution {
	var list v1alpha1.ExecutionList
	g.Expect(env.Client.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	out := map[string]v1alpha1.Execution{}
	for _, ex := range list.Items {
		out[ex.Name] = ex
	}
	return out
}

// runNames lists the names of namespace ns's Executions, sorted.
func runNames(g Gomega, ns string) []string {
	var names []string
	for name := range runsOf(g, ns) {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// createRun creates an Execution of pipeline, as kubectl create would.
func createRun(g *WithT, ns, name, pipelineName string) *v1alpha1.Execution {
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: pipelineName},
	}
	g.Expect(env.Client.Create(context.Background(), ex)).To(Succeed())
	return ex
}

// setRunPhase sets an Execution's phase, as the engine would.
func setRunPhase(g *WithT, ns, name string, phase v1alpha1.ExecutionPhase) {
	var ex v1alpha1.Execution
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &ex)).To(Succeed())
	ex.Status.Phase = phase
	g.Expect(env.Client.Status().Update(context.Background(), &ex)).To(Succeed())
}

// waitEvent waits for an Event about the object named regarding that matches all of matchers.
func waitEvent(g *WithT, ns, regarding string, matchers ...types.GomegaMatcher) {
	g.Eventually(func(g Gomega) {
		var list eventsv1.EventList
		g.Expect(env.Client.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		g.Expect(list.Items).To(ContainElement(And(append([]types.GomegaMatcher{HaveField("Regarding.Name", regarding)}, matchers...)...)))
	}).Should(Succeed())
}

// TestCronTriggerFiresOncePerDueTime checks that a cron trigger, read in its time zone, records when it was
// first seen without firing, starts one Execution at its due time with the trigger's parameters, the
// annotations and the label, and no owner, and that further reconciles at that time start no other.
func TestCronTriggerFiresOncePerDueTime(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	// 09:00 in Paris is 08:00Z in January (CET, UTC+1).
	clk := clocktesting.NewFakeClock(at(t, "2026-01-15T07:59:58Z"))
	startPipelineController(t, ns, clk)
	pl := cronPipeline(t, ns, "nightly", cronTrigger("0 9 * * *", "Europe/Paris", map[string]string{"image": "ami-nightly"}))

	waitTriggers(g, pl, "[0] 0 9 * * * tz=Europe/Paris last=2026-01-15T07:59:58Z next=2026-01-15T08:00:00Z")
	g.Expect(runNames(g, ns)).To(BeEmpty(), "a new trigger does not fire")

	// The controller requeued for the due time (2s from the fake now); the clock gets there.
	clk.SetTime(at(t, "2026-01-15T08:00:00Z"))
	waitTriggers(g, pl, "[0] 0 9 * * * tz=Europe/Paris last=2026-01-15T08:00:00Z next=2026-01-16T08:00:00Z")
	name := pipeline.ExecutionName("nightly", 0, at(t, "2026-01-15T08:00:00Z"))
	g.Expect(name).To(Equal("nightly-cron0-1768464000"))
	g.Expect(runNames(g, ns)).To(Equal([]string{name}))
	ex := runsOf(g, ns)[name]
	g.Expect(ex.Spec.Pipeline).To(Equal("nightly"))
	g.Expect(ex.Spec.Parameters).To(Equal(map[string]string{"image": "ami-nightly"}))
	g.Expect(ex.Annotations).To(Equal(map[string]string{
		v1alpha1.AnnotationTrigger:       v1alpha1.TriggerCron,
		v1alpha1.AnnotationScheduledTime: "2026-01-15T08:00:00Z",
		v1alpha1.AnnotationTriggerIndex:  "0",
	}))
	g.Expect(ex.Labels).To(HaveKeyWithValue(v1alpha1.LabelPipeline, "nightly"))
	g.Expect(ex.OwnerReferences).To(BeEmpty())
	waitEvent(g, ns, "nightly", HaveField("Type", "Normal"), HaveField("Reason", pipeline.ReasonTriggered),
		HaveField("Related.Name", name), HaveField("Note", And(ContainSubstring(name), ContainSubstring("2026-01-15T08:00:00Z"))))

	// The run's phase change wakes the controller (lastRun follows it); at the same time, nothing more starts.
	setRunPhase(g, ns, name, v1alpha1.ExecutionRunning)
	g.Eventually(func(g Gomega) {
		g.Expect(getPipeline(g, pl).Status.LastRun).To(And(
			HaveField("Execution", name), HaveField("Phase", v1alpha1.ExecutionRunning)))
	}).Should(Succeed())
	g.Expect(runNames(g, ns)).To(Equal([]string{name}))
}

// TestCronTriggerRestartDoesNotDuplicate simulates a controller that created a cron run and died before
// recording it: the next controller finds the run under its deterministic name, records it, and starts no
// second one.
func TestCronTriggerRestartDoesNotDuplicate(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(at(t, "2026-01-15T10:00:30Z"))
	stop := startPipelineController(t, ns, clk)
	pl := cronPipeline(t, ns, "every5", cronTrigger("*/5 * * * *", "", nil))
	waitTriggers(g, pl, "[0] */5 * * * * tz= last=2026-01-15T10:00:30Z next=2026-01-15T10:05:00Z")
	stop()

	// What the dead controller left: the 10:05 run, created, not recorded.
	due := at(t, "2026-01-15T10:05:00Z")
	crashed := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: pipeline.ExecutionName("every5", 0, due),
			Annotations: map[string]string{
				v1alpha1.AnnotationTrigger:       v1alpha1.TriggerCron,
				v1alpha1.AnnotationScheduledTime: "2026-01-15T10:05:00Z",
				v1alpha1.AnnotationTriggerIndex:  "0",
			},
		},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "every5"},
	}
	g.Expect(env.Client.Create(ctx, crashed)).To(Succeed())

	clk.SetTime(at(t, "2026-01-15T10:05:10Z"))
	startPipelineController(t, ns, clk)
	waitTriggers(g, pl, "[0] */5 * * * * tz= last=2026-01-15T10:05:00Z next=2026-01-15T10:10:00Z")
	runs := runsOf(g, ns)
	g.Expect(runs).To(HaveLen(1))
	g.Expect(runs).To(HaveKeyWithValue(crashed.Name, HaveField("UID", crashed.UID)))
}

// TestCronTriggerMissedTicksStartOneRun checks a controller that was down for three hours: the five-minute
// trigger starts one run, for the most recent missed time, not 36; the daily one, missed by two hours, more
// than the starting deadline, starts none and says so in a Warning Event.
func TestCronTriggerMissedTicksStartOneRun(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	clk := clocktesting.NewFakeClock(at(t, "2026-01-15T10:00:30Z"))
	stop := startPipelineController(t, ns, clk)
	pl := cronPipeline(t, ns, "release",
		cronTrigger("*/5 * * * *", "", nil),
		cronTrigger("0 11 * * *", "", nil))
	waitTriggers(g, pl,
		"[0] */5 * * * * tz= last=2026-01-15T10:00:30Z next=2026-01-15T10:05:00Z",
		"[1] 0 11 * * * tz= last=2026-01-15T10:00:30Z next=2026-01-15T11:00:00Z")
	stop()

	clk.SetTime(at(t, "2026-01-15T13:02:00Z"))
	startPipelineController(t, ns, clk)
	waitTriggers(g, pl,
		"[0] */5 * * * * tz= last=2026-01-15T13:00:00Z next=2026-01-15T13:05:00Z",
		"[1] 0 11 * * * tz= last=2026-01-15T13:02:00Z next=2026-01-16T11:00:00Z")
	g.Expect(runNames(g, ns)).To(Equal([]string{pipeline.ExecutionName("release", 0, at(t, "2026-01-15T13:00:00Z"))}))
	waitEvent(g, ns, "release", HaveField("Type", "Warning"), HaveField("Reason", pipeline.ReasonMissedSchedule),
		HaveField("Note", And(ContainSubstring("cron trigger 1"), ContainSubstring("2026-01-15T11:00:00Z"))))
}

// TestCronTriggerInvalidPipelineDoesNotFire checks that an invalid pipeline keeps no trigger times, and that
// its triggers start afresh once it is fixed.
func TestCronTriggerInvalidPipelineDoesNotFire(t *testing.T) {
	g := testenv.NewWithT(t)
	// The cycle gets in without the webhook, which refuses it at apply time.
	ns := env.NamespaceWithoutAdmission(t)
	clk := clocktesting.NewFakeClock(at(t, "2026-01-15T10:00:30Z"))
	startPipelineController(t, ns, clk)
	pl := cronPipeline(t, ns, "broken", cronTrigger("*/5 * * * *", "", nil))
	waitTriggers(g, pl, "[0] */5 * * * * tz= last=2026-01-15T10:00:30Z next=2026-01-15T10:05:00Z")

	// A cycle: only the controller sees it.
	updatePipeline(g, pl, func(pl *v1alpha1.Pipeline) {
		pl.Spec.Stages = []v1alpha1.Stage{waitStage("a", "b"), waitStage("b", "a")}
	})
	g.Eventually(func(g Gomega) {
		got := getPipeline(g, pl)
		c := ready(g, got, func() error { return nil })
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonInvalid))
		g.Expect(got.Status.Triggers).To(BeEmpty())
	}).Should(Succeed())

	clk.SetTime(at(t, "2026-01-15T10:07:00Z"))
	updatePipeline(g, pl, func(pl *v1alpha1.Pipeline) {
		pl.Spec.Stages = []v1alpha1.Stage{waitStage("a"), waitStage("b", "a")}
	})
	waitTriggers(g, pl, "[0] */5 * * * * tz= last=2026-01-15T10:07:00Z next=2026-01-15T10:10:00Z")
	g.Expect(runNames(g, ns)).To(BeEmpty(), "the 10:05 run, due while the pipeline was broken, is not made up for")
}

// TestPipelineHistoryLimit checks that only spec.historyLimit finished Executions are kept, the oldest
// deleted first, that Queued and Running ones are never deleted, that lowering the limit prunes more, and
// that a finished child run is kept until its parent run has finished.
func TestPipelineHistoryLimit(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	startPipelineController(t, ns, clock.RealClock{})
	pl := cronPipeline(t, ns, "deploy")
	updatePipeline(g, pl, func(pl *v1alpha1.Pipeline) { pl.Spec.HistoryLimit = ptr.To[int32](2) })

	// Created in this order; names break the tie between creation times in the same second.
	for i, phase := range []v1alpha1.ExecutionPhase{
		v1alpha1.ExecutionSucceeded, v1alpha1.ExecutionFailed, v1alpha1.ExecutionRunning,
		v1alpha1.ExecutionCanceled, v1alpha1.ExecutionSucceeded, v1alpha1.ExecutionQueued,
	} {
		name := fmt.Sprintf("deploy-%d", i+1)
		createRun(g, ns, name, "deploy")
		setRunPhase(g, ns, name, phase)
	}
	// Finished: 1, 2, 4, 5. The two newest stay.
	g.Eventually(func(g Gomega) {
		g.Expect(runNames(g, ns)).To(Equal([]string{"deploy-3", "deploy-4", "deploy-5", "deploy-6"}))
	}).Should(Succeed())
	waitEvent(g, ns, "deploy", HaveField("Type", "Normal"), HaveField("Reason", pipeline.ReasonPruned))
	g.Eventually(func(g Gomega) {
		g.Expect(getPipeline(g, pl).Status.LastRun).To(And(
			HaveField("Execution", "deploy-6"), HaveField("Phase", v1alpha1.ExecutionQueued)))
	}).Should(Succeed())

	// 0 keeps no finished run, and still every unfinished one.
	updatePipeline(g, pl, func(pl *v1alpha1.Pipeline) { pl.Spec.HistoryLimit = ptr.To[int32](0) })
	g.Eventually(func(g Gomega) {
		g.Expect(runNames(g, ns)).To(Equal([]string{"deploy-3", "deploy-6"}))
	}).Should(Succeed())

	// A finished child run stays while the parent run whose pipeline stage started it has not finished:
	// the parent reads its outcome.
	createRun(g, ns, "parent", "other")
	setRunPhase(g, ns, "parent", v1alpha1.ExecutionRunning)
	child := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deploy-7", Annotations: map[string]string{
			v1alpha1.AnnotationTrigger:         v1alpha1.TriggerPipeline,
			v1alpha1.AnnotationParentExecution: "parent",
			v1alpha1.AnnotationParentStage:     "deploy",
		}},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "deploy"},
	}
	g.Expect(env.Client.Create(context.Background(), child)).To(Succeed())
	setRunPhase(g, ns, "deploy-7", v1alpha1.ExecutionSucceeded)
	// lastRun is written by the pass that would have pruned it.
	g.Eventually(func(g Gomega) {
		g.Expect(getPipeline(g, pl).Status.LastRun).To(And(
			HaveField("Execution", "deploy-7"), HaveField("Phase", v1alpha1.ExecutionSucceeded)))
	}).Should(Succeed())
	g.Expect(runNames(g, ns)).To(Equal([]string{"deploy-3", "deploy-6", "deploy-7", "parent"}))
	// Once the parent is done, the next pass prunes the child (and deploy-3, which finishes to cause it).
	setRunPhase(g, ns, "parent", v1alpha1.ExecutionSucceeded)
	setRunPhase(g, ns, "deploy-3", v1alpha1.ExecutionSucceeded)
	g.Eventually(func(g Gomega) {
		g.Expect(runNames(g, ns)).To(Equal([]string{"deploy-6", "parent"}))
	}).Should(Succeed())
}

// TestPipelineLastRun checks that status.lastRun follows the most recently created Execution and its phase,
// and goes back to the one before when it is deleted.
func TestPipelineLastRun(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	startPipelineController(t, ns, clock.RealClock{})
	pl := cronPipeline(t, ns, "deploy")
	g.Eventually(func(g Gomega) {
		got := getPipeline(g, pl)
		c := ready(g, got, func() error { return nil })
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(got.Status.LastRun).To(BeNil())
	}).Should(Succeed())

	first := createRun(g, ns, "first", "deploy")
	g.Eventually(func(g Gomega) {
		g.Expect(getPipeline(g, pl).Status.LastRun).To(And(
			HaveField("Execution", "first"),
			HaveField("StartTime.Time", BeTemporally("==", first.CreationTimestamp.Time)),
			HaveField("Phase", v1alpha1.ExecutionPhase(""))))
	}).Should(Succeed())
	setRunPhase(g, ns, "first", v1alpha1.ExecutionRunning)
	g.Eventually(func(g Gomega) {
		g.Expect(getPipeline(g, pl).Status.LastRun).To(HaveField("Phase", v1alpha1.ExecutionRunning))
	}).Should(Succeed())

	// "second" sorts after "first" should both be created in the same second.
	second := createRun(g, ns, "second", "deploy")
	g.Eventually(func(g Gomega) {
		g.Expect(getPipeline(g, pl).Status.LastRun).To(HaveField("Execution", "second"))
	}).Should(Succeed())
	g.Expect(env.Client.Delete(ctx, second)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(getPipeline(g, pl).Status.LastRun).To(And(
			HaveField("Execution", "first"), HaveField("Phase", v1alpha1.ExecutionRunning)))
	}).Should(Succeed())
}
