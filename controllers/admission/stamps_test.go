package admission

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// TestStampTime: judgedAt keeps whole seconds, rounded up, so a judgment a fraction of a second after its
// stage's deadline does not count as before it.
func TestStampTime(t *testing.T) {
	base := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for in, want := range map[time.Time]time.Time{
		base:                                    base,
		base.Add(time.Nanosecond):               base.Add(time.Second),
		base.Add(999 * time.Millisecond):        base.Add(time.Second),
		base.Add(time.Second + time.Nanosecond): base.Add(2 * time.Second),
	} {
		if got := stampTime(in); !got.Equal(want) {
			t.Errorf("stampTime(%s) = %s, want %s", in.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano), want.Format(time.RFC3339))
		}
	}
}

// TestStampJudgments: an added or changed judgment is stamped with the request's user, over what the body
// said; a recorded one sent again, with or without its stamps, keeps the stamps it has.
func TestStampJudgments(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	now := metav1.NewTime(time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC))
	user := authenticationv1.UserInfo{Username: "bob", Groups: []string{"ops"}}
	recorded := v1alpha1.Judgment{Decision: v1alpha1.DecisionContinue, Input: "ship", JudgedBy: "alice", JudgedGroups: []string{"rm"}, JudgedAt: &then}
	old := &v1alpha1.Execution{Spec: v1alpha1.ExecutionSpec{Judgments: map[string]v1alpha1.Judgment{"a": recorded, "b": recorded}}}
	ex := &v1alpha1.Execution{Spec: v1alpha1.ExecutionSpec{Judgments: map[string]v1alpha1.Judgment{
		"a": {Decision: v1alpha1.DecisionContinue, Input: "ship"},                                             // re-sent without stamps
		"b": {Decision: v1alpha1.DecisionStop, JudgedBy: "alice", JudgedAt: &then},                            // flipped, stamps forged
		"c": {Decision: v1alpha1.DecisionStop, JudgedBy: "mallory", JudgedGroups: []string{"system:masters"}}, // added, forged
	}}}
	stampJudgments(ex, old, user, now, nil)
	stamped := func(d v1alpha1.Decision) v1alpha1.Judgment {
		return v1alpha1.Judgment{Decision: d, JudgedBy: "bob", JudgedGroups: []string{"ops"}, JudgedAt: &now}
	}
	want := map[string]v1alpha1.Judgment{"a": recorded, "b": stamped(v1alpha1.DecisionStop), "c": stamped(v1alpha1.DecisionStop)}
	if d := cmp.Diff(want, ex.Spec.Judgments); d != "" {
		t.Errorf("judgments (-want +got):\n%s", d)
	}

	// No judgments, nil or empty, stay as they were.
	for _, j := range []map[string]v1alpha1.Judgment{nil, {}} {
		ex := &v1alpha1.Execution{Spec: v1alpha1.ExecutionSpec{Judgments: j}}
		stampJudgments(ex, old, user, now, nil)
		if (ex.Spec.Judgments == nil) != (j == nil) || len(ex.Spec.Judgments) != 0 {
			t.Errorf("stampJudgments(%#v) = %#v", j, ex.Spec.Judgments)
		}
	}
}

// TestAddedJudgments: what the validating webhook checks is what a request adds; a change or a removal
// of a recorded decision is refused, a change of its stamps only is not a change (the mutating webhook
// puts them back), and a patch replacing the whole map is judged key by key.
func TestAddedJudgments(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	cont := v1alpha1.Judgment{Decision: v1alpha1.DecisionContinue, JudgedBy: "alice", JudgedAt: &at}
	judgments := func(kv ...any) map[string]v1alpha1.Judgment {
		m := map[string]v1alpha1.Judgment{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(v1alpha1.Judgment)
		}
		return m
	}
	for name, tc := range map[string]struct {
		old, new map[string]v1alpha1.Judgment
		added    []string
		refused  []string
	}{
		"nil to empty":   {old: nil, new: map[string]v1alpha1.Judgment{}},
		"empty to nil":   {old: map[string]v1alpha1.Judgment{}, new: nil},
		"create":         {new: judgments("b", cont, "a", cont), added: []string{"a", "b"}},
		"stamps changed": {old: judgments("a", cont), new: judgments("a", v1alpha1.Judgment{Decision: v1alpha1.DecisionContinue, JudgedBy: "mallory"})},
		"whole map replaced": {
			old: judgments("a", cont, "b", cont), new: judgments("a", cont, "c", cont),
			added: []string{"c"}, refused: []string{"spec.judgments[b]"},
		},
		"flipped": {old: judgments("a", cont), new: judgments("a", v1alpha1.Judgment{Decision: v1alpha1.DecisionStop}), refused: []string{"spec.judgments[a]"}},
		"removed": {old: judgments("a", cont), new: nil, refused: []string{"spec.judgments[a]"}},
	} {
		t.Run(name, func(t *testing.T) {
			old := &v1alpha1.Execution{Spec: v1alpha1.ExecutionSpec{Judgments: tc.old}}
			ex := &v1alpha1.Execution{Spec: v1alpha1.ExecutionSpec{Judgments: tc.new}}
			var errs field.ErrorList
			added := addedJudgments(field.NewPath("spec", "judgments"), ex, old, &errs)
			if d := cmp.Diff(tc.added, added); d != "" {
				t.Errorf("added (-want +got):\n%s", d)
			}
			var refused []string
			for _, e := range errs {
				refused = append(refused, e.Field)
			}
			if d := cmp.Diff(tc.refused, refused); d != "" {
				t.Errorf("refused (-want +got):\n%s", d)
			}
		})
	}
}

