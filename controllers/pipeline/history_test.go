package pipeline

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// run is an Execution created at second sec of the test's day.
func run(name string, sec int, phase v1alpha1.ExecutionPhase) v1alpha1.Execution {
	return v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(utc("2026-01-15T10:00:00Z").Add(time.Duration(sec) * time.Second))},
		Status:     v1alpha1.ExecutionStatus{Phase: phase},
	}
}

func names(runs []v1alpha1.Execution) []string {
	var n []string
	for _, r := range runs {
		n = append(n, r.Name)
	}
	return n
}

func TestBeyondHistory(t *testing.T) {
	// Oldest first. b and a share a second: the name breaks the tie.
	runs := []v1alpha1.Execution{
		run("old-ok", 0, v1alpha1.ExecutionSucceeded),
		run("old-running", 1, v1alpha1.ExecutionRunning),
		run("b-failed", 2, v1alpha1.ExecutionFailed),
		run("a-canceled", 2, v1alpha1.ExecutionCanceled),
		run("queued", 3, v1alpha1.ExecutionQueued),
		run("new", 4, ""),
		run("new-ok", 5, v1alpha1.ExecutionSucceeded),
	}
	slices.SortFunc(runs, olderFirst)
	cases := map[string]struct {
		reason string
		limit  int
		want   []string
	}{
		"KeepAll":  {reason: "four finished runs fit in 20", limit: 20, want: nil},
		"KeepFour": {reason: "exactly the limit", limit: 4, want: nil},
		"KeepTwo":  {reason: "the oldest finished go first; the name breaks a tie", limit: 2, want: []string{"old-ok", "a-canceled"}},
		"KeepNone": {reason: "0 keeps no finished run, and every unfinished one", limit: 0, want: []string{"old-ok", "a-canceled", "b-failed", "new-ok"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, names(beyondHistory(runs, tc.limit))); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestLastRun(t *testing.T) {
	if got := lastRun(nil); got != nil {
		t.Errorf("lastRun(nil) = %+v, want nil", got)
	}
	runs := []v1alpha1.Execution{run("b", 7, v1alpha1.ExecutionRunning), run("c", 7, ""), run("z", 3, v1alpha1.ExecutionFailed)}
	want := &v1alpha1.LastRun{Execution: "c", StartTime: runs[1].CreationTimestamp}
	if diff := cmp.Diff(want, lastRun(runs)); diff != "" {
		t.Errorf("lastRun: the latest created, then the greatest name; -want +got:\n%s", diff)
	}
}
