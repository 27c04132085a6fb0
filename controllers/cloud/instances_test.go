package cloud

import "testing"

func TestTallyUnhealthy(t *testing.T) {
	var tl Tally
	for _, in := range [][2]string{{"i-1", ""}, {"i-2", "Pending"}, {"i-3", "unhealthy in tg"}, {"i-4", "Pending"}, {"i-5", "Pending"}, {"i-6", ""}} {
		tl.Add(in[0], in[1])
	}
	if tl.Healthy != 2 {
		t.Errorf("Healthy = %d, want 2", tl.Healthy)
	}
	want := "i-2: Pending; i-3: unhealthy in tg; i-4: Pending; 1 more; 2 not launched yet"
	if got := tl.Unhealthy(8, "not launched yet"); got != want {
		t.Errorf("Unhealthy = %q, want %q", got, want)
	}
	if got := tl.Unhealthy(2, "not launched yet"); got != "" {
		t.Errorf("Unhealthy with enough healthy = %q, want empty", got)
	}
}
