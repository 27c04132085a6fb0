// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// Package trigger starts the runs of a Pipeline's triggers: the Execution every trigger type makes (one
// name scheme, one way to render its parameters), the webhook endpoint CI systems call, and the pollers of
// container repositories that image triggers share.
package trigger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
	"github.com/gennaker/gennaker/controllers/engine/expr"
	"github.com/gennaker/gennaker/controllers/stages"
)

// Run is what a trigger starts a run with.
type Run struct {
	// Type is the run's trigger type: v1alpha1.TriggerCron, TriggerWebhook and so on.
	Type string
	// Index of the trigger in spec.triggers.
	Index int
	// Key tells this run from every other run of the same trigger: the webhook's delivery ID, the image's
	// digest, the parent run. The run's name is derived from it, so that a trigger that fires again for the
	// same key (a restart, a replayed call) gets AlreadyExists.
	Key string
	// Suffix, if set, names the run <pipeline>-<suffix> instead (cron's readable cron<index>-<due time>).
	Suffix string
	// Annotations the operator adds to the run, besides the trigger's type and name.
	Annotations map[string]string
	// Labels the operator adds to the run, besides the pipeline's: what a trigger finds its runs by.
	Labels map[string]string
	// Artifacts the run deploys.
	Artifacts []v1alpha1.Artifact
	// Payload is the webhook call's JSON body, read by the trigger's values as trigger.payload.
	Payload any
}

// RunName is the name of the run a trigger starts for a key: <pipeline>-<kind><10 hex digits of a hash of
// the trigger and key>, or <pipeline>-<suffix> when the caller has a readable one. Names are kept to 63
// characters, so that they fit in a label value: a longer pipeline name is cut and completed with a hash.
func RunName(pipeline, suffix string) string {
	suffix = "-" + suffix
	if len(pipeline)+len(suffix) <= validation.DNS1123LabelMaxLength {
		return pipeline + suffix
	}
	hash := shortHash(pipeline)[:8]
	keep := validation.DNS1123LabelMaxLength - len(suffix) - len(hash) - 1
	// A cut that ends in - or . would make an invalid name (a.-b).
	prefix := strings.TrimRight(pipeline[:keep], "-.")
	return prefix + "-" + hash + suffix
}

func shortHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

// kinds are the short words in the names of runs, by trigger type.
var kinds = map[string]string{
	v1alpha1.TriggerWebhook:  "hook",
	v1alpha1.TriggerImage:    "image",
	v1alpha1.TriggerPipeline: "after",
}

// Name is the name of the run r of pl's trigger r.Index.
func (r Run) Name(pl *v1alpha1.Pipeline) string {
	suffix := r.Suffix
	if suffix == "" {
		suffix = kinds[r.Type] + shortHash(pl.Spec.Triggers[r.Index].Name, r.Key)[:10]
	}
	return RunName(pl.Name, suffix)
}

