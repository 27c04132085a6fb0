package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// flaky fails its first Start with a transient error, then succeeds.
type flaky struct{ calls *int }

func (f flaky) Start(_ context.Context, s *StageRun) error {
	*f.calls++
	if *f.calls == 1 {
		return errors.New("the API server said: try again")
	}
	s.Succeed("done")
	return nil
}
func (flaky) Check(context.Context, *StageRun) error  { return nil }
func (flaky) Cancel(context.Context, *StageRun) error { return nil }

func run(stages ...v1alpha1.Stage) *v1alpha1.Execution {
	ex := &v1alpha1.Execution{Status: v1alpha1.ExecutionStatus{
		Phase:        v1alpha1.ExecutionRunning,
		PipelineSpec: &v1alpha1.PipelineSpec{Stages: stages},
	}}
	InitStages(ex)
	return ex
}

func TestTransientErrorRetriesTheWholeStart(t *testing.T) {
	calls := 0
	e := &Engine{Stages: Stages{"wait": flaky{&calls}}}
	ex := run(v1alpha1.Stage{Name: "a", StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "1s"}}})
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

	res := e.Step(context.Background(), ex, now, nil)
	if res.Err == nil || len(res.Transitions) != 0 {
		t.Fatalf("want the error and no transition, got %v, %v", res.Err, res.Transitions)
	}
	if st := ex.Status.Stages[0]; st.Phase != v1alpha1.StageNotStarted || st.StartTime != nil {
		t.Fatalf("a failed start must leave the stage as it was, got %+v", st)
	}
	res = e.Step(context.Background(), ex, now.Add(time.Second), nil)
	if res.Err != nil || ex.Status.Phase != v1alpha1.ExecutionSucceeded {
		t.Fatalf("the retry should finish the run: %v, %s", res.Err, ex.Status.Phase)
	}
	if got := len(res.Transitions); got != 2 {
		t.Fatalf("want NotStarted->Running->Succeeded, got %+v", res.Transitions)
	}
	if res.Transitions[0].To != v1alpha1.StageRunning || res.Transitions[1].To != v1alpha1.StageSucceeded {
		t.Fatalf("transitions out of order: %+v", res.Transitions)
	}
}

func TestStaleCacheStopsTheStep(t *testing.T) {
	calls := 0
	e := &Engine{Stages: Stages{"wait": stale{&calls}}}
	ex := run(v1alpha1.Stage{Name: "a", StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "1s"}}})
	res := e.Step(context.Background(), ex, time.Now(), func(context.Context) error { return ErrStale })
	if !errors.Is(res.Err, ErrStale) || calls != 0 {
		t.Fatalf("want ErrStale before the side effect, got %v after %d effects", res.Err, calls)
	}
}

// stale does something that cannot be undone, after EnsureFresh.
type stale struct{ effects *int }

func (s stale) Start(ctx context.Context, r *StageRun) error {
	if err := r.EnsureFresh(ctx); err != nil {
		return err
	}
	*s.effects++
	return nil
}
func (stale) Check(context.Context, *StageRun) error  { return nil }
func (stale) Cancel(context.Context, *StageRun) error { return nil }

func TestUnsupportedStageTypeFailsWithAMessage(t *testing.T) {
	e := &Engine{Stages: Stages{}}
	ex := run(v1alpha1.Stage{Name: "deploy", OnFailure: v1alpha1.OnFailureFail,
		StageType: v1alpha1.StageType{Deploy: &v1alpha1.DeployStage{}}})
	res := e.Step(context.Background(), ex, time.Now(), nil)
	if ex.Status.Phase != v1alpha1.ExecutionFailed {
		t.Fatalf("phase %s", ex.Status.Phase)
	}
	if want := "stage type deploy is not supported by this version of the operator"; ex.Status.Stages[0].Message != want {
		t.Fatalf("message %q", ex.Status.Stages[0].Message)
	}
	if res.Message != "stage deploy failed: "+"stage type deploy is not supported by this version of the operator" {
		t.Fatalf("run message %q", res.Message)
	}
}

func TestStatusNotWrittenByTheOperator(t *testing.T) {
	e := &Engine{Stages: Stages{}}
	ex := &v1alpha1.Execution{Status: v1alpha1.ExecutionStatus{Phase: v1alpha1.ExecutionRunning}}
	res := e.Step(context.Background(), ex, time.Now(), nil)
	if ex.Status.Phase != v1alpha1.ExecutionFailed || res.Message == "" {
		t.Fatalf("a run without a frozen spec must fail with a message, got %s %q", ex.Status.Phase, res.Message)
	}

	ex = run(v1alpha1.Stage{Name: "a", StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "0s"}}})
	ex.Status.Stages = nil // a stage's status removed by hand
	res = (&Engine{Stages: Stages{"wait": done{}}}).Step(context.Background(), ex, time.Now(), nil)
	if ex.Status.Phase != v1alpha1.ExecutionSucceeded || len(ex.Status.Stages) != 1 {
		t.Fatalf("the missing stage status should be made again, and the stage run: %s %+v %v", ex.Status.Phase, ex.Status.Stages, res.Err)
	}
}

// done succeeds at once.
type done struct{}

func (done) Start(_ context.Context, s *StageRun) error { s.Succeed("done"); return nil }
func (done) Check(context.Context, *StageRun) error     { return nil }
func (done) Cancel(context.Context, *StageRun) error    { return nil }

