package execution

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// stuck is a stage whose Cancel never succeeds, as one whose remote keeps refusing.
type stuck struct{}

func (stuck) Start(_ context.Context, s *engine.StageRun) error {
	s.Running("", time.Time{})
	return nil
}
func (stuck) Check(context.Context, *engine.StageRun) error { return nil }
func (stuck) Cancel(context.Context, *engine.StageRun) error {
	return errors.New("the remote refuses for now")
}

// TestDeletedRunLetsGoAfterTheCancelBound: a deleted run whose cancel keeps failing holds its Execution
// (the finalizer stays) until the cancel bound has passed since the deletion, then lets go with a
// Warning Event that says why. (The fake client is used for its clock-free control over the deletion
// time; the cancel that succeeds is tested against a real API server in controllers/delete_test.go.)
func TestDeletedRunLetsGoAfterTheCancelBound(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	deleted := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	spec := &v1alpha1.PipelineSpec{Application: "shop", Stages: []v1alpha1.Stage{{Name: "soak", StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "1h"}}}}}
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "r1", Finalizers: []string{v1alpha1.ExecutionFinalizer},
			DeletionTimestamp: &metav1.Time{Time: deleted}},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "p"},
		Status: v1alpha1.ExecutionStatus{Phase: v1alpha1.ExecutionRunning, PipelineSpec: spec,
			Stages: []v1alpha1.StageStatus{{Name: "soak", Type: "wait", Phase: v1alpha1.StageRunning, StartTime: &metav1.Time{Time: deleted}}}},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1alpha1.Execution{}).WithObjects(ex).Build()
	clock := clocktesting.NewFakePassiveClock(deleted.Add(5 * time.Minute))
	rec := events.NewFakeRecorder(10)
	r := &Reconciler{Client: c, APIReader: c, Recorder: rec, Clock: clock, Engine: &engine.Engine{Stages: engine.Stages{"wait": stuck{}}}}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ex)}
	ctx := context.Background()

	if _, err := r.Reconcile(ctx, req); err == nil {
		t.Fatal("within the bound, a failed cancel must be retried")
	}
	var got v1alpha1.Execution
	if err := c.Get(ctx, req.NamespacedName, &got); err != nil || len(got.Finalizers) != 1 {
		t.Fatalf("within the bound the finalizer must stay: %v %v", err, got.Finalizers)
	}

	clock.SetTime(deleted.Add(DefaultCancelBound))
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatalf("past the bound the run lets go: %v", err)
	}
	if err := c.Get(ctx, req.NamespacedName, &got); err == nil {
		t.Fatalf("the Execution should be gone, it has finalizers %v", got.Finalizers)
	}
	select {
	case e := <-rec.Events:
		if !strings.Contains(e, "Warning CancelAbandoned") || !strings.Contains(e, "the remote refuses for now") {
			t.Fatalf("event %q", e)
		}
	default:
		t.Fatal("no Event says the run let go")
	}
}
