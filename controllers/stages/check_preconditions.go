package stages

import (
	"context"
	"fmt"

	"github.com/gennaker/gennaker/controllers/engine"
)

// CheckPreconditions fails unless every one of its CEL expressions holds; the message quotes the first
// that does not.
type CheckPreconditions struct{ instant }

// Start evaluates the expressions.
func (CheckPreconditions) Start(_ context.Context, s *engine.StageRun) error {
	for i, src := range s.Spec.CheckPreconditions.Expressions {
		ok, err := s.EvalBool(src, nil)
		if err != nil {
			s.Fail(fmt.Sprintf("checkPreconditions.expressions[%d]: %v", i, err))
			return nil
		}
		if !ok {
			s.Fail(fmt.Sprintf("checkPreconditions.expressions[%d] is false: %s", i, src))
			return nil
		}
	}
	s.Succeed(fmt.Sprintf("%d preconditions hold", len(s.Spec.CheckPreconditions.Expressions)))
	return nil
}
