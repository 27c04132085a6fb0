package engine

import (
	"testing"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

func TestWindowOpen(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	weekdays := []v1alpha1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri"}
	for _, tc := range []struct {
		name  string
		w     v1alpha1.Window
		now   string
		open  bool
		opens string
	}{
		{"inside, every day", v1alpha1.Window{From: "09:00", To: "17:00"}, "2026-11-25T10:00:00Z", true, ""},
		{"before, every day", v1alpha1.Window{From: "09:00", To: "17:00"}, "2026-11-25T08:59:00Z", false, "2026-11-25T09:00:00Z"},
		{"at to, closed", v1alpha1.Window{From: "09:00", To: "17:00"}, "2026-11-25T17:00:00Z", false, "2026-11-26T09:00:00Z"},
		{"at from, open", v1alpha1.Window{From: "09:00", To: "17:00"}, "2026-11-25T09:00:00Z", true, ""},
		// 2026-11-28 is a Saturday.
		{"weekend waits for Monday", v1alpha1.Window{Days: weekdays, From: "09:00", To: "17:00"}, "2026-11-28T12:00:00Z", false, "2026-11-30T09:00:00Z"},
		{"Friday evening waits for Monday", v1alpha1.Window{Days: weekdays, From: "09:00", To: "17:00"}, "2026-11-27T18:00:00Z", false, "2026-11-30T09:00:00Z"},
		{"across midnight, late", v1alpha1.Window{From: "22:00", To: "02:00"}, "2026-11-25T23:30:00Z", true, ""},
		{"across midnight, early", v1alpha1.Window{From: "22:00", To: "02:00"}, "2026-11-25T01:30:00Z", true, ""},
		{"across midnight, closed", v1alpha1.Window{From: "22:00", To: "02:00"}, "2026-11-25T03:00:00Z", false, "2026-11-25T22:00:00Z"},
		{"a Friday night window is open early Saturday", v1alpha1.Window{Days: []v1alpha1.Weekday{"Fri"}, From: "22:00", To: "02:00"}, "2026-11-28T01:00:00Z", true, ""},
		{"but not early Friday", v1alpha1.Window{Days: []v1alpha1.Weekday{"Fri"}, From: "22:00", To: "02:00"}, "2026-11-27T01:00:00Z", false, "2026-11-27T22:00:00Z"},
		// Paris is UTC+1 in November: 09:00 there is 08:00Z.
		{"time zone", v1alpha1.Window{From: "09:00", To: "17:00", TimeZone: "Europe/Paris"}, "2026-11-25T07:30:00Z", false, "2026-11-25T08:00:00Z"},
		{"time zone, open", v1alpha1.Window{From: "09:00", To: "17:00", TimeZone: "Europe/Paris"}, "2026-11-25T15:30:00Z", true, ""},
		// DST ends in Paris on 2026-10-25: the window keeps its local hours (09:00 CEST = 07:00Z before).
		{"keeps local hours across DST", v1alpha1.Window{From: "09:00", To: "17:00", TimeZone: "Europe/Paris"}, "2026-10-24T16:00:00Z", false, "2026-10-25T08:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open, opens, err := WindowOpen(&tc.w, utc(tc.now))
			if err != nil {
				t.Fatal(err)
			}
			if open != tc.open {
				t.Fatalf("open = %v, want %v", open, tc.open)
			}
			if !tc.open && !opens.Equal(utc(tc.opens)) {
				t.Fatalf("opens = %s, want %s", opens.UTC().Format(time.RFC3339), tc.opens)
			}
		})
	}
}
