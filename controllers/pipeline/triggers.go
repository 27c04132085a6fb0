package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/robfig/cron/v3"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/trigger"
	gnkvalidation "github.com/gennaker/gennaker/controllers/validation"
)

// StartingDeadline is how late a cron trigger may start a run. When the controller comes back after missing
// due times, it starts one run for the most recent of them if that is at most this old, as a CronJob with
// startingDeadlineSeconds does, and skips them otherwise, with a Warning Event: a release scheduled for 09:00
// that starts in the evening, or a storm of catch-up runs, would surprise more than a skipped run. An hour
// covers a leader hand-over or a slow restart.
const StartingDeadline = time.Hour

// parseTrigger returns a cron trigger's schedule and time zone, parsed by the very function validation
// uses, so that what validates is what runs.
func parseTrigger(c *v1alpha1.CronTrigger) (cron.Schedule, *time.Location, error) {
	if c == nil {
		return nil, nil, fmt.Errorf("not a cron trigger")
	}
	return gnkvalidation.ParseCronSchedule(c.Schedule, c.TimeZone)
}

// tick is what one look at a trigger found.
type tick struct {
	// due is the time to start an Execution for; zero when nothing is due.
	due time.Time
	// missedSince is the first of the due times skipped because all were missed by more than
	// StartingDeadline; zero when none were.
	missedSince time.Time
	// status is the trigger's status once due, if any, has started.
	status v1alpha1.TriggerStatus
}

// evaluate looks at trigger index at now, given its status of the last pass (nil if none). It is pure: the
// reconciler starts the Execution, and records the status only if that worked.
func evaluate(index int, c *v1alpha1.CronTrigger, prev *v1alpha1.TriggerStatus, now time.Time) (tick, error) {
	sched, loc, err := parseTrigger(c)
	if err != nil {
		return tick{}, err
	}
	next := func(t time.Time) *metav1.Time {
		n := sched.Next(t.In(loc))
		if n.IsZero() { // a schedule that never fires; validation rejects those
			return nil
		}
		return &metav1.Time{Time: n.UTC()}
	}
	st := v1alpha1.TriggerStatus{Index: int32(index), Schedule: c.Schedule, TimeZone: c.TimeZone}
	// The API keeps whole seconds; so does what the status is computed from. Due times are whole seconds.
	now = now.Truncate(time.Second)

	// A new or changed trigger does not fire for times before the controller saw it.
	if prev == nil || prev.Schedule != c.Schedule || prev.TimeZone != c.TimeZone || prev.LastScheduleTime.IsZero() {
		st.LastScheduleTime = metav1.Time{Time: now}
		st.NextScheduleTime = next(now)
		return tick{status: st}, nil
	}

	last := prev.LastScheduleTime.Time
	first := next(last)
	if first == nil || first.After(now) { // nothing due yet
		st.LastScheduleTime = prev.LastScheduleTime
		st.NextScheduleTime = first
		return tick{status: st}, nil
	}
	// Something is due. Only the most recent due time within the deadline may start a run, so the search
	// starts at the deadline: a few dozen steps at most, however long the controller was away.
	var due time.Time
	for t := sched.Next(searchFrom(sched, last, now.Add(-StartingDeadline)).In(loc)); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		due = t
	}
	if due.IsZero() { // every missed time is older than the deadline
		st.LastScheduleTime = metav1.Time{Time: now}
		st.NextScheduleTime = next(now)
		return tick{missedSince: first.Time, status: st}, nil
	}
	due = due.UTC()
	st.LastScheduleTime = metav1.Time{Time: due}
	st.NextScheduleTime = next(due) // not next(now): @every counts from due
	return tick{due: due, status: st}, nil
}

// searchFrom is where the search for the most recent due time starts: the last handled time, or the
// deadline if that is later. @every ticks count from the last handled time, so for them the start moves
// from it by whole periods, which keeps their phase.
func searchFrom(sched cron.Schedule, last, deadline time.Time) time.Time {
	if !deadline.After(last) {
		return last
	}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		last = last.Truncate(time.Second) // as ConstantDelaySchedule.Next does
		return last.Add(deadline.Sub(last) / every.Delay * every.Delay)
	}
	return deadline
}

// ExecutionName is the name of the Execution that trigger index of pipeline starts for the due time:
// <pipeline>-cron<index>-<due, in Unix seconds>. The same inputs always give the same name, so that a
// controller that restarts between creating the Execution and recording it in the status gets AlreadyExists
// rather than starting a second run.
func ExecutionName(pipeline string, index int, due time.Time) string {
	return trigger.RunName(pipeline, cronSuffix(index, due))
}

func cronSuffix(index int, due time.Time) string { return fmt.Sprintf("cron%d-%d", index, due.Unix()) }

// triggerOutcome is what runTriggers did.
type triggerOutcome struct {
	// statuses are the triggers' new statuses, in spec order.
	statuses []v1alpha1.TriggerStatus
	// started are the Executions created in this pass.
	started []*v1alpha1.Execution
	// requeueAfter is the time until the earliest next due time; zero if none.
	requeueAfter time.Duration
	// errs are the triggers that failed to start their run; they retry on the next pass.
	errs []error
	// seen are, by trigger index, what the pollers last saw of the polled triggers; read once per pass.
	seen map[int]trigger.Seen
	// notReady are the polled triggers that cannot read their source until someone changes something.
	notReady []notReady
}

