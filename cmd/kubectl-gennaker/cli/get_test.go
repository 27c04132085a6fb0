package cli

import "testing"

// TestGet draws the fixture's runs: a judgment waiting, with its instructions, inputs, approvers and the
// commands to decide it; the deploy's server groups old and new; the child run nested under its pipeline
// stage; the stages that depend on two others in a layer of their own; a finished run with who judged.
func TestGet(t *testing.T) {
	ns := namespace(t, "shop")
	fixture(t, ns)
	for name, args := range map[string][]string{
		"get-waiting":  {"-n", ns, "get", "demo-1"},
		"get-running":  {"-n", ns, "get", "demo-2"},
		"get-finished": {"-n", ns, "get", "demo-0"},
		"get-name":     {"-n", ns, "get", "demo-1", "-o", "name"},
	} {
		t.Run(name, func(t *testing.T) {
			r := plugin(t, now, args...)
			if r.code != 0 || r.err != "" {
				t.Fatalf("exit %d: %s", r.code, r.err)
			}
			golden(t, name, r.out)
		})
	}
}
