package execution

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/index"
)

// TestQueueReadsPositionsTheCacheLacks: a reconcile that has just numbered an older queued run (a run
// queued before positions existed) sees the cache without that number. The older run must still queue
// ahead: taken for an unnumbered younger one, it would let this run start first, and both run at once.
// (The fake clients stand for a cache that lags the API server, which a real one does only now and then.)
func TestQueueReadsPositionsTheCacheLacks(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	created := metav1.NewTime(time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC))
	queued := func(name string, position string) *v1alpha1.Execution {
		ex := &v1alpha1.Execution{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID("uid-" + name), CreationTimestamp: created},
			Spec:       v1alpha1.ExecutionSpec{Pipeline: "serial"},
			Status:     v1alpha1.ExecutionStatus{Phase: v1alpha1.ExecutionQueued},
		}
		if position != "" {
			ex.Annotations = map[string]string{v1alpha1.AnnotationQueuePosition: position}
		}
		return ex
	}
	unfinished := func(o client.Object) []string { return []string{o.(*v1alpha1.Execution).Spec.Pipeline} }
	cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(queued("older", "")).
		WithIndex(&v1alpha1.Execution{}, index.UnfinishedExecutionPipeline, unfinished).Build()
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(queued("older", "1")).Build()
	r := &Reconciler{Client: cache, APIReader: api}

	ahead, err := r.ahead(context.Background(), queued("younger", "2"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "queued behind execution older of pipeline serial (limitConcurrent, 1 ahead)"; ahead != want {
		t.Fatalf("the younger run should queue behind the older one, got %q", ahead)
	}
}
