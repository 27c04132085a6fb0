package execution

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/status"
)

// report sends the Events and metrics of a write that went through.
func (r *Reconciler) report(ctx context.Context, read, ex *v1alpha1.Execution, res engine.Result) {
	logger := log.FromContext(ctx)
	if p := ex.Status.Phase; p != read.Status.Phase {
		logger.Info("run changed phase", "pipeline", ex.Spec.Pipeline, "from", read.Status.Phase, "to", p)
	}
	if read.Status.StartTime == nil && ex.Status.StartTime != nil {
		// Said even of a run that started and finished in this one reconcile.
		executions.WithLabelValues(string(v1alpha1.ExecutionRunning)).Inc()
		r.Recorder.Eventf(ex, nil, corev1.EventTypeNormal, "Started", "Start", "pipeline %s generation %d started with %d stages", ex.Spec.Pipeline, ex.Status.PipelineGeneration, len(ex.Status.Stages))
	}
	if p := ex.Status.Phase; p != read.Status.Phase && !p.Running() {
		executions.WithLabelValues(string(p)).Inc()
		c := status.Message(ex, v1alpha1.ConditionReady)
		switch p {
		case v1alpha1.ExecutionQueued:
			r.Recorder.Eventf(ex, nil, corev1.EventTypeNormal, "Queued", "Queue", "%s", c)
		case v1alpha1.ExecutionSucceeded:
			r.Recorder.Eventf(ex, nil, corev1.EventTypeNormal, "Succeeded", "Finish", "every stage finished")
		case v1alpha1.ExecutionFailed:
			r.Recorder.Eventf(ex, nil, corev1.EventTypeWarning, "Failed", "Finish", "%s", c)
		case v1alpha1.ExecutionCanceled:
			r.Recorder.Eventf(ex, nil, corev1.EventTypeNormal, "Canceled", "Cancel", "%s", c)
		}
	}
	for _, t := range res.Transitions {
		typ, reason := corev1.EventTypeNormal, "Stage"+string(t.To)
		switch t.To {
		case v1alpha1.StageRunning:
			reason = "StageStarted"
		case v1alpha1.StageFailed, v1alpha1.StageFailedContinue:
			typ = corev1.EventTypeWarning
			reason = "StageFailed"
		}
		note := fmt.Sprintf("stage %s (%s) %s", t.Stage, t.Type, t.To)
		if t.Message != "" {
			note += ": " + t.Message
		}
		// The stage is the Event's related object, field path and all: the recorder merges Events that
		// differ only in their note, which would fold every stage's Event into the first one's.
		r.Recorder.Eventf(ex, stageRef(ex, t.Stage), typ, reason, "Stage", "%s", truncate(note, 1000))
		observeStage(t)
		logger.V(1).Info("stage changed phase", "stage", t.Stage, "type", t.Type, "from", t.From, "to", t.To, "message", t.Message)
	}
	if c := meta.FindStatusCondition(ex.Status.Conditions, ConditionInvalidJudgment); c != nil && c.Status == metav1.ConditionTrue {
		if was := meta.FindStatusCondition(read.Status.Conditions, ConditionInvalidJudgment); was == nil || was.Message != c.Message {
			r.Recorder.Eventf(ex, nil, corev1.EventTypeWarning, "InvalidJudgment", "Judge", "%s", c.Message)
		}
	}
}

func stageRef(ex *v1alpha1.Execution, stage string) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		APIVersion: v1alpha1.GroupVersion.String(),
		Kind:       "Execution",
		Namespace:  ex.Namespace,
		Name:       ex.Name,
		UID:        ex.UID,
		FieldPath:  fmt.Sprintf("status.stages{%s}", stage),
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
