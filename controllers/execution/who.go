package execution

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// recordWho copies what started the run, and who canceled it, from the annotations into the status, where
// `kubectl get` and `kubectl describe` show them. The who-annotations are stamped by the admission webhook
// from the API server's request, so the status never repeats what a request body claimed.
func recordWho(ex *v1alpha1.Execution) {
	ann := ex.GetAnnotations()
	t := &v1alpha1.ExecutionTrigger{
		Type:            v1alpha1.TriggerManual,
		User:            bounded(ann[v1alpha1.AnnotationCreatedBy]),
		ParentExecution: ann[v1alpha1.AnnotationParentExecution],
		ParentStage:     ann[v1alpha1.AnnotationParentStage],
		Name:            ann[v1alpha1.AnnotationTriggerName],
		DeliveryID:      ann[v1alpha1.AnnotationDeliveryID],
	}
	if len(ex.Spec.Artifacts) > 0 {
		t.Artifact = ex.Spec.Artifacts[0].DeepCopy()
	}
	if typ := ann[v1alpha1.AnnotationTrigger]; typ != "" {
		t.Type = typ
	}
	if at, err := time.Parse(time.RFC3339, ann[v1alpha1.AnnotationScheduledTime]); err == nil {
		t.ScheduledTime = &metav1.Time{Time: at}
	}
	// Compared by value, so that an unchanged trigger makes no status write.
	if ex.Status.Trigger == nil || !equality.Semantic.DeepEqual(ex.Status.Trigger, t) {
		ex.Status.Trigger = t
	}
	if ex.Spec.Cancel {
		ex.Status.CanceledBy = bounded(ann[v1alpha1.AnnotationCanceledBy])
	}
}

// bounded cuts a user name to the status field's 512 bytes: a longer one would make every status write
// of the run fail. (Annotations have no such bound.)
func bounded(user string) string {
	const maxUser = 512
	if len(user) > maxUser {
		return user[:maxUser]
	}
	return user
}
