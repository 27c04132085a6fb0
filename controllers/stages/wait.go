package stages

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gennaker/gennaker/controllers/engine"
)

// Wait waits for its duration. A person can end a running wait early by adding the stage's name to the
// Execution's spec.skipWaits (Spinnaker's "skip wait").
type Wait struct{}

// Start begins the wait; a zero duration ends at once.
func (w Wait) Start(ctx context.Context, s *engine.StageRun) error { return w.Check(ctx, s) }

// Check ends the wait when its time has come or a person skipped it.
func (Wait) Check(_ context.Context, s *engine.StageRun) error {
	d, err := s.Spec.Wait.Duration.Duration()
	if err != nil {
		s.Fail(fmt.Sprintf("wait.duration: %v", err))
		return nil
	}
	end := s.Status.StartTime.Add(d)
	switch {
	case slices.Contains(s.Execution.Spec.SkipWaits, s.Spec.Name):
		s.Succeed(fmt.Sprintf("skipped by spec.skipWaits after %s of %s", s.Now.Sub(s.Status.StartTime.Time).Round(time.Second), d))
	case !s.Now.Before(end):
		s.Succeed(fmt.Sprintf("waited %s", d))
	default:
		s.Running(fmt.Sprintf("waiting until %s", end.UTC().Format(time.RFC3339)), end)
	}
	return nil
}

// Cancel has nothing to stop.
func (Wait) Cancel(context.Context, *engine.StageRun) error { return nil }
