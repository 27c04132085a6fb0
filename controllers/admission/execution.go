package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/validation"
)

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// +kubebuilder:webhook:path=/mutate-delivery-gennaker-io-v1alpha1-execution,mutating=true,failurePolicy=fail,sideEffects=None,groups=delivery.gennaker.io,resources=executions,verbs=create;update,versions=v1alpha1,name=mexecution.delivery.gennaker.io,admissionReviewVersions=v1,timeoutSeconds=10,patch=`{"matchConditions":[{"name":"not-being-deleted","expression":"request.operation != 'UPDATE' || !has(oldObject.metadata.deletionTimestamp)"}]}`
// +kubebuilder:webhook:path=/validate-delivery-gennaker-io-v1alpha1-execution,mutating=false,failurePolicy=fail,sideEffects=None,groups=delivery.gennaker.io,resources=executions,verbs=create;update,versions=v1alpha1,name=vexecution.delivery.gennaker.io,admissionReviewVersions=v1,timeoutSeconds=10,patch=`{"matchConditions":[{"name":"not-being-deleted","expression":"request.operation != 'UPDATE' || !has(oldObject.metadata.deletionTimestamp)"}]}`

// Annotations only the operator may set on the runs it creates: a person's run cannot claim a cron trigger
// or a parent stage started it, nor forge or clear the chain of ancestors that stops a pipeline running
// inside itself. (The queue position has a rule of its own: the operator numbers runs after creation.)
var operatorAnnotations = []string{
	v1alpha1.AnnotationTrigger, v1alpha1.AnnotationScheduledTime, v1alpha1.AnnotationTriggerIndex,
	v1alpha1.AnnotationParentExecution, v1alpha1.AnnotationParentStage, v1alpha1.AnnotationPipelineChain,
	v1alpha1.AnnotationTriggerName, v1alpha1.AnnotationDeliveryID, v1alpha1.AnnotationParentOutputs,
}

// executionStamper records who, from the API server's account of the request: judgedBy, judgedGroups and
// judgedAt on every judgment the request adds, and the created-by and canceled-by annotations. Whatever the
// request body said of them is overwritten; stamps already recorded are kept as they were.
type executionStamper struct {
	decoder admission.Decoder
	// reader finds the approvers of the stages judged, for a user whose groups do not all fit the record.
	reader   client.Reader
	operator string
	now      func() time.Time
}

func (h *executionStamper) Handle(ctx context.Context, req admission.Request) admission.Response {
	var ex, old v1alpha1.Execution
	if err := decode(h.decoder, req, &ex, &old); err != nil {
		return decodeError(err)
	}
	if req.Operation != admissionv1.Update {
		old = v1alpha1.Execution{}
	}
	user := req.UserInfo
	now := metav1.NewTime(stampTime(h.now()))
	stampJudgments(&ex, &old, user, now, h.approverGroups(ctx, &ex, user.Groups))
	stampAnnotations(&ex, &old, req.Operation == admissionv1.Create, user.Username, h.operator)
	raw, err := withStamps(req.Object.Raw, &ex)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

// stampTime is t as judgedAt records it, to the second (RFC 3339 in the object), rounded up: rounded down, a
// judgment that reached the API server up to 999 ms after its stage's deadline would count as on time.
func stampTime(t time.Time) time.Time {
	if s := t.Truncate(time.Second); s.Before(t) {
		return s.Add(time.Second)
	}
	return t
}

// withStamps is the request's object with ex's judgments and annotations and nothing else changed: a
// round trip through the Go types would add the empty fields they do not omit.
func withStamps(original []byte, ex *v1alpha1.Execution) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(original, &obj); err != nil {
		return nil, err
	}
	typed, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ex)
	if err != nil {
		return nil, err
	}
	for _, path := range [][]string{{"metadata", "annotations"}, {"spec", "judgments"}} {
		v, found, err := unstructured.NestedFieldNoCopy(typed, path...)
		if err != nil {
			return nil, err
		}
		if found {
			err = unstructured.SetNestedField(obj, v, path...)
		} else {
			unstructured.RemoveNestedField(obj, path...)
		}
		if err != nil {
			return nil, err
		}
	}
	return json.Marshal(obj)
}

