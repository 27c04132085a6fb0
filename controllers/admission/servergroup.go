package admission

import (
	"context"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloudaccount"
)

// Like the Pipeline's, the ServerGroup webhook ignores its own failure: the ServerGroup controller makes
// the same check before any cloud call.
// +kubebuilder:webhook:path=/validate-delivery-gennaker-io-v1alpha1-servergroup,mutating=false,failurePolicy=ignore,sideEffects=None,groups=delivery.gennaker.io,resources=servergroups,verbs=create;update,versions=v1alpha1,name=vservergroup.delivery.gennaker.io,admissionReviewVersions=v1,timeoutSeconds=10

// serverGroupValidator refuses a ServerGroup whose CloudAccount does not list its namespace in
// allowedNamespaces. An account that does not exist (yet) is let through: the controller reports it.
type serverGroupValidator struct {
	decoder admission.Decoder
	reader  client.Reader
}

func (h *serverGroupValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	var sg, old v1alpha1.ServerGroup
	if err := decode(h.decoder, req, &sg, &old); err != nil {
		return decodeError(err)
	}
	// Only a new account is checked: a group its account stopped allowing must still be deletable (its
	// finalizer removed) and is reported by the controller.
	if req.Operation == admissionv1.Update && sg.Spec.Account == old.Spec.Account {
		return admission.Allowed("")
	}
	var account v1alpha1.CloudAccount
	err := h.reader.Get(ctx, client.ObjectKey{Name: sg.Spec.Account}, &account)
	if apierrors.IsNotFound(err) {
		return admission.Allowed("")
	}
	if err != nil {
		return unavailable(err)
	}
	if ok, msg := cloudaccount.Allowed(&account, req.Namespace); !ok {
		return refuse("ServerGroup", sg.Name, field.ErrorList{field.Forbidden(field.NewPath("spec", "account"), msg)})
	}
	return admission.Allowed("")
}
