package execution

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// These tests inject the API server's refusals of status writes, which a real API server gives only for
// objects near etcd's limit or under a stricter schema, through the fake client; the refusal of a real
// oversized write is tested against a real API server in controllers/status_limits_test.go.

// recording is a stage type that records what the engine asks of it. Its Check records a message that
// makes the status write refused (see refusingStatus), as a stage whose output grew too big.
type recording struct {
	checks  int
	cancels []v1alpha1.StageStatus
}

func (r *recording) Start(_ context.Context, s *engine.StageRun) error {
	s.Running("started", time.Time{})
	return nil
}

func (r *recording) Check(_ context.Context, s *engine.StageRun) error {
	r.checks++
	s.Running("too-big-to-write", time.Time{})
	return nil
}

func (r *recording) Cancel(_ context.Context, s *engine.StageRun) error {
	r.cancels = append(r.cancels, *s.Status.DeepCopy())
	return nil
}

var limitsT0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

// limitsRun is a Running run whose stage switch (of type rec) was Running in the status last written.
func limitsRun() *v1alpha1.Execution {
	st := v1alpha1.Stage{Name: "switch", StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "1h"}}}
	start := metav1.NewTime(limitsT0.Add(-time.Minute))
	return &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "r1", UID: "uid-r1", Finalizers: []string{v1alpha1.ExecutionFinalizer},
			Annotations: map[string]string{v1alpha1.AnnotationQueuePosition: "1"}},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "p"},
		Status: v1alpha1.ExecutionStatus{Phase: v1alpha1.ExecutionRunning, StartTime: &start,
			PipelineSpec: &v1alpha1.PipelineSpec{Application: "shop", Stages: []v1alpha1.Stage{st}},
			Stages:       []v1alpha1.StageStatus{{Name: "switch", Type: "wait", Phase: v1alpha1.StageRunning, Message: "half switched", StartTime: &start}}},
	}
}

// refusingStatus is a client whose API server refuses, with refuse's error, the status writes refuse
// picks (by the patch's body); it counts the status writes tried.
func refusingStatus(t *testing.T, ex *v1alpha1.Execution, tried *int, refuse func(body string) error) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return interceptor.NewClient(
		fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1alpha1.Execution{}).WithObjects(ex).Build(),
		interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			*tried++
			body, err := patch.Data(obj)
			if err != nil {
				return err
			}
			if err := refuse(string(body)); err != nil {
				return err
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		}})
}

var etcdTooLarge = errors.New("etcdserver: request is too large")

func statusInvalid() error {
	return apierrors.NewInvalid(schema.GroupKind{Group: v1alpha1.GroupVersion.Group, Kind: "Execution"}, "r1",
		field.ErrorList{field.TooLong(field.NewPath("status", "stages").Index(0).Child("message"), "", 1024)})
}

// TestRunFailedByTheStatusLimitStopsItsStages: a run whose status write is refused for its size fails in
// a smaller write, and first each stage running in the status last written is told to stop, seeing that
// status (a red/black deploy half switched is put back), once.
func TestRunFailedByTheStatusLimitStopsItsStages(t *testing.T) {
	ex := limitsRun()
	tried := 0
	c := refusingStatus(t, ex, &tried, func(body string) error {
		if strings.Contains(body, "too-big-to-write") {
			return etcdTooLarge
		}
		return nil
	})
	rec := &recording{}
	r := &Reconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(10), Clock: clocktesting.NewFakePassiveClock(limitsT0),
		Engine: &engine.Engine{Stages: engine.Stages{"wait": rec}}}
	ctx := context.Background()
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ex)}); err != nil {
		t.Fatal(err)
	}
	var got v1alpha1.Execution
	if err := c.Get(ctx, client.ObjectKeyFromObject(ex), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1alpha1.ExecutionFailed || got.Status.Stages[0].Phase != v1alpha1.StageCanceled {
		t.Fatalf("run %s, stage %s: want Failed, Canceled", got.Status.Phase, got.Status.Stages[0].Phase)
	}
	if len(rec.cancels) != 1 || rec.cancels[0].Message != "half switched" {
		t.Fatalf("the stage running in the last written status was told to stop %d times (%+v), want once, as last written", len(rec.cancels), rec.cancels)
	}
	if tried != 2 {
		t.Fatalf("%d status writes, want the refused one and the smaller one", tried)
	}
}

