package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Execution condition types, besides Ready, Reconciling and Stalled.
const (
	// ConditionSucceeded is True when the run succeeded, False when it failed or was canceled, Unknown while
	// it runs.
	ConditionSucceeded = "Succeeded"
	// ConditionAwaitingJudgment is True while a manual judgment waits for a decision; its message names the
	// stage and its instructions.
	ConditionAwaitingJudgment = "AwaitingJudgment"
	// ConditionJudged is set on a stage's status when its judgment is recorded; the reason is the decision
	// (Continue or Stop), the message says who decided, when, the input and the comment.
	ConditionJudged = "Judged"
	// ConditionAwaitingResponse is True on a webhook stage's status while a request it handed over (the
	// call, reason Call, or a poll, reason Poll) has not been answered; the message names the request, its
	// URL shortened. It is removed once the answer is recorded in the stage's status.
	ConditionAwaitingResponse = "AwaitingResponse"
)

// Annotations that say what started an Execution. An Execution without AnnotationTrigger was started by
// a person (kubectl create); expressions read these as trigger.type, trigger.scheduledTime and so on.
const (
	// AnnotationTrigger is cron for a Pipeline's cron trigger, pipeline for a pipeline stage's child run.
	AnnotationTrigger = "delivery.gennaker.io/trigger"
	// AnnotationScheduledTime is the due time (RFC 3339) of the cron tick that started the run.
	AnnotationScheduledTime = "delivery.gennaker.io/scheduled-time"
	// AnnotationTriggerIndex is the index in spec.triggers of the cron trigger that started the run.
	AnnotationTriggerIndex = "delivery.gennaker.io/trigger-index"
	// AnnotationParentExecution names the Execution whose pipeline stage started this run.
	AnnotationParentExecution = "delivery.gennaker.io/parent-execution"
	// AnnotationParentStage names that parent's stage.
	AnnotationParentStage = "delivery.gennaker.io/parent-stage"
	// LabelPipeline is set on the Executions the operator creates (cron and pipeline-stage runs), for
	// kubectl get -l; the controllers themselves list by spec.pipeline.
	LabelPipeline = "delivery.gennaker.io/pipeline"
	// AnnotationPipelineChain lists, comma-separated, the pipelines of a child run's ancestors, root first:
	// a pipeline stage refuses to start a pipeline already in its run's chain, and a chain deeper than
	// MaxPipelineDepth.
	AnnotationPipelineChain = "delivery.gennaker.io/pipeline-chain"
)

// MaxPipelineDepth is how deep pipeline stages may nest runs: a run and nine generations of children.
const MaxPipelineDepth = 10

// Annotations the admission webhook stamps on every Execution from the API server's request, never from
// the request body: whatever a client sends in them is overwritten, and they cannot be changed later.
const (
	// AnnotationCreatedBy is the user who created the run, as the API server named them.
	AnnotationCreatedBy = "delivery.gennaker.io/created-by"
	// AnnotationCanceledBy is the user who set spec.cancel.
	AnnotationCanceledBy = "delivery.gennaker.io/canceled-by"
	// AnnotationQueuePosition orders the runs of a pipeline for limitConcurrent: a number assigned at
	// admission that grows with each run created, finer than creationTimestamp's seconds.
	AnnotationQueuePosition = "delivery.gennaker.io/queue-position"
)

// AnnotationStatusRefused marks a run failed whose status the API server refuses even failed; its value says why.
const AnnotationStatusRefused = "delivery.gennaker.io/status-refused"

// ExecutionFinalizer is held by a run while it is unfinished: deleting a Running Execution cancels it
// first (running stages are told to stop, a red/black rolls back as rollbackOnFailure says), then the
// object goes.
const ExecutionFinalizer = "delivery.gennaker.io/cancel-on-delete"

// Trigger types, the values of AnnotationTrigger and of trigger.type in expressions.
const (
	TriggerManual   = "manual"
	TriggerCron     = "cron"
	TriggerPipeline = "pipeline"
)

// Decision on a manual judgment.
// +kubebuilder:validation:Enum=Continue;Stop
type Decision string

// Decisions.
const (
	DecisionContinue Decision = "Continue"
	DecisionStop     Decision = "Stop"
)

// Judgment is a person's decision on a manual judgment stage. Once made, it cannot be changed or removed.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a judgment, once made, cannot be changed"
type Judgment struct {
	// Decision is Continue (the stage succeeds) or Stop (the stage fails, then its onFailure applies).
	Decision Decision `json:"decision"`
	// Input is one of the stage's inputs, if it lists any; later stages read it as
	// stages['<name>'].outputs.input.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Input string `json:"input,omitempty"`
	// Comment is free text kept with the decision.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Comment string `json:"comment,omitempty"`
	// JudgedBy is who decided, as the API server named the user who added the judgment. The admission
	// webhook stamps it, overwriting whatever the request said.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	JudgedBy string `json:"judgedBy,omitempty"`
	// JudgedGroups are that user's groups, as the API server gave them; stamped with judgedBy.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=512
	// +optional
	JudgedGroups []string `json:"judgedGroups,omitempty"`
	// JudgedAt is when the decision reached the API server; stamped with judgedBy. A judgment made before
	// its stage's timeout wins over the timeout.
	// +optional
	JudgedAt *metav1.Time `json:"judgedAt,omitempty"`
}

