// Package validation holds the checks of Gennaker objects that the schema and its CEL rules cannot make:
// dependsOn cycles, CEL expressions and ${ } templates, cron schedules and time zones, references to
// undeclared parameters. The admission webhooks call it at apply time, and the Pipeline and Execution
// controllers call it again for objects that got in another way (webhook down, an older version).
package validation

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine/dag"
	"github.com/gennaker/gennaker/controllers/engine/expr"
)

// Pipeline returns every problem of the pipeline's spec, with paths rooted at spec: the checks the schema cannot make
// (dependsOn cycles, CEL expressions and ${ } templates that do not compile, references to undeclared
// parameters or unknown stages, cron schedules, time zones, durations), and the few schema checks the
// engine relies on (unique and known stage names, one stage type per stage, parameter options), since the
// controller and tests also validate objects that never went through the API server.
//
// Choices where the API leaves room:
//   - stage timeouts and webhook poll intervals must be greater than zero: a zero timeout fails every run,
//     and a zero poll interval polls in a hot loop; waits and red/black delays may be zero;
//   - a window whose from equals its to is rejected, as it could mean either never or always;
//   - a time zone must be an IANA name: Local is rejected, as it depends on the operator's host;
//   - an @every schedule must be at least a minute apart, the resolution of a five-field schedule, so that a
//     trigger cannot flood the namespace with Executions;
//   - expressions may only name stages of the pipeline (stages['x']); whether x ran before is for the run.
func Pipeline(pl *v1alpha1.Pipeline) field.ErrorList {
	if pl == nil {
		return nil
	}
	return PipelineSpec(pl.Name, &pl.Spec)
}

// PipelineSpec validates the spec of the pipeline named name, as Pipeline does; name is "" when unknown
// (a spec frozen into a run).
func PipelineSpec(name string, s *v1alpha1.PipelineSpec) field.ErrorList {
	if s == nil {
		return nil
	}
	root := field.NewPath("spec")
	v := &pipelineValidator{name: name, spec: s, params: map[string]*v1alpha1.Parameter{}, stages: map[string]bool{}}
	for i := range s.Parameters {
		if _, dup := v.params[s.Parameters[i].Name]; !dup {
			v.params[s.Parameters[i].Name] = &s.Parameters[i]
		}
	}
	for _, st := range s.Stages {
		v.stages[st.Name] = true
	}

	var errs field.ErrorList
	errs = append(errs, v.parameters(root.Child("parameters"))...)
	errs = append(errs, v.triggers(root.Child("triggers"))...)
	errs = append(errs, v.graph(root.Child("stages"))...)
	for i := range s.Stages {
		errs = append(errs, v.stage(&s.Stages[i], root.Child("stages").Index(i))...)
	}
	return errs
}

// ValidateCronSchedule checks a cron trigger the way the trigger runner reads it: schedule in the standard
// five-field format or a descriptor (@hourly, @every 1h), without a CRON_TZ= or TZ= prefix, and timeZone an
// IANA name (empty means UTC). The error says which of the two is wrong.
func ValidateCronSchedule(schedule, timeZone string) error {
	_, _, err := ParseCronSchedule(schedule, timeZone)
	return err
}

// ParseCronSchedule checks a cron trigger as ValidateCronSchedule does and returns its schedule and time
// zone, so that the controller runs exactly what validation accepted.
func ParseCronSchedule(schedule, timeZone string) (cron.Schedule, *time.Location, error) {
	if err := validateSchedule(schedule); err != nil {
		return nil, nil, fmt.Errorf("schedule: %w", err)
	}
	if err := validateTimeZone(timeZone); err != nil {
		return nil, nil, fmt.Errorf("timeZone: %w", err)
	}
	sched, err := cronParser.Parse(strings.TrimSpace(schedule))
	if err != nil {
		return nil, nil, fmt.Errorf("schedule: %w", err)
	}
	loc, err := time.LoadLocation(timeZone) // "" is UTC
	if err != nil {
		return nil, nil, fmt.Errorf("timeZone: %w", err)
	}
	return sched, loc, nil
}

