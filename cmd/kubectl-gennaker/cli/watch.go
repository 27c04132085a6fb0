package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// watch draws the run, then redraws it whenever the namespace's runs or server groups change (the run
// itself, its child runs, the groups its deploys made), at most once per minRedraw, until the run ends.
// On a terminal each frame replaces the last; elsewhere frames follow one another, and a frame that
// would repeat the last is not written. A watched run that fails or is canceled is an error, so that
// scripts can tell.
func (s *session) watch(ctx context.Context, name string) error {
	tty := isTerminal(s.Out)
	last := ""
	var lastDraw time.Time
	for {
		runs, err := s.client.Watch(ctx, &v1alpha1.ExecutionList{}, client.InNamespace(s.namespace))
		if err != nil {
			return err
		}
		groups, err := s.client.Watch(ctx, &v1alpha1.ServerGroupList{}, client.InNamespace(s.namespace))
		if err != nil {
			runs.Stop()
			return err
		}
		done, err := s.watchOnce(ctx, name, runs, groups, tty, &last, &lastDraw)
		runs.Stop()
		groups.Stop()
		if done || err != nil {
			return err
		}
	}
}

// watchOnce serves one pair of watches until the run ends (done) or a watch closes, as the API server
// closes them after a while; the caller then opens new ones.
func (s *session) watchOnce(ctx context.Context, name string, runs, groups watch.Interface, tty bool, last *string, lastDraw *time.Time) (done bool, err error) {
	// Drawn once the watches are open, so that no change between the read and the watch is missed.
	redraw := func() (bool, error) {
		ex, err := s.execution(ctx, name)
		if err != nil {
			return true, err
		}
		var b strings.Builder
		if err := s.draw(ctx, &b, ex); err != nil {
			return true, err
		}
		*lastDraw = time.Now()
		if frame := b.String(); frame != *last {
			*last = frame
			if tty {
				frame = "\x1b[H\x1b[2J" + frame
			} else {
				frame += "\n"
			}
			if _, err := fmt.Fprint(s.Out, frame); err != nil {
				return true, err
			}
		}
		if finished(ex.Status.Phase) {
			if ex.Status.Phase != v1alpha1.ExecutionSucceeded {
				return true, exitError{msg: fmt.Sprintf("run %s %s", ex.Name, ex.Status.Phase), code: 1}
			}
			return true, nil
		}
		return false, nil
	}
	if done, err := redraw(); done || err != nil {
		return done, err
	}
	// On a terminal, durations tick every second even when nothing else changes.
	var tick <-chan time.Time
	if tty {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	var pending <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case ev, ok := <-runs.ResultChan():
			if !ok {
				return false, nil
			}
			if ev.Type == watch.Error {
				// An expired resourceVersion, say: reopen, and redraw from a fresh read.
				return false, nil
			}
			if ex, isRun := ev.Object.(*v1alpha1.Execution); isRun && ev.Type == watch.Deleted && ex.Name == name {
				return true, fmt.Errorf("execution %s was deleted", name)
			}
		case _, ok := <-groups.ResultChan():
			if !ok {
				return false, nil
			}
		case <-tick:
		case <-pending:
			pending = nil
			if done, err := redraw(); done || err != nil {
				return done, err
			}
			continue
		}
		if pending == nil {
			pending = time.After(max(0, minRedraw-time.Since(*lastDraw)))
		}
	}
}