// NewExecution is the run r of trigger r.Index of pl. The trigger's parameters and a webhook's artifact are
// rendered here, once, with what expressions of the run will see as trigger (plus the payload): a value
// that does not render is the caller's to refuse, and nothing is started.
func NewExecution(pl *v1alpha1.Pipeline, r Run) (*v1alpha1.Execution, error) {
	tr := &pl.Spec.Triggers[r.Index]
	name := r.Name(pl)
	ann := map[string]string{v1alpha1.AnnotationTrigger: r.Type}
	if tr.Name != "" {
		ann[v1alpha1.AnnotationTriggerName] = tr.Name
	}
	for k, v := range r.Annotations {
		ann[k] = v
	}
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: pl.Namespace, Name: name, Annotations: ann,
			// No ownerReference to the Pipeline: a GitOps tool that deletes and re-creates it must not
			// garbage-collect the run history.
		},
		Spec: v1alpha1.ExecutionSpec{Pipeline: pl.Name, Artifacts: r.Artifacts},
	}
	// The label is for `kubectl get -l`; a pipeline name over 63 characters cannot be a label value, and
	// the controllers find runs by spec.pipeline anyway.
	if len(validation.IsValidLabelValue(pl.Name)) == 0 {
		ex.Labels = map[string]string{v1alpha1.LabelPipeline: pl.Name}
	}
	for k, v := range r.Labels {
		if ex.Labels == nil {
			ex.Labels = map[string]string{}
		}
		ex.Labels[k] = v
	}
	// The run stays in its Pipeline's shard: the manager that saw the trigger fire is the one to run it.
	stages.InheritShard(pl, ex)
	render := func(path, s string) (string, error) {
		// A cron trigger's values are literal, as they were before other triggers came: a Pipeline that
		// passes "${HOME}" to a script must not change meaning, or fail, on an upgrade.
		if tr.Cron != nil || !strings.Contains(s, "${") {
			return s, nil
		}
		vars := engine.TriggerVars(ex)
		if r.Payload != nil {
			vars["payload"] = r.Payload
		}
		t, err := expr.ParseTemplate(s)
		if err == nil {
			s, err = t.Render(expr.Vars{Trigger: vars})
		}
		if err != nil {
			return "", fmt.Errorf("spec.triggers[%d].%s: %w", r.Index, path, err)
		}
		return s, nil
	}
	if wh := tr.Webhook; wh != nil && wh.Artifact != nil {
		a := *wh.Artifact
		for path, f := range map[string]*string{"reference": &a.Reference, "repository": &a.Repository, "version": &a.Version, "digest": &a.Digest} {
			v, err := render("webhook.artifact."+path, *f)
			if err != nil {
				return nil, err
			}
			*f = v
		}
		if a.Reference == "" {
			return nil, fmt.Errorf("spec.triggers[%d].webhook.artifact.reference: rendered empty", r.Index)
		}
		ex.Spec.Artifacts = append([]v1alpha1.Artifact{a}, ex.Spec.Artifacts...)
	}
	if len(tr.Parameters) > 0 {
		ex.Spec.Parameters = make(map[string]string, len(tr.Parameters))
		for k, v := range tr.Parameters {
			val, err := render("parameters["+k+"]", v)
			if err != nil {
				return nil, err
			}
			ex.Spec.Parameters[k] = val
		}
	}
	return ex, nil
}

// StartedBy says whether ex is a run that pl's trigger index, of type typ, started. Only the operator may
// set the annotations that say so (admission refuses them from anyone else), so a run someone made by hand
// under the name the trigger's run would have is never taken for the trigger's own.
func StartedBy(ex *v1alpha1.Execution, pl *v1alpha1.Pipeline, index int, typ string) bool {
	a := ex.Annotations
	if a[v1alpha1.AnnotationTrigger] != typ || ex.Spec.Pipeline != pl.Name {
		return false
	}
	if name := pl.Spec.Triggers[index].Name; name != "" {
		return a[v1alpha1.AnnotationTriggerName] == name
	}
	return a[v1alpha1.AnnotationTriggerIndex] == strconv.Itoa(index)
}

// Start creates the run r of pl's trigger. created is false, with no error, when the run already exists: the
// trigger fired for the same key before (a restart between creating the run and recording it, a replayed
// webhook call). A value that does not render is an error, and nothing is created.
func Start(ctx context.Context, c client.Client, pl *v1alpha1.Pipeline, r Run) (ex *v1alpha1.Execution, created bool, err error) {
	ex, err = NewExecution(pl, r)
	if err != nil {
		return nil, false, err
	}
	if err := c.Create(ctx, ex); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return ex, false, nil
		}
		return ex, false, fmt.Errorf("starting Execution %s for spec.triggers[%d]: %w", ex.Name, r.Index, err)
	}
	id := pl.Spec.Triggers[r.Index].Name
	if id == "" {
		id = strconv.Itoa(r.Index)
	}
	runsStarted.WithLabelValues(pl.Namespace, pl.Name, id, r.Type).Inc()
	return ex, true, nil
}