// cronParser is the standard parser (robfig/cron's ParseStandard), spelled out so the fields are explicit.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func validateSchedule(schedule string) error {
	trimmed := strings.TrimSpace(schedule)
	if trimmed == "" {
		return errors.New("must not be empty")
	}
	// robfig/cron accepts a time zone prefix, which would compete with timeZone.
	if strings.HasPrefix(trimmed, "CRON_TZ=") || strings.HasPrefix(trimmed, "TZ=") {
		return errors.New("must not carry a CRON_TZ= or TZ= prefix: set timeZone instead")
	}
	if every, ok := strings.CutPrefix(trimmed, "@every "); ok {
		// robfig/cron rounds anything under a second up to a second, negative durations included.
		d, err := time.ParseDuration(strings.TrimSpace(every))
		if err != nil {
			return fmt.Errorf("@every needs a duration such as 30m or 1h: %v", err)
		}
		if d < time.Minute {
			return errors.New("@every must be at least 1m")
		}
	}
	sched, err := cronParser.Parse(trimmed)
	if err != nil {
		return fmt.Errorf("must be a cron schedule (minute hour day-of-month month day-of-week) or a descriptor such as @hourly: %v", err)
	}
	// robfig/cron gives up after five years, longer than any schedule it can parse needs (29 February
	// comes every four), so a zero time means a schedule such as 30 February that never fires.
	if sched.Next(time.Now()).IsZero() {
		return errors.New("never fires")
	}
	return nil
}

func validateTimeZone(tz string) error {
	if tz == "" {
		return nil
	}
	if tz == "Local" {
		return errors.New("must be an IANA time zone name such as Europe/Paris, not Local, which depends on the operator's host")
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return fmt.Errorf("must be an IANA time zone name such as Europe/Paris: %v", err)
	}
	return nil
}

// pipelineValidator holds what the checks of one spec share.
type pipelineValidator struct {
	name   string // the pipeline's name, "" when unknown
	spec   *v1alpha1.PipelineSpec
	params map[string]*v1alpha1.Parameter // declared parameters, the first of each name
	stages map[string]bool                // stage names
}

