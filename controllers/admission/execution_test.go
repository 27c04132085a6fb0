package admission

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

const operator = "system:serviceaccount:gennaker-system:gennaker-controller-manager"

// TestStampAnnotations: who started and who canceled a run come from the request's user; only the
// operator's own cron and pipeline-stage runs keep their trigger, and name no creator.
func TestStampAnnotations(t *testing.T) {
	cron := map[string]string{v1alpha1.AnnotationTrigger: v1alpha1.TriggerCron, v1alpha1.AnnotationScheduledTime: "2026-01-01T09:00:00Z"}
	child := map[string]string{v1alpha1.AnnotationTrigger: v1alpha1.TriggerPipeline, v1alpha1.AnnotationParentExecution: "p",
		v1alpha1.AnnotationParentStage: "deploy", v1alpha1.AnnotationPipelineChain: "root,parent"}
	for name, tc := range map[string]struct {
		reason   string
		create   bool
		user     string
		old, ann map[string]string
		cancel   [2]bool // old, new
		want     map[string]string
	}{
		"person creates": {
			reason: "the creator is the request's user, whatever the body said",
			create: true, user: "alice", ann: map[string]string{v1alpha1.AnnotationCreatedBy: "mallory", "team": "shop"},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice", "team": "shop"},
		},
		"operator's cron run": {
			reason: "the trigger says what started it; no creator",
			create: true, user: operator, ann: cron,
			want: cron,
		},
		"operator's own manual run": {
			reason: "without a trigger annotation, the operator is the creator like anyone",
			create: true, user: operator,
			want: map[string]string{v1alpha1.AnnotationCreatedBy: operator},
		},
		"person claims a cron trigger": {
			reason: "the trigger annotations are the operator's: dropped",
			create: true, user: "alice", ann: map[string]string{v1alpha1.AnnotationTrigger: v1alpha1.TriggerCron, v1alpha1.AnnotationParentExecution: "x"},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice"},
		},
		"operator's pipeline-stage run": {
			reason: "the child keeps its parent and its ancestors' pipelines",
			create: true, user: operator, ann: child,
			want: child,
		},
		"person claims a pipeline chain": {
			reason: "the chain is the operator's: a forged one could refuse a legitimate child, so dropped",
			create: true, user: "alice", ann: map[string]string{v1alpha1.AnnotationPipelineChain: "a,b"},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice"},
		},
		"chain rewritten": {
			reason: "a child's chain cannot be cleared or changed later, by anyone",
			user:   "bob", old: child, ann: map[string]string{v1alpha1.AnnotationTrigger: v1alpha1.TriggerPipeline},
			want: child,
		},
		"person numbers the queue": {
			reason: "a run created with a queue position would jump the queue: the operator numbers runs",
			create: true, user: "alice", ann: map[string]string{v1alpha1.AnnotationQueuePosition: "0"},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice"},
		},
		"person renumbers the queue": {
			reason: "only the operator changes a queue position",
			user:   "bob", old: map[string]string{v1alpha1.AnnotationCreatedBy: "alice", v1alpha1.AnnotationQueuePosition: "7"},
			ann:  map[string]string{v1alpha1.AnnotationCreatedBy: "alice", v1alpha1.AnnotationQueuePosition: "1"},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice", v1alpha1.AnnotationQueuePosition: "7"},
		},
		"person clears the refused mark": {
			reason: "only the operator marks a run whose status cannot be written, and unmarks it",
			user:   "bob", old: map[string]string{v1alpha1.AnnotationCreatedBy: "alice", v1alpha1.AnnotationStatusRefused: "Invalid"},
			ann:  map[string]string{v1alpha1.AnnotationCreatedBy: "alice"},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice", v1alpha1.AnnotationStatusRefused: "Invalid"},
		},
		"person marks a run refused": {
			user: "bob", old: map[string]string{v1alpha1.AnnotationCreatedBy: "alice"},
			ann:  map[string]string{v1alpha1.AnnotationCreatedBy: "alice", v1alpha1.AnnotationStatusRefused: "x"},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice"},
		},
		"operator numbers the queue": {
			user: operator, old: map[string]string{v1alpha1.AnnotationCreatedBy: "alice"},
			ann:  map[string]string{v1alpha1.AnnotationCreatedBy: "alice", v1alpha1.AnnotationQueuePosition: "3"},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice", v1alpha1.AnnotationQueuePosition: "3"},
		},
		"created canceled": {
			create: true, user: "alice", cancel: [2]bool{false, true},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice", v1alpha1.AnnotationCanceledBy: "alice"},
		},
		"update rewrites the creator": {
			reason: "the annotations keep what creation gave them",
			user:   "bob", old: map[string]string{v1alpha1.AnnotationCreatedBy: "alice"}, ann: map[string]string{v1alpha1.AnnotationCreatedBy: "bob", v1alpha1.AnnotationTrigger: "cron"},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice"},
		},
		"cancel": {
			user: "bob", old: map[string]string{v1alpha1.AnnotationCreatedBy: "alice"}, cancel: [2]bool{false, true},
			want: map[string]string{v1alpha1.AnnotationCreatedBy: "alice", v1alpha1.AnnotationCanceledBy: "bob"},
		},
		"canceled again": {
			reason: "the first canceler stays",
			user:   "carol", old: map[string]string{v1alpha1.AnnotationCanceledBy: "bob"}, ann: map[string]string{v1alpha1.AnnotationCanceledBy: "carol"}, cancel: [2]bool{true, true},
			want: map[string]string{v1alpha1.AnnotationCanceledBy: "bob"},
		},
		"operator's update": {
			reason: "the operator cannot rewrite them either",
			user:   operator, old: cron, ann: map[string]string{v1alpha1.AnnotationQueuePosition: "3"},
			want: map[string]string{v1alpha1.AnnotationTrigger: v1alpha1.TriggerCron, v1alpha1.AnnotationScheduledTime: "2026-01-01T09:00:00Z", v1alpha1.AnnotationQueuePosition: "3"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			old := &v1alpha1.Execution{}
			old.Annotations = tc.old
			old.Spec.Cancel = tc.cancel[0]
			ex := &v1alpha1.Execution{}
			ex.Annotations = map[string]string{}
			for k, v := range tc.ann {
				ex.Annotations[k] = v
			}
			ex.Spec.Cancel = tc.cancel[1]
			stampAnnotations(ex, old, tc.create, tc.user, operator)
			if d := cmp.Diff(tc.want, ex.Annotations); d != "" {
				t.Errorf("%s: annotations (-want +got):\n%s", tc.reason, d)
			}
		})
	}
}
