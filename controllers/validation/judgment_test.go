package validation

import (
	"testing"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// TestApprover: no approvers leave the decision to RBAC; otherwise a listed user or a member of a listed
// group, and no one else, may judge.
func TestApprover(t *testing.T) {
	listed := &v1alpha1.Approvers{Users: []string{"alice"}, Groups: []string{"rm"}}
	for _, tc := range []struct {
		a      *v1alpha1.Approvers
		user   string
		groups []string
		want   bool
	}{
		{a: nil, user: "anyone", want: true},
		{a: &v1alpha1.Approvers{}, user: "anyone", want: true},
		{a: listed, user: "alice", want: true},
		{a: listed, user: "carol", groups: []string{"ops", "rm"}, want: true},
		{a: listed, user: "bob", groups: []string{"ops"}},
		{a: listed, user: "", groups: nil},
		{a: &v1alpha1.Approvers{Groups: []string{"rm"}}, user: "rm"},
	} {
		if got := Approver(tc.a, tc.user, tc.groups); got != tc.want {
			t.Errorf("Approver(%+v, %q, %v) = %v, want %v", tc.a, tc.user, tc.groups, got, tc.want)
		}
	}
}

// TestRecordedJudgment: a recorded judgment is held to the stage's approvers and inputs by its stamps.
func TestRecordedJudgment(t *testing.T) {
	st := &v1alpha1.Stage{Name: "gate", StageType: v1alpha1.StageType{ManualJudgment: &v1alpha1.ManualJudgmentStage{
		Inputs: []string{"ship"}, Approvers: &v1alpha1.Approvers{Users: []string{"alice"}},
	}}}
	for _, tc := range []struct {
		j    v1alpha1.Judgment
		want string
	}{
		{v1alpha1.Judgment{Decision: v1alpha1.DecisionContinue, Input: "ship", JudgedBy: "alice"}, ""},
		{v1alpha1.Judgment{Decision: v1alpha1.DecisionContinue, JudgedBy: "bob"}, "stage gate was judged (Continue) by bob, who may not judge it: only users alice may"},
		{v1alpha1.Judgment{Decision: v1alpha1.DecisionContinue, JudgedBy: "carol", JudgedGroups: []string{"rm"}}, "stage gate was judged (Continue) by carol, who may not judge it: only users alice may"},
		{v1alpha1.Judgment{Decision: v1alpha1.DecisionStop}, "stage gate was judged (Stop) by an unknown user, who may not judge it: only users alice may"},
		{v1alpha1.Judgment{Decision: v1alpha1.DecisionContinue, Input: "hold", JudgedBy: "alice"}, `stage gate was judged (Continue) with input "hold", which it does not offer (ship)`},
	} {
		if got := RecordedJudgment(st, tc.j); got != tc.want {
			t.Errorf("RecordedJudgment(%+v) = %q, want %q", tc.j, got, tc.want)
		}
	}
	if got := RecordedJudgment(&v1alpha1.Stage{Name: "w"}, v1alpha1.Judgment{Decision: v1alpha1.DecisionStop}); got != "" {
		t.Errorf("a stage that is no manual judgment: %q", got)
	}
}