// ExecutionSpec is one run of a pipeline.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.judgments) || (has(self.judgments) && oldSelf.judgments.all(k, k in self.judgments))",message="a judgment, once made, cannot be removed",fieldPath=".judgments"
type ExecutionSpec struct {
	// Pipeline is the name of a Pipeline in the same namespace. Its spec is frozen into the Execution when
	// the run starts; later edits of the Pipeline do not change it.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="pipeline is immutable"
	Pipeline string `json:"pipeline"`
	// Parameters of the run, by name; missing ones take the pipeline's defaults.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="parameters are immutable"
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
	// Judgments are decisions on manual judgment stages, by stage name, written with kubectl patch:
	//   kubectl patch execution NAME --type merge -p '{"spec":{"judgments":{"go-no-go":{"decision":"Continue"}}}}'
	// A judgment for a stage that is not waiting yet is kept and applied when it starts.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Judgments map[string]Judgment `json:"judgments,omitempty"`
	// Cancel, once true, cancels the run: running stages are told to stop and nothing new starts.
	// +kubebuilder:validation:XValidation:rule="self || !oldSelf",message="a canceled execution cannot be resumed"
	// +optional
	Cancel bool `json:"cancel,omitempty"`
	// SkipWaits names running wait stages to end now, as if their duration had passed:
	//   kubectl patch execution NAME --type merge -p '{"spec":{"skipWaits":["soak"]}}'
	// A name cannot be removed once added.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="oldSelf.all(x, x in self)",message="a skipped wait cannot be unskipped"
	// +listType=set
	// +optional
	SkipWaits []string `json:"skipWaits,omitempty"`
	// Artifacts the run deploys, read by stages as trigger.artifact (the first) and trigger.artifacts; the
	// operator's triggers set them, and a run started by hand may name them, so that both share a pipeline.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="artifacts are immutable"
	// +optional
	Artifacts []Artifact `json:"artifacts,omitempty"`
}

// ExecutionPhase is where a run is.
// +kubebuilder:validation:Enum=Queued;Running;AwaitingJudgment;Succeeded;Failed;Canceled
type ExecutionPhase string

// Execution phases.
const (
	ExecutionQueued  ExecutionPhase = "Queued"
	ExecutionRunning ExecutionPhase = "Running"
	// ExecutionAwaitingJudgment is a Running run of which a manual judgment waits for a decision, shown as
	// such (kubectl get, Argo CD's Suspended) with status.message giving the instructions. It is Running in
	// every other respect: see Running.
	ExecutionAwaitingJudgment ExecutionPhase = "AwaitingJudgment"
	ExecutionSucceeded        ExecutionPhase = "Succeeded"
	ExecutionFailed           ExecutionPhase = "Failed"
	ExecutionCanceled         ExecutionPhase = "Canceled"
)

// Running says whether the run has started and not finished: Running or AwaitingJudgment.
func (p ExecutionPhase) Running() bool {
	return p == ExecutionRunning || p == ExecutionAwaitingJudgment
}

// StagePhase is where a stage is.
// +kubebuilder:validation:Enum=NotStarted;Running;WaitingForJudgment;Succeeded;Failed;FailedContinue;Skipped;Canceled
type StagePhase string

// Stage phases.
const (
	StageNotStarted         StagePhase = "NotStarted"
	StageRunning            StagePhase = "Running"
	StageWaitingForJudgment StagePhase = "WaitingForJudgment"
	StageSucceeded          StagePhase = "Succeeded"
	StageFailed             StagePhase = "Failed"
	StageFailedContinue     StagePhase = "FailedContinue"
	StageSkipped            StagePhase = "Skipped"
	StageCanceled           StagePhase = "Canceled"
)

