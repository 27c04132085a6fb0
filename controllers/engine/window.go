package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// WindowOpen says whether the execution window is open at now and, if not, when it next opens. A window
// whose to is before its from spans midnight and belongs to the day it opens on: Fri 22:00-02:00 is open
// early on Saturday morning, not early on Friday.
func WindowOpen(w *v1alpha1.Window, now time.Time) (open bool, opens time.Time, err error) {
	loc := time.UTC
	if w.TimeZone != "" {
		if loc, err = time.LoadLocation(w.TimeZone); err != nil {
			return false, time.Time{}, fmt.Errorf("window.timeZone: %w", err)
		}
	}
	from, err := clock(w.From)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("window.from: %w", err)
	}
	to, err := clock(w.To)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("window.to: %w", err)
	}
	now = now.In(loc)
	// The window that opened yesterday may still be open; then look at today's and the next week's.
	for d := -1; d <= 7; d++ {
		day := time.Date(now.Year(), now.Month(), now.Day()+d, 0, 0, 0, 0, loc)
		if !onDay(w.Days, day.Weekday()) {
			continue
		}
		start := at(day, from)
		end := at(day, to)
		if !end.After(start) {
			end = at(day.AddDate(0, 0, 1), to)
		}
		if !now.Before(start) && now.Before(end) {
			return true, time.Time{}, nil
		}
		if start.After(now) {
			return false, start, nil
		}
	}
	return false, time.Time{}, fmt.Errorf("window never opens")
}

func onDay(days []v1alpha1.Weekday, wd time.Weekday) bool {
	return len(days) == 0 || slices.Contains(days, v1alpha1.Weekday(wd.String()[:3]))
}

func clock(c v1alpha1.ClockTime) (time.Duration, error) {
	t, err := time.Parse("15:04", string(c))
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// at is the wall-clock time of day on day, so that a window keeps its local hours across DST changes.
func at(day time.Time, offset time.Duration) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), int(offset/time.Hour), int(offset%time.Hour/time.Minute), 0, 0, day.Location())
}