// TestUnwritableRunIsNotSteppedAgain: a run whose smaller status write is refused too says so in a
// Warning Event, and its reconcile returns without error or requeue; reconciled again unchanged (as
// another object's event brings it back), it is not stepped, so its stages do nothing again. Once the
// object changes, it is tried again.
func TestUnwritableRunIsNotSteppedAgain(t *testing.T) {
	ex := limitsRun()
	tried := 0
	c := refusingStatus(t, ex, &tried, func(string) error { return statusInvalid() })
	rec := &recording{}
	recorder := events.NewFakeRecorder(10)
	r := &Reconciler{Client: c, APIReader: c, Recorder: recorder, Clock: clocktesting.NewFakePassiveClock(limitsT0),
		Engine: &engine.Engine{Stages: engine.Stages{"wait": rec}}}
	ctx := context.Background()
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ex)}
	res, err := r.Reconcile(ctx, req)
	if err != nil || res != (ctrl.Result{}) {
		t.Fatalf("got %+v, %v: want no requeue and no error", res, err)
	}
	select {
	case e := <-recorder.Events:
		if !strings.Contains(e, "Warning "+ReasonStatusRefused) || !strings.Contains(e, "status.stages[0].message") {
			t.Fatalf("event %q", e)
		}
	default:
		t.Fatal("no Event says the status cannot be written")
	}
	if tried != 2 || rec.checks != 1 || len(rec.cancels) != 1 {
		t.Fatalf("%d writes, %d checks, %d cancels: want 2, 1, 1", tried, rec.checks, len(rec.cancels))
	}

	for range 3 {
		if res, err := r.Reconcile(ctx, req); err != nil || res != (ctrl.Result{}) {
			t.Fatalf("got %+v, %v", res, err)
		}
	}
	if tried != 2 || rec.checks != 1 || len(rec.cancels) != 1 {
		t.Fatalf("reconciled unchanged, the run was stepped again: %d writes, %d checks, %d cancels", tried, rec.checks, len(rec.cancels))
	}

	var live v1alpha1.Execution
	if err := c.Get(ctx, req.NamespacedName, &live); err != nil {
		t.Fatal(err)
	}
	live.Spec.Cancel = true
	if err := c.Update(ctx, &live); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if tried != 3 || rec.checks != 1 || len(rec.cancels) != 1 {
		t.Fatalf("changed, the run's failure was not tried again alone: %d writes, %d checks, %d cancels: want 3, 1, 1", tried, rec.checks, len(rec.cancels))
	}
}

// TestUnwritableRunIsMarked: a run whose smaller status write is refused too is marked failed in an
// annotation, which the API server takes: a restarted manager (no memory of it) does not step it again,
// and tries only to record its failure; once that write goes through, the run is Failed and let go.
func TestUnwritableRunIsMarked(t *testing.T) {
	ex := limitsRun()
	tried := 0
	refusing := true
	c := refusingStatus(t, ex, &tried, func(string) error {
		if refusing {
			return statusInvalid()
		}
		return nil
	})
	rec := &recording{}
	newReconciler := func() *Reconciler {
		return &Reconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(10), Clock: clocktesting.NewFakePassiveClock(limitsT0),
			Engine: &engine.Engine{Stages: engine.Stages{"wait": rec}}}
	}
	ctx := context.Background()
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ex)}
	if _, err := newReconciler().Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	var live v1alpha1.Execution
	if err := c.Get(ctx, req.NamespacedName, &live); err != nil {
		t.Fatal(err)
	}
	if got := live.Annotations[v1alpha1.AnnotationStatusRefused]; got != string(metav1.StatusReasonInvalid) {
		t.Fatalf("annotation %s is %q, want %q", v1alpha1.AnnotationStatusRefused, got, metav1.StatusReasonInvalid)
	}
	if live.Status.Phase != v1alpha1.ExecutionRunning {
		t.Fatalf("phase %s: the status should be as last written", live.Status.Phase)
	}

	if _, err := newReconciler().Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if tried != 3 || rec.checks != 1 || len(rec.cancels) != 1 {
		t.Fatalf("after a restart: %d writes, %d checks, %d cancels: want 3, 1, 1 (only the failure tried)", tried, rec.checks, len(rec.cancels))
	}

	refusing = false
	if _, err := newReconciler().Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, req.NamespacedName, &live); err != nil {
		t.Fatal(err)
	}
	if live.Status.Phase != v1alpha1.ExecutionFailed || live.Status.Stages[0].Phase != v1alpha1.StageCanceled || len(live.Finalizers) != 0 {
		t.Fatalf("run %s, stage %s, finalizers %v: want Failed, Canceled, none", live.Status.Phase, live.Status.Stages[0].Phase, live.Finalizers)
	}
	if rec.checks != 1 || len(rec.cancels) != 1 {
		t.Fatalf("%d checks, %d cancels: the marked run was stepped", rec.checks, len(rec.cancels))
	}
}

