package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gennaker/gennaker/api/v1alpha1"
	gnkvalidation "github.com/gennaker/gennaker/controllers/validation"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func mt(s string) *metav1.Time { return &metav1.Time{Time: utc(s)} }

func TestEvaluate(t *testing.T) {
	every5 := &v1alpha1.CronTrigger{Schedule: "*/5 * * * *"}
	daily11 := &v1alpha1.CronTrigger{Schedule: "0 11 * * *"}
	paris9 := &v1alpha1.CronTrigger{Schedule: "0 9 * * *", TimeZone: "Europe/Paris"}
	seen := func(c *v1alpha1.CronTrigger, last string) *v1alpha1.TriggerStatus {
		return &v1alpha1.TriggerStatus{Schedule: c.Schedule, TimeZone: c.TimeZone, LastScheduleTime: *mt(last)}
	}
	type want struct {
		due, missedSince, last, next string // RFC 3339; "" for none
	}
	cases := map[string]struct {
		reason string
		cron   *v1alpha1.CronTrigger
		prev   *v1alpha1.TriggerStatus
		now    string
		want   want
	}{
		"FirstSeen": {
			reason: "a new trigger records now and does not fire for earlier times",
			cron:   every5, now: "2026-01-15T10:00:30Z",
			want: want{last: "2026-01-15T10:00:30Z", next: "2026-01-15T10:05:00Z"},
		},
		"ScheduleChanged": {
			reason: "a changed schedule starts afresh, like a new trigger",
			cron:   every5, prev: seen(daily11, "2026-01-14T11:00:00Z"), now: "2026-01-15T10:00:30Z",
			want: want{last: "2026-01-15T10:00:30Z", next: "2026-01-15T10:05:00Z"},
		},
		"TimeZoneChanged": {
			reason: "a changed time zone starts afresh too",
			cron:   paris9, prev: seen(&v1alpha1.CronTrigger{Schedule: "0 9 * * *"}, "2026-01-15T07:00:00Z"), now: "2026-01-15T07:00:00Z",
			want: want{last: "2026-01-15T07:00:00Z", next: "2026-01-15T08:00:00Z"},
		},
		"NotYetDue": {
			reason: "nothing is due a second before the time",
			cron:   every5, prev: seen(every5, "2026-01-15T10:00:30Z"), now: "2026-01-15T10:04:59Z",
			want: want{last: "2026-01-15T10:00:30Z", next: "2026-01-15T10:05:00Z"},
		},
		"DueNow": {
			reason: "the due time itself fires",
			cron:   every5, prev: seen(every5, "2026-01-15T10:00:30Z"), now: "2026-01-15T10:05:00Z",
			want: want{due: "2026-01-15T10:05:00Z", last: "2026-01-15T10:05:00Z", next: "2026-01-15T10:10:00Z"},
		},
		"AlreadyHandled": {
			reason: "a due time recorded as handled does not fire again",
			cron:   every5, prev: seen(every5, "2026-01-15T10:05:00Z"), now: "2026-01-15T10:05:00Z",
			want: want{last: "2026-01-15T10:05:00Z", next: "2026-01-15T10:10:00Z"},
		},
		"MissedManyStartsOne": {
			reason: "after three hours away, one run for the most recent due time, not a storm",
			cron:   every5, prev: seen(every5, "2026-01-15T10:00:30Z"), now: "2026-01-15T13:02:00Z",
			want: want{due: "2026-01-15T13:00:00Z", last: "2026-01-15T13:00:00Z", next: "2026-01-15T13:05:00Z"},
		},
		"MissedWithinDeadline": {
			reason: "a daily run missed by 59 minutes still starts",
			cron:   daily11, prev: seen(daily11, "2026-01-15T10:00:30Z"), now: "2026-01-15T11:59:00Z",
			want: want{due: "2026-01-15T11:00:00Z", last: "2026-01-15T11:00:00Z", next: "2026-01-16T11:00:00Z"},
		},
		"MissedBeyondDeadline": {
			reason: "a daily run missed by two hours is skipped, and reported",
			cron:   daily11, prev: seen(daily11, "2026-01-15T10:00:30Z"), now: "2026-01-15T13:02:00Z",
			want: want{missedSince: "2026-01-15T11:00:00Z", last: "2026-01-15T13:02:00Z", next: "2026-01-16T11:00:00Z"},
		},
		"ParisWinter": {
			reason: "09:00 in Paris is 08:00Z in winter (CET)",
			cron:   paris9, prev: seen(paris9, "2026-01-15T07:59:58Z"), now: "2026-01-15T08:00:00Z",
			want: want{due: "2026-01-15T08:00:00Z", last: "2026-01-15T08:00:00Z", next: "2026-01-16T08:00:00Z"},
		},
		"ParisSummer": {
			reason: "and 07:00Z in summer (CEST)",
			cron:   paris9, now: "2026-07-15T06:00:00Z",
			want: want{last: "2026-07-15T06:00:00Z", next: "2026-07-15T07:00:00Z"},
		},
		"Descriptor": {
			reason: "descriptors such as @hourly run",
			cron:   &v1alpha1.CronTrigger{Schedule: "@hourly"}, now: "2026-01-15T10:00:30Z",
			want: want{last: "2026-01-15T10:00:30Z", next: "2026-01-15T11:00:00Z"},
		},
		"Every": {
			reason: "@every counts from the last handled time",
			cron:   &v1alpha1.CronTrigger{Schedule: "@every 90m"}, prev: seen(&v1alpha1.CronTrigger{Schedule: "@every 90m"}, "2026-01-15T10:00:30Z"),
			now:  "2026-01-15T11:30:30Z",
			want: want{due: "2026-01-15T11:30:30Z", last: "2026-01-15T11:30:30Z", next: "2026-01-15T13:00:30Z"},
		},
		"EveryMissedMany": {
			reason: "@every keeps its phase when it makes up for missed times",
			cron:   &v1alpha1.CronTrigger{Schedule: "@every 1h"}, prev: seen(&v1alpha1.CronTrigger{Schedule: "@every 1h"}, "2026-01-15T10:00:30Z"),
			now:  "2026-01-15T13:02:00Z",
			want: want{due: "2026-01-15T13:00:30Z", last: "2026-01-15T13:00:30Z", next: "2026-01-15T14:00:30Z"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := evaluate(3, tc.cron, tc.prev, utc(tc.now))
			if err != nil {
				t.Fatalf("%s: evaluate: %v", tc.reason, err)
			}
			if got.status.Index != 3 || got.status.Schedule != tc.cron.Schedule || got.status.TimeZone != tc.cron.TimeZone {
				t.Errorf("%s: status names index %d, %q in %q", tc.reason, got.status.Index, got.status.Schedule, got.status.TimeZone)
			}
			format := func(t time.Time) string {
				if t.IsZero() {
					return ""
				}
				return t.UTC().Format(time.RFC3339)
			}
			next := ""
			if got.status.NextScheduleTime != nil {
				next = format(got.status.NextScheduleTime.Time)
			}
			gotW := want{due: format(got.due), missedSince: format(got.missedSince), last: format(got.status.LastScheduleTime.Time), next: next}
			if diff := cmp.Diff(tc.want, gotW, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestParseTriggerAcceptsWhatValidates checks that every schedule the API accepts is one the controller
// can run.
func TestParseTriggerAcceptsWhatValidates(t *testing.T) {
	for _, c := range []v1alpha1.CronTrigger{
		{Schedule: "0 9 * * 1-5", TimeZone: "Europe/Paris"},
		{Schedule: " */5 * * * * "},
		{Schedule: "@daily", TimeZone: "America/New_York"},
		{Schedule: "@every 1h"},
		{Schedule: "0 0 1 jan *"},
	} {
		if err := gnkvalidation.ValidateCronSchedule(c.Schedule, c.TimeZone); err != nil {
			t.Fatalf("%q in %q does not validate: %v", c.Schedule, c.TimeZone, err)
		}
		if _, _, err := parseTrigger(&c); err != nil {
			t.Errorf("%q in %q validates but does not parse: %v", c.Schedule, c.TimeZone, err)
		}
	}
	for _, c := range []v1alpha1.CronTrigger{{Schedule: "CRON_TZ=UTC 0 9 * * *"}, {Schedule: "@every 10s"}, {Schedule: "0 9 * * *", TimeZone: "Local"}} {
		if _, _, err := parseTrigger(&c); err == nil {
			t.Errorf("%q in %q does not validate but parses", c.Schedule, c.TimeZone)
		}
	}
}

func TestExecutionName(t *testing.T) {
	due := utc("2026-01-15T08:00:00Z")
	if got, want := ExecutionName("nightly", 2, due), "nightly-cron2-1768464000"; got != want {
		t.Errorf("ExecutionName = %q, want %q", got, want)
	}
	// Long names are cut, never at a - or a ., and told apart by a hash of the whole name.
	long := strings.Repeat("a", 40) + "-." + strings.Repeat("b", 40)
	other := strings.Repeat("a", 40) + "-." + strings.Repeat("c", 40)
	for _, name := range []string{long, other, strings.Repeat("x", 253)} {
		got := ExecutionName(name, 15, due)
		if len(got) > validation.DNS1123LabelMaxLength {
			t.Errorf("ExecutionName(%q) = %q: %d characters", name, got, len(got))
		}
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("ExecutionName(%q) = %q: %v", name, got, errs)
		}
		if !strings.HasSuffix(got, "-cron15-1768464000") {
			t.Errorf("ExecutionName(%q) = %q: lost the trigger and time", name, got)
		}
		if again := ExecutionName(name, 15, due); again != got {
			t.Errorf("ExecutionName(%q) is not deterministic: %q then %q", name, got, again)
		}
	}
	if ExecutionName(long, 0, due) == ExecutionName(other, 0, due) {
		t.Errorf("two long pipeline names with a common prefix give the same name")
	}
}
