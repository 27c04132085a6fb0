package admission

import (
	"context"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/validation"
)

// The Pipeline webhook ignores its own failure: the Pipeline controller makes the same checks and reports
// Ready=False, so a manager that is down does not stop a GitOps sync.
// +kubebuilder:webhook:path=/validate-delivery-gennaker-io-v1alpha1-pipeline,mutating=false,failurePolicy=ignore,sideEffects=None,groups=delivery.gennaker.io,resources=pipelines,verbs=create;update,versions=v1alpha1,name=vpipeline.delivery.gennaker.io,admissionReviewVersions=v1,timeoutSeconds=10

// pipelineValidator refuses at apply time what the Pipeline controller would report as Ready=False:
// dependsOn cycles, CEL and ${ } templates that do not compile, bad cron schedules and time zones,
// undeclared parameters, a pipeline stage that runs its own pipeline.
type pipelineValidator struct {
	decoder admission.Decoder
}

func (h *pipelineValidator) Handle(_ context.Context, req admission.Request) admission.Response {
	var pl, old v1alpha1.Pipeline
	if err := decode(h.decoder, req, &pl, &old); err != nil {
		return decodeError(err)
	}
	// A Pipeline that got in before (an older version, the webhook down) may still have its metadata
	// changed, its finalizers removed: only a new spec is checked.
	if req.Operation == admissionv1.Update && equality.Semantic.DeepEqual(pl.Spec, old.Spec) {
		return admission.Allowed("")
	}
	if errs := validation.Pipeline(&pl); len(errs) > 0 {
		return refuse("Pipeline", pl.Name, errs)
	}
	return admission.Allowed("")
}