// stampJudgments stamps the judgments the request adds (or changes: the validating webhook refuses those)
// and puts back the recorded stamps of the others, so that a client that re-sends a judgment without them
// (kubectl apply of the whole spec) does not look like it changed the decision.
func stampJudgments(ex, old *v1alpha1.Execution, user authenticationv1.UserInfo, now metav1.Time, approverGroups map[string][]string) {
	for name, j := range ex.Spec.Judgments {
		if was, ok := old.Spec.Judgments[name]; ok && sameDecision(was, j) {
			j.JudgedBy, j.JudgedGroups, j.JudgedAt = was.JudgedBy, was.JudgedGroups, was.JudgedAt
		} else {
			j.JudgedBy, j.JudgedGroups, j.JudgedAt = user.Username, recordedGroups(user.Groups, approverGroups[name]), &now
		}
		ex.Spec.Judgments[name] = j
	}
}

// The schema's bounds of judgedGroups.
const (
	maxGroups      = 64
	maxGroupLength = 512
)

// recordedGroups are the groups kept with a judgment: a directory may give a user more, or longer, groups
// than the schema keeps, and a judgment must not be refused for that. The approver check uses the
// request's full list; the record keeps 64 that fit, those the stage's approvers name (first) first, so
// that the check made again when the run starts sees the group that let the judge in.
func recordedGroups(groups, first []string) []string {
	var out []string
	keep := func(g string) {
		if len(out) < maxGroups && len(g) <= maxGroupLength && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	for _, g := range groups {
		if slices.Contains(first, g) {
			keep(g)
		}
	}
	for _, g := range groups {
		keep(g)
	}
	return out
}

// approverGroups are, by stage, the groups the approvers of the stages ex judges name. They are looked up
// only when the user's groups do not all fit in the record: for everyone else it costs nothing. A failed
// read leaves them out; the validating webhook, which reads the same, then refuses the request.
func (h *executionStamper) approverGroups(ctx context.Context, ex *v1alpha1.Execution, groups []string) map[string][]string {
	if len(ex.Spec.Judgments) == 0 || len(recordedGroups(groups, nil)) == len(groups) || h.reader == nil {
		return nil
	}
	stages, err := runStages(ctx, h.reader, ex)
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for _, st := range stages {
		if st.ManualJudgment != nil && st.ManualJudgment.Approvers != nil {
			out[st.Name] = st.ManualJudgment.Approvers.Groups
		}
	}
	return out
}

// sameDecision compares what the person decided, not the stamps.
func sameDecision(a, b v1alpha1.Judgment) bool {
	return a.Decision == b.Decision && a.Input == b.Input && a.Comment == b.Comment
}

// stampAnnotations records who created and who canceled the run. The operator's own cron and pipeline-stage
// runs carry their trigger instead of a creator; on anyone else's run the trigger annotations are dropped.
// After creation, the annotations keep the values they were given then.
func stampAnnotations(ex, old *v1alpha1.Execution, create bool, user, operator string) {
	ann := ex.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	keep := func(key string) {
		if v, ok := old.Annotations[key]; ok {
			ann[key] = v
		} else {
			delete(ann, key)
		}
	}
	switch {
	case !create:
		for _, key := range append([]string{v1alpha1.AnnotationCreatedBy}, operatorAnnotations...) {
			keep(key)
		}
	case operatorRun(ann, user, operator):
		delete(ann, v1alpha1.AnnotationCreatedBy)
	default:
		for _, key := range operatorAnnotations {
			delete(ann, key)
		}
		ann[v1alpha1.AnnotationCreatedBy] = user
	}
	// The queue position is the operator's to number, after creation: a run created or edited with one of
	// its own would jump the limitConcurrent queue.
	// So is the mark of a run whose status the API server refuses: set, it fails the run; cleared, it would
	// let the operator step a run that may have lost its deploy Lease.
	for _, key := range []string{v1alpha1.AnnotationQueuePosition, v1alpha1.AnnotationStatusRefused} {
		if create {
			delete(ann, key)
		} else if user != operator || operator == "" {
			keep(key)
		}
	}
	if ex.Spec.Cancel && !old.Spec.Cancel {
		ann[v1alpha1.AnnotationCanceledBy] = user
	} else {
		keep(v1alpha1.AnnotationCanceledBy)
	}
	if len(ann) == 0 {
		ann = nil
	}
	ex.SetAnnotations(ann)
}

// executionValidator refuses what no one may do to a run, and judgments the caller may not make.
type executionValidator struct {
	decoder  admission.Decoder
	reader   client.Reader
	reviewer client.Writer
	operator string
}

func (h *executionValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	var ex, old v1alpha1.Execution
	if err := decode(h.decoder, req, &ex, &old); err != nil {
		return decodeError(err)
	}
	root := field.NewPath("spec")
	var errs field.ErrorList
	if req.Operation == admissionv1.Update {
		errs = append(errs, immutable(root, &ex, &old)...)
	} else {
		old = v1alpha1.Execution{}
		errs = append(errs, createdBy(&ex, req.UserInfo.Username, h.operator)...)
		if what := patchedAtCreate(&ex); what != "" {
			allowed, err := h.mayPatch(ctx, ex.Namespace, req.UserInfo)
			if err != nil {
				return unavailable(err)
			}
			if !allowed {
				return forbidden(ex.Name, fmt.Sprintf("creating a run with %s needs permission to patch executions in namespace %s: %s may not", what, ex.Namespace, req.UserInfo.Username))
			}
		}
	}
	added := addedJudgments(root.Child("judgments"), &ex, &old, &errs)
	errs = append(errs, unstamped(root.Child("judgments"), &ex, added, req.UserInfo.Username)...)
	if len(added) > 0 && len(errs) == 0 {
		stages, err := h.stages(ctx, &ex)
		if err != nil {
			return unavailable(err)
		}
		if stages == nil {
			errs = append(errs, field.Invalid(root.Child("pipeline"), ex.Spec.Pipeline, fmt.Sprintf("pipeline %s does not exist in namespace %s, so the judgments cannot be checked", ex.Spec.Pipeline, ex.Namespace)))
		}
		for _, name := range added {
			if stages == nil {
				break
			}
			errs = append(errs, checkJudgment(root.Child("judgments").Key(name), &ex, name, stages, req.UserInfo)...)
		}
	}
	if len(errs) > 0 {
		return refuse("Execution", ex.Name, errs)
	}
	return admission.Allowed("")
}

// unstamped refuses added judgments that do not carry the mutating webhook's stamps of this request: with
// that webhook missing, or ordered after another that rewrites them, a forged judgedBy would get in.
func unstamped(path *field.Path, ex *v1alpha1.Execution, added []string, user string) field.ErrorList {
	var errs field.ErrorList
	for _, name := range added {
		j := ex.Spec.Judgments[name]
		if j.JudgedBy != user || j.JudgedAt == nil {
			errs = append(errs, field.Forbidden(path.Key(name), fmt.Sprintf("the judgment is not stamped with who made it (judgedBy %q, judgedAt %v, request by %s): the mutating webhook %s must run before this one", j.JudgedBy, j.JudgedAt, user, mutateExecution)))
		}
	}
	return errs
}

// createdBy refuses, at create, a run whose created-by annotation is not the request's user, unless it is
// the operator's own cron or pipeline-stage run, which names none: the same defense as unstamped.
func createdBy(ex *v1alpha1.Execution, user, operator string) field.ErrorList {
	ann := ex.GetAnnotations()
	path := field.NewPath("metadata", "annotations")
	var errs field.ErrorList
	if user != operator || operator == "" {
		for _, key := range slices.Concat(operatorAnnotations, []string{v1alpha1.AnnotationQueuePosition, v1alpha1.AnnotationStatusRefused}) {
			if _, ok := ann[key]; ok {
				errs = append(errs, field.Forbidden(path.Key(key), fmt.Sprintf("is the operator's to set, and the mutating webhook %s drops it from anyone else's run", mutateExecution)))
			}
		}
	}
	by, ok := ann[v1alpha1.AnnotationCreatedBy]
	if operatorRun(ann, user, operator) && !ok || by == user {
		return errs
	}
	return append(errs, field.Forbidden(path.Key(v1alpha1.AnnotationCreatedBy), fmt.Sprintf("must be the user who creates the run (%s), as the mutating webhook %s stamps it", user, mutateExecution)))
}

// operatorRun says whether a new run is the operator's own: one of its triggers' runs, or a pipeline
// stage's child.
func operatorRun(ann map[string]string, user, operator string) bool {
	return user == operator && operator != "" && slices.Contains([]string{v1alpha1.TriggerCron, v1alpha1.TriggerPipeline,
		v1alpha1.TriggerWebhook, v1alpha1.TriggerImage, v1alpha1.TriggerMaven, v1alpha1.TriggerMachineImage}, ann[v1alpha1.AnnotationTrigger])
}

// patchedAtCreate names what a new run carries that, on a run already created, only someone who may patch
// it could add: judgments, skipWaits, cancel. Without this, a stage with no approvers would let anyone who
// may create runs (gennaker-editor) start one already approved, its waits skipped.
func patchedAtCreate(ex *v1alpha1.Execution) string {
	var what []string
	if len(ex.Spec.Judgments) > 0 {
		what = append(what, "judgments")
	}
	if len(ex.Spec.SkipWaits) > 0 {
		what = append(what, "skipWaits")
	}
	if ex.Spec.Cancel {
		what = append(what, "cancel")
	}
	return strings.Join(what, " and ")
}

// mayPatch asks the API server (a SubjectAccessReview) whether user may patch Executions in namespace ns,
// as RBAC would answer the same user's patch.
func (h *executionValidator) mayPatch(ctx context.Context, ns string, user authenticationv1.UserInfo) (bool, error) {
	if h.reviewer == nil {
		return false, errors.New("no client to ask whether the creator may patch executions")
	}
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: "patch", Group: v1alpha1.GroupVersion.Group, Resource: "executions",
		},
		User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
	}}
	if err := h.reviewer.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("asking whether %s may patch executions: %w", user.Username, err)
	}
	return sar.Status.Allowed, nil
}