// cancels counts Cancel calls and never finishes by itself, as a deploy waiting on a group that never
// becomes healthy.
type cancels struct{ n *int }

func (cancels) Start(_ context.Context, s *StageRun) error {
	s.Running("waiting", time.Time{})
	return nil
}
func (cancels) Check(context.Context, *StageRun) error    { return nil }
func (c cancels) Cancel(context.Context, *StageRun) error { *c.n++; return nil }

// A deploy stage without a timeout still times out, after DefaultDeployTimeout, and is canceled (which
// rolls a red/black back); the run asks to be woken at that deadline. Other stage types have no default.
func TestDeployWithoutTimeoutGetsTheDefault(t *testing.T) {
	n := 0
	e := &Engine{Stages: Stages{"deploy": cancels{&n}, "wait": cancels{&n}}}
	ex := run(
		v1alpha1.Stage{Name: "deploy", StageType: v1alpha1.StageType{Deploy: &v1alpha1.DeployStage{}}},
		v1alpha1.Stage{Name: "soak", StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "9h"}}},
	)
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	res := e.Step(context.Background(), ex, t0, nil)
	if res.Err != nil || res.RequeueAfter != DefaultDeployTimeout {
		t.Fatalf("want a wake-up at the default deploy timeout, got %s (%v)", res.RequeueAfter, res.Err)
	}
	e.Step(context.Background(), ex, t0.Add(DefaultDeployTimeout-time.Second), nil)
	if ex.Status.Stages[0].Phase != v1alpha1.StageRunning {
		t.Fatalf("the deploy must still run just before 2h, got %s", ex.Status.Stages[0].Phase)
	}
	res = e.Step(context.Background(), ex, t0.Add(DefaultDeployTimeout), nil)
	st := ex.Status.Stages[0]
	if st.Phase != v1alpha1.StageFailed || st.Message != "timed out after 2h, the default timeout of a deploy stage" {
		t.Fatalf("want the deploy failed by the default timeout, got %s %q", st.Phase, st.Message)
	}
	// The deploy was canceled by its timeout, the wait by the run failing; the wait had no timeout of its own.
	if n != 2 || ex.Status.Phase != v1alpha1.ExecutionFailed || ex.Status.Stages[1].Message == "timed out after 9h" {
		t.Fatalf("want both canceled and the run failed, got %d cancels, %s, %+v", n, ex.Status.Phase, ex.Status.Stages[1])
	}
	if Timeout(&v1alpha1.Stage{Timeout: "5m", StageType: v1alpha1.StageType{Deploy: &v1alpha1.DeployStage{}}}) != 5*time.Minute {
		t.Fatal("a deploy's own timeout must win over the default")
	}
}

// answered stands for a stage whose Check records a remote's answer: it settles, then succeeds.
type answered struct{}

func (answered) Start(_ context.Context, s *StageRun) error {
	s.Running("calling", time.Time{})
	return nil
}
func (answered) Check(_ context.Context, s *StageRun) error {
	s.Settle()
	s.Succeed("answered")
	return nil
}
func (answered) Cancel(context.Context, *StageRun) error { return nil }

// counted counts its Starts and finishes at once.
type counted struct{ starts *int }

func (c counted) Start(_ context.Context, s *StageRun) error {
	*c.starts++
	s.Succeed("done")
	return nil
}
func (counted) Check(context.Context, *StageRun) error  { return nil }
func (counted) Cancel(context.Context, *StageRun) error { return nil }

func TestSettledAnswerIsWrittenBeforeDependentsStart(t *testing.T) {
	starts := 0
	e := &Engine{Stages: Stages{"webhook": answered{}, "wait": counted{&starts}}}
	ex := run(
		v1alpha1.Stage{Name: "call", StageType: v1alpha1.StageType{Webhook: &v1alpha1.WebhookStage{URL: "https://example.com"}}},
		v1alpha1.Stage{Name: "after", DependsOn: []string{"call"}, StageType: v1alpha1.StageType{Wait: &v1alpha1.WaitStage{Duration: "0s"}}},
	)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	if res := e.Step(context.Background(), ex, now, nil); res.Err != nil || ex.Status.Stages[0].Phase != v1alpha1.StageRunning {
		t.Fatalf("the call should be running: %v, %+v", res.Err, ex.Status.Stages[0])
	}
	res := e.Step(context.Background(), ex, now, nil)
	if res.Err != nil || ex.Status.Stages[0].Phase != v1alpha1.StageSucceeded {
		t.Fatalf("the answer should finish the call: %v, %+v", res.Err, ex.Status.Stages[0])
	}
	if starts != 0 || ex.Status.Phase != v1alpha1.ExecutionRunning {
		t.Fatalf("a stage after a settled answer started in the same step (%d starts, run %s)", starts, ex.Status.Phase)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
		t.Fatalf("the step should ask to run again at once, got RequeueAfter %v", res.RequeueAfter)
	}
	if res := e.Step(context.Background(), ex, now, nil); res.Err != nil || starts != 1 || ex.Status.Phase != v1alpha1.ExecutionSucceeded {
		t.Fatalf("the next step should start the dependent and finish: %v, %d starts, run %s", res.Err, starts, ex.Status.Phase)
	}
}