// runTriggers starts the due runs of pl's cron triggers, at most one per trigger, and computes their
// statuses; runOtherTrigger does the same for the other trigger types. A trigger whose Execution could not
// be created keeps its previous status, so that the next pass tries the same due time again.
func (r *Reconciler) runTriggers(ctx context.Context, pl *v1alpha1.Pipeline, now time.Time) triggerOutcome {
	logger := log.FromContext(ctx)
	var out triggerOutcome
	for i := range pl.Spec.Triggers {
		prev := previousStatus(pl.Status.Triggers, i)
		if pl.Spec.Triggers[i].Cron == nil {
			r.runOtherTrigger(ctx, pl, i, prev, now, &out)
			continue
		}
		t, err := evaluate(i, pl.Spec.Triggers[i].Cron, prev, now)
		if err != nil { // only a pipeline that failed validation gets here, and those do not fire
			out.errs = append(out.errs, fmt.Errorf("spec.triggers[%d]: %w", i, err))
			continue
		}
		if !t.missedSince.IsZero() {
			logger.Info("skipped missed due times of a cron trigger", "trigger", i, "since", t.missedSince)
			r.Recorder.Eventf(pl, nil, corev1.EventTypeWarning, ReasonMissedSchedule, "Trigger",
				"cron trigger %d missed its due times since %s by more than %s, and skipped them; next run at %s",
				i, t.missedSince.UTC().Format(time.RFC3339), StartingDeadline, formatTime(t.status.NextScheduleTime))
		}
		if !t.due.IsZero() {
			ex, err := r.startRun(ctx, pl, i, t.due)
			if err != nil {
				out.errs = append(out.errs, err)
				if prev != nil {
					out.statuses = append(out.statuses, *prev)
				}
				continue
			}
			if ex != nil {
				out.started = append(out.started, ex)
			}
		}
		out.statuses = append(out.statuses, t.status)
		if n := t.status.NextScheduleTime; n != nil {
			if d := n.Sub(now); out.requeueAfter == 0 || d < out.requeueAfter {
				out.requeueAfter = max(d, time.Second) // a clock that jumped back must not spin the reconciler
			}
		}
	}
	return out
}

// startRun creates the Execution for a due time. It returns nil, and no error, when that Execution already
// exists: an earlier pass created it and stopped before recording it.
func (r *Reconciler) startRun(ctx context.Context, pl *v1alpha1.Pipeline, index int, due time.Time) (*v1alpha1.Execution, error) {
	at := due.UTC().Format(time.RFC3339)
	return r.start(ctx, pl, trigger.Run{
		Type: v1alpha1.TriggerCron, Index: index, Suffix: cronSuffix(index, due),
		Annotations: map[string]string{
			v1alpha1.AnnotationScheduledTime: at,
			v1alpha1.AnnotationTriggerIndex:  strconv.Itoa(index),
		},
	}, "scheduled at "+at)
}

// start creates the run of a trigger, with an Event on the Pipeline either way. It returns nil, and no
// error, when the run already exists: an earlier pass created it and stopped before recording it.
func (r *Reconciler) start(ctx context.Context, pl *v1alpha1.Pipeline, run trigger.Run, why string) (*v1alpha1.Execution, error) {
	logger := log.FromContext(ctx).WithValues("trigger", run.Index, "type", run.Type, "key", run.Key)
	ex, created, err := trigger.Start(ctx, r.Client, pl, run)
	switch {
	case err != nil:
		r.Recorder.Eventf(pl, nil, corev1.EventTypeWarning, ReasonTriggerFailed, "Trigger",
			"%s trigger %d could not start a run (%s): %v", run.Type, run.Index, why, err)
		return nil, err
	case !created:
		if err := r.ownRun(ctx, pl, run, ex.Name); err != nil {
			r.Recorder.Eventf(pl, nil, corev1.EventTypeWarning, ReasonTriggerFailed, "Trigger",
				"%s trigger %d could not start a run (%s): %v", run.Type, run.Index, why, err)
			return nil, err
		}
		logger.Info("the trigger's run already exists", "execution", ex.Name)
		return nil, nil
	}
	logger.Info("a trigger started an Execution", "execution", ex.Name)
	r.Recorder.Eventf(pl, ex, corev1.EventTypeNormal, ReasonTriggered, "Trigger",
		"%s trigger %d started Execution %s, %s", run.Type, run.Index, ex.Name, why)
	return ex, nil
}

// ownRun checks that the run named name, which exists, is the trigger's own: started for the same key
// before a restart, not made by hand under that name, which would stand in for it.
func (r *Reconciler) ownRun(ctx context.Context, pl *v1alpha1.Pipeline, run trigger.Run, name string) error {
	var ex v1alpha1.Execution
	if err := r.Get(ctx, client.ObjectKey{Namespace: pl.Namespace, Name: name}, &ex); err != nil {
		// Not in the cache yet (just created by this trigger, before a restart): the next pass looks again.
		return fmt.Errorf("Execution %s exists and cannot be read yet: %w", name, err)
	}
	if !trigger.StartedBy(&ex, pl, run.Index, run.Type) {
		return &runNameTaken{index: run.Index, name: name}
	}
	return nil
}

// runNameTaken is a trigger that fired while a run it did not start holds its run's name: the Pipeline is
// not Ready until someone deletes that run.
type runNameTaken struct {
	index int
	name  string
}

func (e *runNameTaken) Error() string {
	return fmt.Sprintf("Execution %s exists and was not started by spec.triggers[%d]; delete it so that the trigger can start its run", e.name, e.index)
}

// previousStatus returns the status recorded for trigger index, or nil.
func previousStatus(statuses []v1alpha1.TriggerStatus, index int) *v1alpha1.TriggerStatus {
	for i := range statuses {
		if int(statuses[i].Index) == index {
			return &statuses[i]
		}
	}
	return nil
}

func formatTime(t *metav1.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