// immutable refuses changes of the spec beyond judgments, skipWaits and cancel: the run's pipeline and
// parameters are what it was started with.
func immutable(root *field.Path, ex, old *v1alpha1.Execution) field.ErrorList {
	a, b := ex.Spec.DeepCopy(), old.Spec.DeepCopy()
	for _, s := range []*v1alpha1.ExecutionSpec{a, b} {
		s.Judgments, s.SkipWaits, s.Cancel = nil, nil, false
	}
	if equality.Semantic.DeepEqual(a, b) {
		return nil
	}
	return field.ErrorList{field.Forbidden(root, "only judgments, skipWaits and cancel may change after an Execution is created")}
}

// addedJudgments returns, sorted, the judgments the request adds, and refuses any change or removal of a
// recorded one (the schema's CEL rules say so too; this names the stage).
func addedJudgments(path *field.Path, ex, old *v1alpha1.Execution, errs *field.ErrorList) []string {
	var added []string
	for name, j := range ex.Spec.Judgments {
		was, ok := old.Spec.Judgments[name]
		switch {
		case !ok:
			added = append(added, name)
		case !sameDecision(was, j):
			*errs = append(*errs, field.Forbidden(path.Key(name), fmt.Sprintf("stage %s was already judged (%s by %s): a decision, once recorded, cannot be changed", name, was.Decision, orUnknown(was.JudgedBy))))
		}
	}
	for name := range old.Spec.Judgments {
		if _, ok := ex.Spec.Judgments[name]; !ok {
			*errs = append(*errs, field.Forbidden(path.Key(name), fmt.Sprintf("stage %s was already judged: a decision, once recorded, cannot be removed", name)))
		}
	}
	sort.Strings(added)
	return added
}