// TestRefusedStatusWriteIsReadNarrowly: only a refusal for what the status holds (too large, or invalid in
// a status field) fails the run; any other 422 is an error to retry, and the run goes on.
func TestRefusedStatusWriteIsReadNarrowly(t *testing.T) {
	gk := schema.GroupKind{Group: v1alpha1.GroupVersion.Group, Kind: "Execution"}
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"etcd too large":          {etcdTooLarge, true},
		"413":                     {apierrors.NewRequestEntityTooLargeError("limit is 3145728"), true},
		"invalid status field":    {statusInvalid(), true},
		"invalid status":          {apierrors.NewInvalid(gk, "r1", field.ErrorList{field.Invalid(field.NewPath("status"), nil, "bad")}), true},
		"invalid metadata":        {apierrors.NewInvalid(gk, "r1", field.ErrorList{field.Invalid(field.NewPath("metadata", "labels"), "x", "bad")}), false},
		"invalid, field unnamed":  {apierrors.NewInvalid(gk, "r1", nil), false},
		"field named like status": {apierrors.NewInvalid(gk, "r1", field.ErrorList{field.Invalid(field.NewPath("statusReport"), "x", "bad")}), false},
		"conflict":                {apierrors.NewConflict(schema.GroupResource{Resource: "executions"}, "r1", errors.New("modified")), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := refused(tc.err); got != tc.want {
				t.Fatalf("refused(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}

	t.Run("reconcile", func(t *testing.T) {
		ex := limitsRun()
		tried := 0
		c := refusingStatus(t, ex, &tried, func(string) error {
			return apierrors.NewInvalid(gk, "r1", field.ErrorList{field.Invalid(field.NewPath("metadata", "annotations"), "x", "a webhook says no")})
		})
		rec := &recording{}
		r := &Reconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(10), Clock: clocktesting.NewFakePassiveClock(limitsT0),
			Engine: &engine.Engine{Stages: engine.Stages{"wait": rec}}}
		if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ex)}); !apierrors.IsInvalid(err) {
			t.Fatalf("got %v, want the refusal back, to be retried", err)
		}
		if tried != 1 || len(rec.cancels) != 0 {
			t.Fatalf("%d writes, %d cancels: the run was failed for a refusal not about its status", tried, len(rec.cancels))
		}
	})
}

// memoLen is how many runs the reconciler remembers as unwritable.
func memoLen(r *Reconciler) int {
	n := 0
	r.unwritable.m.Range(func(any, any) bool { n++; return true })
	return n
}

// TestDeletedUnwritableRunLetsGo: a deleted run whose status the API server refuses, even failed, lets go
// of its Execution at once, with a Warning Event that says why, instead of retrying (and stopping its
// stages again) forever; the reconciler forgets it.
func TestDeletedUnwritableRunLetsGo(t *testing.T) {
	ex := limitsRun()
	ex.DeletionTimestamp = &metav1.Time{Time: limitsT0.Add(-time.Second)}
	tried := 0
	c := refusingStatus(t, ex, &tried, func(string) error { return statusInvalid() })
	rec := &recording{}
	recorder := events.NewFakeRecorder(10)
	r := &Reconciler{Client: c, APIReader: c, Recorder: recorder, Clock: clocktesting.NewFakePassiveClock(limitsT0),
		Engine: &engine.Engine{Stages: engine.Stages{"wait": rec}}}
	ctx := context.Background()
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ex)}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatalf("got %v: an unwritable deleted run must not be retried", err)
	}
	var got v1alpha1.Execution
	if err := c.Get(ctx, req.NamespacedName, &got); !apierrors.IsNotFound(err) {
		t.Fatalf("the Execution should be gone (%v), it has finalizers %v", err, got.Finalizers)
	}
	var reasons []string
	for len(recorder.Events) > 0 {
		reasons = append(reasons, <-recorder.Events)
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], "Warning "+ReasonStatusRefused) ||
		!strings.Contains(reasons[1], "Warning CancelAbandoned") || !strings.Contains(reasons[1], "status cannot be written") {
		t.Fatalf("events %q: want StatusRefused, then CancelAbandoned saying why", reasons)
	}
	// The deletion's cancel, then the stop before the smaller write; no reconcile after.
	if len(rec.cancels) != 2 {
		t.Fatalf("the stage was told to stop %d times, want twice in the one reconcile", len(rec.cancels))
	}
	if n := memoLen(r); n != 0 {
		t.Fatalf("the reconciler still remembers %d unwritable runs", n)
	}
}

// TestUnwritableMemoForgetsDeletedRuns: the memo of unwritable runs drops a run once it is deleted, whether
// its deletion is reconciled or only its absence is seen.
func TestUnwritableMemoForgetsDeletedRuns(t *testing.T) {
	for _, seen := range []string{"deletion", "absence"} {
		t.Run(seen, func(t *testing.T) {
			ex := limitsRun()
			tried := 0
			c := refusingStatus(t, ex, &tried, func(string) error { return statusInvalid() })
			r := &Reconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(10), Clock: clocktesting.NewFakePassiveClock(limitsT0),
				Engine: &engine.Engine{Stages: engine.Stages{"wait": &recording{}}}}
			ctx := context.Background()
			req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ex)}
			if _, err := r.Reconcile(ctx, req); err != nil {
				t.Fatal(err)
			}
			if n := memoLen(r); n != 1 {
				t.Fatalf("%d unwritable runs remembered, want 1", n)
			}
			var live v1alpha1.Execution
			if err := c.Get(ctx, req.NamespacedName, &live); err != nil {
				t.Fatal(err)
			}
			if seen == "absence" {
				live.Finalizers = nil
				if err := c.Update(ctx, &live); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Delete(ctx, &live); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Reconcile(ctx, req); err != nil {
				t.Fatal(err)
			}
			if n := memoLen(r); n != 0 {
				t.Fatalf("after its %s, %d unwritable runs remembered, want 0", seen, n)
			}
		})
	}
}
