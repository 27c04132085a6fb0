package v1alpha1

// Types returns the JSON names of the stage types set, in declaration order. The schema allows exactly one
// on stored objects; validation reports any other count.
func (t *StageType) Types() []string {
	var out []string
	for _, c := range []struct {
		name string
		set  bool
	}{
		{"wait", t.Wait != nil},
		{"manualJudgment", t.ManualJudgment != nil},
		{"checkPreconditions", t.CheckPreconditions != nil},
		{"deploy", t.Deploy != nil},
		{"enableServerGroup", t.EnableServerGroup != nil},
		{"disableServerGroup", t.DisableServerGroup != nil},
		{"resizeServerGroup", t.ResizeServerGroup != nil},
		{"destroyServerGroup", t.DestroyServerGroup != nil},
		{"rollbackCluster", t.RollbackCluster != nil},
		{"webhook", t.Webhook != nil},
		{"pipeline", t.Pipeline != nil},
	} {
		if c.set {
			out = append(out, c.name)
		}
	}
	return out
}

// Type returns the JSON name of the stage type that is set ("wait", "manualJudgment", ...), or "" when
// none is.
func (t *StageType) Type() string {
	if types := t.Types(); len(types) > 0 {
		return types[0]
	}
	return ""
}