// stages returns the run's stages: the spec frozen into it when it started, or else its Pipeline's.
func (h *executionValidator) stages(ctx context.Context, ex *v1alpha1.Execution) ([]v1alpha1.Stage, error) {
	return runStages(ctx, h.reader, ex)
}

// runStages are the stages ex judges: those frozen into it once it has started, else its Pipeline's, nil
// when the Pipeline does not exist.
func runStages(ctx context.Context, reader client.Reader, ex *v1alpha1.Execution) ([]v1alpha1.Stage, error) {
	if ex.Status.PipelineSpec != nil {
		return ex.Status.PipelineSpec.Stages, nil
	}
	var pl v1alpha1.Pipeline
	err := reader.Get(ctx, types.NamespacedName{Namespace: ex.Namespace, Name: ex.Spec.Pipeline}, &pl)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading pipeline %s to check the judgments: %w", ex.Spec.Pipeline, err)
	}
	return pl.Spec.Stages, nil
}

// checkJudgment refuses a judgment of a stage that is not a manual judgment, from someone the stage's
// approvers do not list, or with an input the stage does not offer.
func checkJudgment(path *field.Path, ex *v1alpha1.Execution, name string, stages []v1alpha1.Stage, user authenticationv1.UserInfo) field.ErrorList {
	i := slices.IndexFunc(stages, func(st v1alpha1.Stage) bool { return st.Name == name })
	if i < 0 {
		return field.ErrorList{field.Invalid(path, name, fmt.Sprintf("pipeline %s has no stage %s", ex.Spec.Pipeline, name))}
	}
	st := &stages[i]
	mj := st.ManualJudgment
	if mj == nil {
		return field.ErrorList{field.Invalid(path, name, fmt.Sprintf("stage %s is a %s stage, not a manualJudgment: only manual judgments are judged", name, st.Type()))}
	}
	var errs field.ErrorList
	if !validation.Approver(mj.Approvers, user.Username, user.Groups) {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("%s may not judge stage %s: only %s may", user.Username, name, validation.Approvers(mj.Approvers))))
	}
	j := ex.Spec.Judgments[name]
	if !validation.JudgmentInput(mj, j.Input) {
		errs = append(errs, field.NotSupported(path.Child("input"), j.Input, mj.Inputs))
	}
	return errs
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown user"
	}
	return s
}
