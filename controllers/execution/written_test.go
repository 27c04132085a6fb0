package execution

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/stages"
)

// afterWriting is a stage whose Check records a message and leaves, for after the step's write, a mark
// that it was written (as the webhook stage forgets its answer then).
type afterWriting struct {
	message string
	written int
}

func (a *afterWriting) Start(context.Context, *engine.StageRun) error { return nil }
func (a *afterWriting) Check(ctx context.Context, s *engine.StageRun) error {
	s.Running(a.message, time.Time{})
	stages.OnWritten(ctx, func() { a.written++ })
	return nil
}
func (a *afterWriting) Cancel(context.Context, *engine.StageRun) error { return nil }

// TestOnWrittenRunsOnlyOnceTheStatusIsWritten: what a stage leaves for after its step's status is written
// runs once that write goes through, and not when the status is refused (the smaller write records none
// of the step), so the webhook stage forgets an answer only once the run's status records it.
func TestOnWrittenRunsOnlyOnceTheStatusIsWritten(t *testing.T) {
	for name, tc := range map[string]struct {
		message string
		want    int
	}{
		"written": {"recorded", 1},
		"refused": {"too-big-to-write", 0},
	} {
		t.Run(name, func(t *testing.T) {
			ex := limitsRun()
			tried := 0
			c := refusingStatus(t, ex, &tried, func(body string) error {
				if strings.Contains(body, "too-big-to-write") {
					return etcdTooLarge
				}
				return nil
			})
			st := &afterWriting{message: tc.message}
			r := &Reconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(10), Clock: clocktesting.NewFakePassiveClock(limitsT0),
				Engine: &engine.Engine{Stages: engine.Stages{"wait": st}}}
			if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ex)}); err != nil {
				t.Fatal(err)
			}
			if st.written != tc.want {
				t.Fatalf("ran %d times after the write, want %d (%d status writes tried)", st.written, tc.want, tried)
			}
		})
	}
}
