package validation

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// Approver says whether user, a member of groups, may decide a manual judgment with these approvers: any
// user when the stage lists none (RBAC alone decides who may patch the run), else a listed user or a
// member of a listed group. Admission asks it of the request's user; the Execution controller asks it
// again of the recorded judgedBy and judgedGroups when the run starts, against the spec it froze.
func Approver(a *v1alpha1.Approvers, user string, groups []string) bool {
	if a == nil || len(a.Users) == 0 && len(a.Groups) == 0 {
		return true
	}
	if slices.Contains(a.Users, user) {
		return true
	}
	return slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(a.Groups, g) })
}

// Approvers names who may judge, for messages: "users alice, bob or members of groups release-managers".
func Approvers(a *v1alpha1.Approvers) string {
	var who []string
	if len(a.Users) > 0 {
		who = append(who, "users "+strings.Join(a.Users, ", "))
	}
	if len(a.Groups) > 0 {
		who = append(who, "members of groups "+strings.Join(a.Groups, ", "))
	}
	return strings.Join(who, " or ")
}

// JudgmentInput says whether input is one the stage offers: any, when it offers none or none was chosen.
func JudgmentInput(mj *v1alpha1.ManualJudgmentStage, input string) bool {
	return input == "" || len(mj.Inputs) == 0 || slices.Contains(mj.Inputs, input)
}

// RecordedJudgment returns why a recorded judgment of stage st does not hold against st (its judge is no
// approver, or its input is not offered), or "" if it holds. A stage that is no manual judgment is not
// judged, so nothing recorded for it is checked.
func RecordedJudgment(st *v1alpha1.Stage, j v1alpha1.Judgment) string {
	mj := st.ManualJudgment
	if mj == nil {
		return ""
	}
	if !Approver(mj.Approvers, j.JudgedBy, j.JudgedGroups) {
		judge := j.JudgedBy
		if judge == "" {
			judge = "an unknown user"
		}
		return fmt.Sprintf("stage %s was judged (%s) by %s, who may not judge it: only %s may", st.Name, j.Decision, judge, Approvers(mj.Approvers))
	}
	if !JudgmentInput(mj, j.Input) {
		return fmt.Sprintf("stage %s was judged (%s) with input %q, which it does not offer (%s)", st.Name, j.Decision, j.Input, strings.Join(mj.Inputs, ", "))
	}
	return ""
}
