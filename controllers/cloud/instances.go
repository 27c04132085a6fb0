package cloud

import (
	"fmt"
	"strings"
)

// maxUnhealthyNamed is how many instances Observation.Unhealthy names.
const maxUnhealthyNamed = 3

// Tally counts a group's instances as a Client looks at them one by one, and keeps the first few that are
// not healthy, with why, for the Healthy condition's message.
type Tally struct {
	// Healthy counts the instances added with no reason.
	Healthy   int32
	unhealthy int
	named     []string
}

// Add counts instance id: healthy when reason is empty, otherwise unhealthy for that reason.
func (t *Tally) Add(id, reason string) {
	if reason == "" {
		t.Healthy++
		return
	}
	t.unhealthy++
	if len(t.named) < maxUnhealthyNamed {
		t.named = append(t.named, id+": "+reason)
	}
}

// Unhealthy is Observation.Unhealthy of a group of desired instances: empty once enough are healthy;
// otherwise the instances named, how many more are unhealthy, and how many the cloud has yet to make
// (missing says how: "not launched yet").
func (t *Tally) Unhealthy(desired int32, missing string) string {
	if t.Healthy >= desired {
		return ""
	}
	named := t.named
	if more := t.unhealthy - len(named); more > 0 {
		named = append(named, fmt.Sprintf("%d more", more))
	}
	if n := int(desired) - int(t.Healthy) - t.unhealthy; n > 0 {
		named = append(named, fmt.Sprintf("%d %s", n, missing))
	}
	return strings.Join(named, "; ")
}