var (
	parameterNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	clockTimePattern     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

func (v *pipelineValidator) parameters(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, p := range v.spec.Parameters {
		pp := path.Index(i)
		switch {
		case p.Name == "":
			errs = append(errs, field.Required(pp.Child("name"), ""))
		case !parameterNamePattern.MatchString(p.Name):
			errs = append(errs, field.Invalid(pp.Child("name"), p.Name,
				"must be a CEL identifier: letters, digits and underscores, not starting with a digit"))
		case seen[p.Name]:
			errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
		}
		seen[p.Name] = true

		options := map[string]bool{}
		for j, o := range p.Options {
			if options[o] {
				errs = append(errs, field.Duplicate(pp.Child("options").Index(j), o))
			}
			options[o] = true
		}
		if len(p.Options) > 0 && p.Default != "" && !options[p.Default] {
			errs = append(errs, field.NotSupported(pp.Child("default"), p.Default, p.Options))
		}
	}
	return errs
}

func (v *pipelineValidator) triggers(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, t := range v.spec.Triggers {
		tp := path.Index(i)
		if t.Name != "" && names[t.Name] {
			errs = append(errs, field.Duplicate(tp.Child("name"), t.Name))
		}
		names[t.Name] = true
		errs = append(errs, v.triggerSource(tp, &t)...)
		if t.Cron != nil {
			if err := validateSchedule(t.Cron.Schedule); err != nil {
				errs = append(errs, field.Invalid(tp.Child("cron", "schedule"), t.Cron.Schedule, err.Error()))
			}
			if err := validateTimeZone(t.Cron.TimeZone); err != nil {
				errs = append(errs, field.Invalid(tp.Child("cron", "timeZone"), t.Cron.TimeZone, err.Error()))
			}
		}

		for _, k := range sortedKeys(t.Parameters) {
			val := t.Parameters[k]
			p, ok := v.params[k]
			switch {
			case ok && t.Cron == nil && strings.Contains(val, "${"):
				// A cron trigger's values are literal, as they always were: a cron run has no trigger
				// values to render.
				errs = append(errs, v.triggerTemplate(tp.Child("parameters").Key(k), val)...)
			case !ok:
				errs = append(errs, field.Invalid(tp.Child("parameters").Key(k), val, fmt.Sprintf("undeclared parameter %q", k)))
			case len(p.Options) > 0 && !slices.Contains(p.Options, val):
				errs = append(errs, field.NotSupported(tp.Child("parameters").Key(k), val, p.Options))
			}
		}
		// Nobody is there to give a required parameter when a trigger fires, so every run would fail.
		for _, p := range v.spec.Parameters {
			val, ok := t.Parameters[p.Name]
			if !ok {
				val = p.Default
			}
			if p.Required && val == "" {
				errs = append(errs, field.Required(tp.Child("parameters").Key(p.Name),
					fmt.Sprintf("parameter %q is required and has no default", p.Name)))
			}
		}
	}
	return errs
}

// graph reports duplicate stage names, unknown dependencies and cycles, in dag.Check's order.
func (v *pipelineValidator) graph(path *field.Path) field.ErrorList {
	nodes := make([]dag.Node, len(v.spec.Stages))
	for i, st := range v.spec.Stages {
		nodes[i] = dag.Node{Name: st.Name, DependsOn: st.DependsOn}
	}
	var errs field.ErrorList
	for _, e := range dag.Check(nodes) {
		sp := path.Index(e.Index)
		switch e.Kind {
		case dag.Duplicate:
			errs = append(errs, field.Duplicate(sp.Child("name"), e.Node))
		case dag.UnknownDependency:
			j := slices.Index(v.spec.Stages[e.Index].DependsOn, e.Dependency)
			errs = append(errs, field.Invalid(sp.Child("dependsOn").Index(j), e.Dependency,
				fmt.Sprintf("no stage is named %q", e.Dependency)))
		case dag.Cycle:
			errs = append(errs, field.Invalid(sp.Child("dependsOn"), v.spec.Stages[e.Index].DependsOn,
				"stages depend on each other in a "+e.Error()))
		default:
			errs = append(errs, field.InternalError(sp, e))
		}
	}
	return errs
}

var onFailureValues = []v1alpha1.OnFailure{v1alpha1.OnFailureFail, v1alpha1.OnFailureContinue, v1alpha1.OnFailureFailAfterBranches}

func (v *pipelineValidator) stage(st *v1alpha1.Stage, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if st.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	} else if msgs := validation.IsDNS1123Label(st.Name); len(msgs) > 0 {
		errs = append(errs, field.Invalid(path.Child("name"), st.Name, strings.Join(msgs, "; ")))
	}
	if st.When != "" {
		errs = append(errs, v.boolExpr(path.Child("when"), st.When)...)
	}
	errs = append(errs, duration(path.Child("timeout"), st.Timeout, false, true)...)
	if st.OnFailure != "" && !slices.Contains(onFailureValues, st.OnFailure) {
		errs = append(errs, field.NotSupported(path.Child("onFailure"), st.OnFailure, onFailureValues))
	}
	if st.Window != nil {
		errs = append(errs, window(path.Child("window"), st.Window)...)
	}

	types := st.Types()
	switch {
	case len(types) == 0:
		errs = append(errs, field.Required(path, "exactly one stage type must be set: wait, manualJudgment, "+
			"checkPreconditions, deploy, enableServerGroup, disableServerGroup, resizeServerGroup, "+
			"destroyServerGroup, rollbackCluster, webhook or pipeline"))
	case len(types) > 1:
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("exactly one stage type may be set, not %s",
			strings.Join(types, " and "))))
	}

	if w := st.Wait; w != nil {
		errs = append(errs, duration(path.Child("wait", "duration"), w.Duration, true, false)...)
	}
	if mj := st.ManualJudgment; mj != nil {
		errs = append(errs, v.template(path.Child("manualJudgment", "instructions"), mj.Instructions)...)
	}
	if cp := st.CheckPreconditions; cp != nil {
		ep := path.Child("checkPreconditions", "expressions")
		if len(cp.Expressions) == 0 {
			errs = append(errs, field.Required(ep, "at least one expression is needed"))
		}
		for j, x := range cp.Expressions {
			errs = append(errs, v.boolExpr(ep.Index(j), x)...)
		}
	}
	if d := st.Deploy; d != nil {
		for j := range d.Clusters {
			errs = append(errs, v.deployTarget(path.Child("deploy", "clusters").Index(j), &d.Clusters[j])...)
		}
	}
	if wh := st.Webhook; wh != nil {
		errs = append(errs, v.webhook(path.Child("webhook"), wh)...)
	}
	if pl := st.Pipeline; pl != nil {
		if v.name != "" && pl.Name == v.name {
			// Its child would wait behind it (limitConcurrent) or start another child, without end.
			errs = append(errs, field.Invalid(path.Child("pipeline", "name"), pl.Name, "a pipeline stage cannot run its own pipeline"))
		}
		pp := path.Child("pipeline", "parameters")
		for _, k := range sortedKeys(pl.Parameters) {
			errs = append(errs, v.template(pp.Key(k), pl.Parameters[k])...)
		}
	}
	return errs
}

