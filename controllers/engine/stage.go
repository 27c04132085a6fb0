// Package engine runs an Execution's stage graph: it decides which stages may start (dependsOn, when,
// execution windows), starts and checks them through the Stage interface, applies timeouts and onFailure,
// handles cancel, and says when the run is over. It works on the Execution's status alone, so that a
// reconcile can be cut short at any point and the next one picks up where the last write left off.
//
// Stage types live in controllers/stages, one file each; the Execution controller wires them in.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine/expr"
)

// Stage is the work of one stage type. Implementations keep no state of their own: whatever they must
// remember between reconciles goes into the stage's status (phase, message, outputs, nextCheckTime,
// conditions) through the StageRun.
//
// A returned error is transient (the API server or a remote refused for now): the engine drops what the
// call changed in the stage's status and tries again later. A stage that should fail says so with
// StageRun.Fail instead.
type Stage interface {
	// Start begins the stage. It is called once, when the stage leaves NotStarted, after the engine has set
	// it Running; it may finish the stage at once.
	Start(ctx context.Context, s *StageRun) error
	// Check looks at a started stage again. It is called on every reconcile while the stage is Running or
	// WaitingForJudgment, and must only do what is due (compare s.Now with its NextCheckTime).
	Check(ctx context.Context, s *StageRun) error
	// Cancel tells a started stage to stop: the run was canceled, another stage failed the run, or the
	// stage timed out. The engine sets the phase afterwards. It returns an error only when trying again may
	// succeed: a run must always be cancelable, so a refusal that will last is the stage's to swallow.
	Cancel(ctx context.Context, s *StageRun) error
}

// Decided is implemented by stage types whose outcome a person decides (a manual judgment). A decision
// made before the stage's timeout wins over the timeout, however late the run is reconciled after it.
type Decided interface {
	// DecidedAt returns when the stage's decision was made, and false when there is none.
	DecidedAt(s *StageRun) (time.Time, bool)
}

// Stages are the stage types the engine knows, by type name (v1alpha1.StageType.Type()).
type Stages map[string]Stage

// ErrStale says the Execution read from the cache is older than the API server's: the reconcile must stop
// before doing anything that cannot be undone, and run again.
var ErrStale = errors.New("the execution read from the cache is stale")

// StageRun is what a stage sees and changes while it runs.
type StageRun struct {
	// Spec is the stage as frozen into the Execution when the run started.
	Spec *v1alpha1.Stage
	// Status is the stage's status; change it through the methods below.
	Status *v1alpha1.StageStatus
	// Execution is the run, read only.
	Execution *v1alpha1.Execution
	// Now is the reconcile's clock reading; stages compare times with it, never with time.Now.
	Now time.Time
	// Vars are the values expressions of this stage are evaluated with.
	Vars expr.Vars

	ensureFresh func(context.Context) error
	settle      *bool
}

// Settle says that what the stage has just recorded came from outside (a remote's answer) and is held in
// memory only until the step's status is written: no stage starts after it in this step, since one that
// read it and acted on the outside (a call of its own) could not be taken back if the write were lost and
// the answer came out differently the next time.
func (s *StageRun) Settle() {
	if s.settle != nil {
		*s.settle = true
	}
}

// EnsureFresh confirms that the Execution being worked on is the API server's latest, and returns
// ErrStale otherwise. A stage calls it right before an action that is not idempotent (an HTTP call), so
// that a reconcile working from a stale cache cannot repeat an action already recorded in status.
func (s *StageRun) EnsureFresh(ctx context.Context) error {
	if s.ensureFresh == nil {
		return nil
	}
	return s.ensureFresh(ctx)
}

// Succeed finishes the stage successfully.
func (s *StageRun) Succeed(msg string) { s.finish(v1alpha1.StageSucceeded, msg) }

// Fail finishes the stage as failed; the stage's onFailure then decides what happens to the run.
func (s *StageRun) Fail(msg string) { s.finish(v1alpha1.StageFailed, msg) }

func (s *StageRun) finish(p v1alpha1.StagePhase, msg string) {
	s.Status.Phase = p
	s.Status.Message = msg
	s.Status.NextCheckTime = nil
	s.Status.EndTime = ptrTime(s.Now)
}

// Running keeps the stage running with a message; a non-zero next asks for a reconcile at that time.
func (s *StageRun) Running(msg string, next time.Time) {
	s.Status.Phase = v1alpha1.StageRunning
	s.Status.Message = msg
	s.Status.NextCheckTime = nil
	if !next.IsZero() {
		s.Status.NextCheckTime = ptrTime(next)
	}
}

// WaitForJudgment parks the stage until a person decides.
func (s *StageRun) WaitForJudgment(msg string) {
	s.Status.Phase = v1alpha1.StageWaitingForJudgment
	s.Status.Message = msg
	s.Status.NextCheckTime = nil
}

// SetCondition records a condition on the stage's status.
func (s *StageRun) SetCondition(c metav1.Condition) {
	meta.SetStatusCondition(&s.Status.Conditions, c)
}

// SetOutput records an output, readable by later stages as stages['<name>'].outputs.<key>. The value
// must marshal to JSON.
func (s *StageRun) SetOutput(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("output %s: %w", key, err)
	}
	if s.Status.Outputs == nil {
		s.Status.Outputs = map[string]apiextensionsv1.JSON{}
	}
	s.Status.Outputs[key] = apiextensionsv1.JSON{Raw: raw}
	return nil
}

// Render resolves the ${ ... } expressions of a string field of the stage. extra holds the values of the
// variables that opts declare (such as a webhook's response).
func (s *StageRun) Render(tmpl string, extra map[string]any, opts ...expr.Option) (string, error) {
	t, err := expr.ParseTemplate(tmpl, opts...)
	if err != nil {
		return "", err
	}
	vars := s.Vars
	vars.Extra = extra
	return t.Render(vars)
}

// EvalBool evaluates a CEL condition of the stage.
func (s *StageRun) EvalBool(src string, extra map[string]any, opts ...expr.Option) (bool, error) {
	x, err := expr.CompileBool(src, opts...)
	if err != nil {
		return false, err
	}
	vars := s.Vars
	vars.Extra = extra
	return x.EvalBool(vars)
}

func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}
