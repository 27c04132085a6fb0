package execution

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// Limits that keep a run's status within what the API server takes: a condition's message may be 32768
// characters, and etcd refuses an object over 1.5 MiB. A stage's outputs have their own budget
// (engine.MaxStageOutputBytes).
const (
	// MaxMessageBytes bounds every message of a run's status: its conditions', its stages' and theirs.
	MaxMessageBytes = 1024
	// MaxStatusBytes bounds the whole status, as JSON; a run whose status would grow past it fails.
	MaxStatusBytes = 1 << 20
)

// bound shortens the messages of the status to MaxMessageBytes, and returns why the status is still too
// big to write, or "".
func bound(ex *v1alpha1.Execution) string {
	for i := range ex.Status.Conditions {
		ex.Status.Conditions[i].Message = shorten(ex.Status.Conditions[i].Message)
	}
	for i := range ex.Status.Stages {
		st := &ex.Status.Stages[i]
		st.Message = shorten(st.Message)
		for j := range st.Conditions {
			st.Conditions[j].Message = shorten(st.Conditions[j].Message)
		}
	}
	raw, err := json.Marshal(ex.Status)
	if err != nil {
		return fmt.Sprintf("the run's status cannot be encoded: %v", err)
	}
	if len(raw) > MaxStatusBytes {
		return fmt.Sprintf("the run's status would be %d bytes, more than the %d it may have", len(raw), MaxStatusBytes)
	}
	return ""
}

// shorten cuts a message to MaxMessageBytes, on a character boundary, marking the cut.
func shorten(s string) string {
	if len(s) <= MaxMessageBytes {
		return s
	}
	const mark = "..."
	cut := MaxMessageBytes - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// refused says whether the API server refused a status write for what it holds (invalid, too large),
// which writing it again would not change.
func refused(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsRequestEntityTooLargeError(err) ||
		strings.Contains(err.Error(), "request is too large")
}

// failSmall ends a run whose status cannot be written: the status last written, with the run Failed and
// why. What the reconcile did is not recorded, so the stages it started are said to be stopped; none of
// them is run again, as a failed run is never stepped.
func failSmall(read, ex *v1alpha1.Execution, why string, now time.Time) {
	ex.Status = *read.Status.DeepCopy()
	ex.Status.Phase = v1alpha1.ExecutionFailed
	ex.Status.CompletionTime = ptr.To(metav1.NewTime(now))
	for i := range ex.Status.Stages {
		st := &ex.Status.Stages[i]
		if st.Phase == v1alpha1.StageRunning || st.Phase == v1alpha1.StageWaitingForJudgment {
			st.Phase = v1alpha1.StageCanceled
			st.Message = "canceled: the run failed, its status too large to record"
			st.NextCheckTime = nil
			st.EndTime = ptr.To(metav1.NewTime(now))
		}
	}
	summarize(ex, shorten(why))
}

// writeBounded writes the status within the limits; a status too big, or refused by the API server for
// what it holds, fails the run with a smaller write instead of being retried forever. small says the
// smaller write was made: what the step did is not recorded, so it is not to be reported either.
func (r *Reconciler) writeBounded(ctx context.Context, read, ex *v1alpha1.Execution, now time.Time) (small bool, err error) {
	why := bound(ex)
	if why == "" {
		err := r.write(ctx, read, ex)
		if err == nil || !refused(err) {
			return false, err
		}
		why = "the API server refused the run's status: " + err.Error()
	}
	failSmall(read, ex, why, now)
	return true, r.write(ctx, read, ex)
}
