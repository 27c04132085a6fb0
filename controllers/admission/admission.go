// Package admission holds Gennaker's admission webhooks, one file per kind: the Execution's stamps who
// judged, started and canceled a run and enforces a stage's approvers; the Pipeline's and the
// ServerGroup's refuse at apply time what the controllers would otherwise only report as Ready=False.
//
// The API server tells a webhook who the caller is (the request's UserInfo); nothing in a request body
// is trusted for it. Status subresources are not intercepted, so the controllers' status writes never wait
// on admission.
package admission

import (
	"errors"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// The paths the webhooks serve, as controller-gen's markers and config/webhook name them.
const (
	PathMutateExecution     = "/mutate-delivery-gennaker-io-v1alpha1-execution"
	PathValidateExecution   = "/validate-delivery-gennaker-io-v1alpha1-execution"
	PathValidatePipeline    = "/validate-delivery-gennaker-io-v1alpha1-pipeline"
	PathValidateServerGroup = "/validate-delivery-gennaker-io-v1alpha1-servergroup"
)

// Options are what the webhooks need.
type Options struct {
	// Reader reads Pipelines and CloudAccounts. An uncached reader (the manager's APIReader): a check
	// against a cache a moment behind could pass a judgment the Pipeline's approvers no longer allow.
	Reader client.Reader
	// Reviewer creates the SubjectAccessReviews that ask whether a run's creator may patch Executions.
	Reviewer client.Writer
	// Scheme decodes the requests' objects.
	Scheme *runtime.Scheme
	// Operator is the user name the operator itself reaches the API server as (see WhoAmI). Only it may
	// create runs that say a cron trigger or a pipeline stage started them; anyone else's run is recorded
	// as started by them.
	Operator string
	// Now is the clock of the stamps; nil means time.Now.
	Now func() time.Time
}

// Register adds every webhook to srv.
func Register(srv webhook.Server, o Options) {
	if o.Now == nil {
		o.Now = time.Now
	}
	d := admission.NewDecoder(o.Scheme)
	for path, h := range map[string]admission.Handler{
		PathMutateExecution:     &executionStamper{decoder: d, reader: o.Reader, operator: o.Operator, now: o.Now},
		PathValidateExecution:   &executionValidator{decoder: d, reader: o.Reader, reviewer: o.Reviewer, operator: o.Operator},
		PathValidatePipeline:    &pipelineValidator{decoder: d},
		PathValidateServerGroup: &serverGroupValidator{decoder: d, reader: o.Reader},
	} {
		srv.Register(path, &webhook.Admission{Handler: h})
	}
}

// decode reads the request's object and, on an update, the old one.
func decode[T runtime.Object](d admission.Decoder, req admission.Request, obj, old T) error {
	if err := d.DecodeRaw(req.Object, obj); err != nil {
		return err
	}
	if req.Operation == admissionv1.Update {
		return d.DecodeRaw(req.OldObject, old)
	}
	return nil
}

// refuse answers with the field errors as a 422 Invalid, so that kubectl prints each with its field, as it
// does for the schema's own errors.
func refuse(kind, name string, errs field.ErrorList) admission.Response {
	st := apierrors.NewInvalid(schema.GroupKind{Group: "delivery.gennaker.io", Kind: kind}, name, errs).Status()
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &st}}
}

// forbidden refuses as RBAC does (403), for a request the caller lacks the permission for.
func forbidden(name, msg string) admission.Response {
	st := apierrors.NewForbidden(schema.GroupResource{Group: "delivery.gennaker.io", Resource: "executions"}, name, errors.New(msg)).Status()
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &st}}
}

// decodeError is the answer to a request whose object does not decode.
func decodeError(err error) admission.Response {
	return admission.Errored(http.StatusBadRequest, err)
}

// unavailable is the answer when a read the check needs failed: the request is refused, never let through
// unchecked, and the caller may retry.
func unavailable(err error) admission.Response {
	return admission.Errored(http.StatusServiceUnavailable, err)
}