func window(path *field.Path, w *v1alpha1.Window) field.ErrorList {
	var errs field.ErrorList
	for j, d := range w.Days {
		if !slices.Contains(weekdays, d) {
			errs = append(errs, field.NotSupported(path.Child("days").Index(j), d, weekdays))
		}
	}
	validFrom := clockTimePattern.MatchString(string(w.From))
	if !validFrom {
		errs = append(errs, field.Invalid(path.Child("from"), string(w.From), "must be a time of day such as 09:00"))
	}
	validTo := clockTimePattern.MatchString(string(w.To))
	if !validTo {
		errs = append(errs, field.Invalid(path.Child("to"), string(w.To), "must be a time of day such as 17:00"))
	}
	if validFrom && validTo && w.From == w.To {
		errs = append(errs, field.Invalid(path.Child("to"), string(w.To), "must differ from from"))
	}
	if err := validateTimeZone(w.TimeZone); err != nil {
		errs = append(errs, field.Invalid(path.Child("timeZone"), w.TimeZone, err.Error()))
	}
	return errs
}

var weekdays = []v1alpha1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

func (v *pipelineValidator) deployTarget(path *field.Path, t *v1alpha1.DeployTarget) field.ErrorList {
	var errs field.ErrorList
	if rb := t.RedBlack; rb != nil {
		rp := path.Child("redBlack")
		errs = append(errs, duration(rp.Child("delayBeforeDisable"), rb.DelayBeforeDisable, false, false)...)
		errs = append(errs, duration(rp.Child("delayBeforeScaleDown"), rb.DelayBeforeScaleDown, false, false)...)
	}
	// Every string of the cloud block may hold ${ } templates (the API says "strings may use
	// ${ parameters.image }", lists included), and a typo in any of them would fail the deploy mid-run.
	var fields []struct {
		path  *field.Path
		value string
	}
	add := func(p *field.Path, s string) {
		fields = append(fields, struct {
			path  *field.Path
			value string
		}{p, s})
	}
	addList := func(p *field.Path, ss []string) {
		for k, s := range ss {
			add(p.Index(k), s)
		}
	}
	if a := t.AWS; a != nil {
		ap := path.Child("aws")
		if lt := a.LaunchTemplate; lt != nil {
			add(ap.Child("launchTemplate", "name"), lt.Name)
			add(ap.Child("launchTemplate", "version"), lt.Version)
		}
		add(ap.Child("imageID"), a.ImageID)
		add(ap.Child("instanceType"), a.InstanceType)
		addList(ap.Child("targetGroupARNs"), a.TargetGroupARNs)
		addList(ap.Child("subnetIDs"), a.SubnetIDs)
	}
	if g := t.GCP; g != nil {
		gp := path.Child("gcp")
		add(gp.Child("instanceTemplate"), g.InstanceTemplate)
		add(gp.Child("image"), g.Image)
		add(gp.Child("machineType"), g.MachineType)
		addList(gp.Child("backendServices"), g.BackendServices)
		add(gp.Child("network"), g.Network)
		add(gp.Child("subnetwork"), g.Subnetwork)
	}
	if az := t.Azure; az != nil {
		zp := path.Child("azure")
		add(zp.Child("imageID"), az.ImageID)
		add(zp.Child("vmSize"), az.VMSize)
		addList(zp.Child("backendAddressPoolIDs"), az.BackendAddressPoolIDs)
		add(zp.Child("subnetID"), az.SubnetID)
	}
	for _, f := range fields {
		errs = append(errs, v.template(f.path, f.value)...)
	}
	return errs
}