// TestWithStamps: the patch the mutating webhook answers with touches the judgments and annotations only;
// whatever else the request's object held, including fields the Go types would add empty or drop, is
// kept; no (or empty) judgments and annotations are removed, not written as null.
func TestWithStamps(t *testing.T) {
	original := `{"apiVersion":"delivery.gennaker.io/v1alpha1","kind":"Execution","metadata":{"name":"x","annotations":{"team":"shop"}},
		"spec":{"pipeline":"p","judgments":{"a":{"decision":"Continue","judgedBy":"mallory"}},"unknownField":1}}`
	at := metav1.NewTime(time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC))
	for name, tc := range map[string]struct {
		ann       map[string]string
		judgments map[string]v1alpha1.Judgment
		want      string
	}{
		"stamped": {
			ann:       map[string]string{"team": "shop", v1alpha1.AnnotationCreatedBy: "bob"},
			judgments: map[string]v1alpha1.Judgment{"a": {Decision: v1alpha1.DecisionContinue, JudgedBy: "bob", JudgedAt: &at}},
			want: `{"apiVersion":"delivery.gennaker.io/v1alpha1","kind":"Execution","metadata":{"name":"x","annotations":{"team":"shop","delivery.gennaker.io/created-by":"bob"}},
				"spec":{"pipeline":"p","judgments":{"a":{"decision":"Continue","judgedBy":"bob","judgedAt":"2026-01-02T09:00:00Z"}},"unknownField":1}}`,
		},
		"none": {
			want: `{"apiVersion":"delivery.gennaker.io/v1alpha1","kind":"Execution","metadata":{"name":"x"},"spec":{"pipeline":"p","unknownField":1}}`,
		},
		"empty map": { // omitted as the type's omitempty says: the same as no judgments
			judgments: map[string]v1alpha1.Judgment{},
			want:      `{"apiVersion":"delivery.gennaker.io/v1alpha1","kind":"Execution","metadata":{"name":"x"},"spec":{"pipeline":"p","unknownField":1}}`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			ex := &v1alpha1.Execution{}
			ex.Annotations = tc.ann
			ex.Spec.Judgments = tc.judgments
			raw, err := withStamps([]byte(original), ex)
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("object (-want +got):\n%s", d)
			}
		})
	}
}

// TestRecordedGroupsKeepTheApprovers: a user with more groups than the record keeps has the groups the
// stage's approvers name kept first, so the check made again at the run's start sees the group that let
// them in; too long a group is never kept.
func TestRecordedGroupsKeepTheApprovers(t *testing.T) {
	var groups []string
	for i := range 100 {
		groups = append(groups, fmt.Sprintf("team-%03d", i))
	}
	groups = append(groups, strings.Repeat("x", 513), "release-managers")
	got := recordedGroups(groups, []string{"release-managers", "absent"})
	if len(got) != 64 || got[0] != "release-managers" || got[1] != "team-000" {
		t.Fatalf("want release-managers then the first 63 others, got %d: %v", len(got), got[:3])
	}
	if plain := recordedGroups(groups, nil); slices.Contains(plain, "release-managers") || len(plain) != 64 {
		t.Fatalf("without approvers, the first 64 that fit: %v", plain)
	}
	if few := recordedGroups([]string{"a", "b"}, []string{"b"}); !slices.Equal(few, []string{"b", "a"}) {
		t.Fatalf("got %v", few)
	}
}