// StageStatus is the state of one stage of a run.
type StageStatus struct {
	// Name of the stage.
	Name string `json:"name"`
	// Type of the stage: the name of its stage field, such as wait or manualJudgment.
	Type string `json:"type"`
	// Phase of the stage.
	Phase StagePhase `json:"phase"`
	// StartTime is when the stage started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// EndTime is when the stage finished.
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`
	// Message says why the stage is where it is, for people.
	// +optional
	Message string `json:"message,omitempty"`
	// Outputs of the stage, readable by later stages as stages['<name>'].outputs.
	// +optional
	Outputs map[string]apiextensionsv1.JSON `json:"outputs,omitempty"`
	// NextCheckTime is when the controller looks at the stage next without being asked: the end of a
	// wait, a webhook's next poll, the opening of an execution window.
	// +optional
	NextCheckTime *metav1.Time `json:"nextCheckTime,omitempty"`
	// Conditions of the stage, such as Judged.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ExecutionTrigger says what started a run.
type ExecutionTrigger struct {
	// Type is manual (a person created the Execution), cron, webhook or image (a Pipeline's trigger of
	// that type) or pipeline (another run's pipeline stage, or a Pipeline's pipeline trigger).
	// +kubebuilder:validation:MaxLength=64
	Type string `json:"type"`
	// User is who created the Execution, as the API server named them (stamped at admission); empty for
	// cron and pipeline runs, which the operator creates and type and parent describe.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	User string `json:"user,omitempty"`
	// ScheduledTime is the cron tick that started the run.
	// +optional
	ScheduledTime *metav1.Time `json:"scheduledTime,omitempty"`
	// ParentExecution and ParentStage name the run and stage that started this one.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ParentExecution string `json:"parentExecution,omitempty"`
	// +kubebuilder:validation:MaxLength=63
	// +optional
	ParentStage string `json:"parentStage,omitempty"`
	// Name of the Pipeline trigger that started the run (webhook, pipeline and image triggers).
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Name string `json:"name,omitempty"`
	// DeliveryID of the webhook call that started the run.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	DeliveryID string `json:"deliveryID,omitempty"`
	// Artifact is the run's first artifact: for an image trigger, the new tag and its digest.
	// +optional
	Artifact *Artifact `json:"artifact,omitempty"`
}

// ExecutionStatus is the observed state of a run.
type ExecutionStatus struct {
	Status `json:",inline"`

	// Trigger says what started the run, and who.
	// +optional
	Trigger *ExecutionTrigger `json:"trigger,omitempty"`
	// CanceledBy is who set spec.cancel, as the API server named them (stamped at admission).
	// +kubebuilder:validation:MaxLength=512
	// +optional
	CanceledBy string `json:"canceledBy,omitempty"`

	// Phase of the run.
	// +optional
	Phase ExecutionPhase `json:"phase,omitempty"`
	// Message says where the run is, for people and for Argo CD's health: while a manual judgment waits,
	// the AwaitingJudgment condition's message (the stage and its instructions); otherwise Ready's.
	// +kubebuilder:validation:MaxLength=32768
	// +optional
	Message string `json:"message,omitempty"`
	// StartTime is when the run left Queued.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the run finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// PipelineGeneration is the Pipeline's metadata.generation frozen into this run when it started.
	// +optional
	PipelineGeneration int64 `json:"pipelineGeneration,omitempty"`
	// Parameters are the run's parameters as resolved when it started: the Execution's own, plus the
	// pipeline's defaults.
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
	// PipelineSpec is the Pipeline's spec frozen when the run started; the run follows it, whatever later
	// edits the Pipeline gets.
	// +optional
	PipelineSpec *PipelineSpec `json:"pipelineSpec,omitempty"`
	// CurrentStage names the running or waiting stages, comma-separated, for the printer column.
	// +optional
	CurrentStage string `json:"currentStage,omitempty"`
	// AwaitingJudgment names the stages waiting for a decision, comma-separated, for the printer column.
	// +optional
	AwaitingJudgment string `json:"awaitingJudgment,omitempty"`
	// Stages are the state of each stage, in the pipeline's order.
	// +listType=map
	// +listMapKey=name
	// +optional
	Stages []StageStatus `json:"stages,omitempty"`
}

// Execution is one run of a Pipeline. Create it (kubectl create, or a Pipeline's cron trigger), approve its
// manual judgments with kubectl patch, cancel it with spec.cancel.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ex,categories=gennaker
// +kubebuilder:printcolumn:name="Pipeline",type=string,JSONPath=`.spec.pipeline`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.status.currentStage`
// +kubebuilder:printcolumn:name="Waiting",type=string,JSONPath=`.status.awaitingJudgment`
// +kubebuilder:printcolumn:name="Trigger",type=string,JSONPath=`.status.trigger.type`
// +kubebuilder:printcolumn:name="By",type=string,JSONPath=`.status.trigger.user`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Execution struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the run's input.
	Spec ExecutionSpec `json:"spec"`
	// Status is the run's progress.
	// +optional
	Status ExecutionStatus `json:"status,omitempty"`
}

// GetStatus returns the conventional part of the status.
func (e *Execution) GetStatus() *Status { return &e.Status.Status }

// ExecutionList is a list of Executions.
// +kubebuilder:object:root=true
type ExecutionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Execution `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Execution{}, &ExecutionList{})
}