func (v *pipelineValidator) webhook(path *field.Path, wh *v1alpha1.WebhookStage) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, v.template(path.Child("url"), wh.URL)...)
	for _, k := range sortedKeys(wh.Headers) {
		errs = append(errs, v.template(path.Child("headers").Key(k), wh.Headers[k])...)
	}
	errs = append(errs, v.template(path.Child("body"), wh.Body)...)
	if c := wh.WaitForCompletion; c != nil {
		cp := path.Child("waitForCompletion")
		errs = append(errs, v.template(cp.Child("statusURL"), c.StatusURL, expr.WithResponse())...)
		if c.SuccessExpression == "" {
			errs = append(errs, field.Required(cp.Child("successExpression"), ""))
		} else {
			errs = append(errs, v.boolExpr(cp.Child("successExpression"), c.SuccessExpression, expr.WithResponse())...)
		}
		if c.FailureExpression != "" {
			errs = append(errs, v.boolExpr(cp.Child("failureExpression"), c.FailureExpression, expr.WithResponse())...)
		}
		errs = append(errs, duration(cp.Child("pollInterval"), c.PollInterval, false, true)...)
	}
	return errs
}

// boolExpr checks a CEL expression that decides something: it must compile, yield a bool, and name only
// declared parameters and stages of the pipeline.
func (v *pipelineValidator) boolExpr(path *field.Path, src string, opts ...expr.Option) field.ErrorList {
	x, err := expr.CompileBool(src, opts...)
	if err != nil {
		return field.ErrorList{field.Invalid(path, badValue(src), err.Error())}
	}
	return v.refs(path, src, x.ParameterRefs(), x.StageRefs())
}

// template checks a string that may hold ${ } expressions.
func (v *pipelineValidator) template(path *field.Path, s string, opts ...expr.Option) field.ErrorList {
	if !strings.Contains(s, "${") {
		return nil
	}
	t, err := expr.ParseTemplate(s, opts...)
	if err != nil {
		return field.ErrorList{field.Invalid(path, badValue(s), err.Error())}
	}
	return v.refs(path, s, t.ParameterRefs(), t.StageRefs())
}

func (v *pipelineValidator) refs(path *field.Path, src string, params, stages []string) field.ErrorList {
	var errs field.ErrorList
	for _, p := range params {
		if _, ok := v.params[p]; !ok {
			errs = append(errs, field.Invalid(path, badValue(src), fmt.Sprintf("references undeclared parameter %q", p)))
		}
	}
	for _, s := range stages {
		if !v.stages[s] {
			errs = append(errs, field.Invalid(path, badValue(src), fmt.Sprintf("references unknown stage %q", s)))
		}
	}
	return errs
}

// duration checks an optional or required duration; positive also rejects zero.
func duration(path *field.Path, d v1alpha1.Duration, required, positive bool) field.ErrorList {
	if d == "" {
		if required {
			return field.ErrorList{field.Required(path, "a duration such as 30s, 5m or 1h30m")}
		}
		return nil
	}
	dd, err := d.Duration()
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(path, string(d), "must be a duration such as 30s, 5m or 1h30m")}
	case dd < 0:
		return field.ErrorList{field.Invalid(path, string(d), "must not be negative")}
	case dd == 0 && positive:
		return field.ErrorList{field.Invalid(path, string(d), "must be greater than zero")}
	}
	return nil
}

// badValue keeps error messages short: a webhook body may be 64 KiB, and the message already quotes the
// expression at fault.
func badValue(s string) any {
	if len(s) > 256 {
		return field.OmitValueType{}
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
