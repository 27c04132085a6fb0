package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pipeline condition reasons.
const (
	// ReasonValid says the pipeline passed every check and can run.
	ReasonValid = "Valid"
	// ReasonInvalid says a check the schema cannot make failed (a dependsOn cycle, a CEL expression that
	// does not compile, a bad cron spec); the message names the stage and field.
	ReasonInvalid = "Invalid"
	// ReasonRunNameTaken says a trigger fired but an Execution someone else made holds the name of the run
	// it would start; it starts that run once the Execution is deleted.
	ReasonRunNameTaken = "RunNameTaken"
)

// Parameter is an input of a pipeline, available to expressions as parameters.<name>.
// +kubebuilder:validation:XValidation:rule="!has(self.options) || size(self.options) == 0 || !has(self.default) || size(self.default) == 0 || self.default in self.options",message="default must be one of options",fieldPath=".default"
type Parameter struct {
	// Name of the parameter: a CEL identifier (letters, digits and underscores, not starting with a digit).
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Required parameters must be given a non-empty value when an Execution starts.
	// +optional
	Required bool `json:"required,omitempty"`
	// Default is the value when an Execution gives none.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Default string `json:"default,omitempty"`
	// Description tells people what the parameter is for.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`
	// Options, if set, are the only values allowed.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	Options []string `json:"options,omitempty"`
}

// CronTrigger starts an Execution on a schedule.
type CronTrigger struct {
	// Schedule in cron format (minute hour day-of-month month day-of-week), or a descriptor such as @hourly.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Schedule string `json:"schedule"`
	// TimeZone the schedule is read in, an IANA name such as Europe/Paris. Empty means UTC.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
}

// Trigger starts Executions of a pipeline by itself. Exactly one of cron, webhook, pipeline, image, maven
// and machineImage is set (their types are in trigger_types.go).
// +kubebuilder:validation:XValidation:rule="[has(self.cron), has(self.webhook), has(self.pipeline), has(self.image), has(self.maven), has(self.machineImage)].filter(x, x).size() == 1",message="exactly one of cron, webhook, pipeline, image, maven or machineImage must be set"
// +kubebuilder:validation:XValidation:rule="has(self.cron) || has(self.name)",message="name is required for webhook, pipeline, image, maven and machineImage triggers",fieldPath=".name"
type Trigger struct {
	// Name of the trigger, unique in the pipeline: the last part of a webhook trigger's URL, and part of
	// the names of the runs it starts.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Name string `json:"name,omitempty"`
	// Cron starts an Execution at each time of a schedule.
	// +optional
	Cron *CronTrigger `json:"cron,omitempty"`
	// Webhook starts an Execution when a signed call reaches the manager's trigger endpoint.
	// +optional
	Webhook *WebhookTrigger `json:"webhook,omitempty"`
	// Pipeline starts an Execution when a run of another pipeline finishes.
	// +optional
	Pipeline *PipelineTrigger `json:"pipeline,omitempty"`
	// Image starts an Execution when a new matching tag appears in a container repository.
	// +optional
	Image *ImageTrigger `json:"image,omitempty"`
	// Maven starts an Execution when a new version of a Jar appears in a Maven repository.
	// +optional
	Maven *MavenTrigger `json:"maven,omitempty"`
	// MachineImage starts an Execution when a new machine image (an AWS AMI, a GCP image, an Azure gallery
	// image version) appears in a cloud account.
	// +optional
	MachineImage *MachineImageTrigger `json:"machineImage,omitempty"`
	// Parameters of the Executions this trigger starts; values may be templates over trigger, such as
	// "${ trigger.artifact.reference }" or, for a webhook, "${ trigger.payload.version }".
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
}

// OnFailure says what a stage's failure does to the rest of the pipeline (Spinnaker's failPipeline,
// continuePipeline, completeOtherBranchesThenFail).
// +kubebuilder:validation:Enum=Fail;Continue;FailAfterBranches
type OnFailure string

const (
	// OnFailureFail fails the pipeline at once: running stages are stopped, nothing new starts.
	OnFailureFail OnFailure = "Fail"
	// OnFailureContinue marks the stage FailedContinue, and stages that depend on it still run.
	OnFailureContinue OnFailure = "Continue"
	// OnFailureFailAfterBranches lets the other branches run to their end, then fails the pipeline.
	OnFailureFailAfterBranches OnFailure = "FailAfterBranches"
)

// Weekday is a day of the week, in three letters.
// +kubebuilder:validation:Enum=Mon;Tue;Wed;Thu;Fri;Sat;Sun
type Weekday string

// ClockTime is a time of day, HH:MM on a 24-hour clock.
// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
type ClockTime string

// Window is an execution window: the stage waits in NotStarted until the window is open.
type Window struct {
	// Days the window is open on; empty means every day.
	// +kubebuilder:validation:MaxItems=7
	// +listType=set
	// +optional
	Days []Weekday `json:"days,omitempty"`
	// From is the time of day the window opens.
	From ClockTime `json:"from"`
	// To is the time of day the window closes. A To before From spans midnight.
	To ClockTime `json:"to"`
	// TimeZone the times are read in, an IANA name such as Europe/Paris. Empty means UTC.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
}

// WaitStage waits for a while.
type WaitStage struct {
	// Duration to wait.
	Duration Duration `json:"duration"`
}

// Approvers limits who may decide a manual judgment. Empty means anyone who may patch the Execution.
type Approvers struct {
	// Users who may decide, as the API server names them.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	Users []string `json:"users,omitempty"`
	// Groups whose members may decide.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	Groups []string `json:"groups,omitempty"`
}

// ManualJudgmentStage waits for a person to decide, by patching the Execution's spec.judgments.
type ManualJudgmentStage struct {
	// Instructions shown to the people who decide.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Instructions string `json:"instructions,omitempty"`
	// Inputs, if set, are the choices a decision may carry as its input; later stages read it as
	// stages['<name>'].outputs.input.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	Inputs []string `json:"inputs,omitempty"`
	// Approvers, if set, are the only people who may decide.
	// +optional
	Approvers *Approvers `json:"approvers,omitempty"`
}

// CheckPreconditionsStage fails unless every expression holds.
type CheckPreconditionsStage struct {
	// Expressions in CEL over parameters, stages, trigger and execution; each must be true.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=4096
	Expressions []string `json:"expressions"`
}

// Strategy is how a deploy replaces the cluster's older server groups.
// +kubebuilder:validation:Enum=RedBlack;Highlander;None
type Strategy string

const (
	// StrategyRedBlack brings the new group up beside the old, moves traffic, then disables the old ones.
	StrategyRedBlack Strategy = "RedBlack"
	// StrategyHighlander destroys every older group once the new one is healthy.
	StrategyHighlander Strategy = "Highlander"
	// StrategyNone adds the new group and leaves the others alone.
	StrategyNone Strategy = "None"
)

// RedBlack tunes the red/black strategy.
type RedBlack struct {
	// MaxRemainingServerGroups is how many server groups of the cluster, the new one included, are kept;
	// the oldest beyond are destroyed.
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	MaxRemainingServerGroups int32 `json:"maxRemainingServerGroups,omitempty"`
	// DelayBeforeDisable is the time between enabling the new group's traffic and disabling the older ones'.
	// +kubebuilder:default="0s"
	// +optional
	DelayBeforeDisable Duration `json:"delayBeforeDisable,omitempty"`
	// ScaleDown scales the disabled older groups to zero.
	// +kubebuilder:default=true
	// +optional
	ScaleDown *bool `json:"scaleDown,omitempty"`
	// DelayBeforeScaleDown is the time between disabling the older groups and scaling them down.
	// +kubebuilder:default="5m"
	// +optional
	DelayBeforeScaleDown Duration `json:"delayBeforeScaleDown,omitempty"`
	// RollbackOnFailure puts traffic back on the previous group, and disables the new one, when the deploy
	// fails.
	// +kubebuilder:default=true
	// +optional
	RollbackOnFailure *bool `json:"rollbackOnFailure,omitempty"`
}

// DeployTarget is one cluster to deploy, in one account and region.
// +kubebuilder:validation:XValidation:rule="has(self.redBlack) ? self.strategy == 'RedBlack' : true",message="redBlack may only be set when strategy is RedBlack",fieldPath=".redBlack"
type DeployTarget struct {
	// Account is the CloudAccount to deploy to.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	Account string `json:"account"`
	// Region to deploy to.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+(-[a-z0-9]+)*$`
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region"`
	// Stack is the second part of the cluster name.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]*$`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Stack string `json:"stack,omitempty"`
	// Detail is the last part of the cluster name.
	// +kubebuilder:validation:Pattern=`^([a-z0-9]+(-[a-z0-9]+)*)?$`
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Detail string `json:"detail,omitempty"`
	// Zones restricts the new group to these zones of the region.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=64
	// +listType=set
	// +optional
	Zones []string `json:"zones,omitempty"`
	// Capacity of the new server group.
	Capacity Capacity `json:"capacity"`
	// Strategy for the cluster's older server groups.
	// +kubebuilder:default=RedBlack
	// +optional
	Strategy Strategy `json:"strategy,omitempty"`
	// RedBlack tunes the RedBlack strategy; defaults apply when it is absent.
	// +optional
	RedBlack *RedBlack `json:"redBlack,omitempty"`

	// The cloud block, as in ServerGroup.spec; strings may use ${ parameters.image }.
	CloudServerGroup `json:",inline"`
}

// DeployStage creates a new server group in each target cluster, in parallel.
type DeployStage struct {
	// Clusters to deploy; several make a multi-account, multi-region or multi-cloud deploy.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Clusters []DeployTarget `json:"clusters"`
}

// TargetSelector picks a server group of a cluster by age.
// +kubebuilder:validation:Enum=Newest;Previous;Oldest
type TargetSelector string

// The server groups a cluster target can pick.
const (
	TargetNewest   TargetSelector = "Newest"
	TargetPrevious TargetSelector = "Previous"
	TargetOldest   TargetSelector = "Oldest"
)

// ServerGroupTarget picks one server group in this namespace: by name, or as the newest, previous or
// oldest of a cluster in an account and region.
// +kubebuilder:validation:XValidation:rule="has(self.serverGroup) != has(self.cluster)",message="exactly one of serverGroup or cluster must be set"
// +kubebuilder:validation:XValidation:rule="has(self.cluster) == has(self.target)",message="target (Newest, Previous or Oldest) is required with cluster, and only with it",fieldPath=".target"
// +kubebuilder:validation:XValidation:rule="!has(self.cluster) || (has(self.account) && has(self.region))",message="account and region are required with cluster",fieldPath=".cluster"
type ServerGroupTarget struct {
	// ServerGroup is the name of a ServerGroup in the Execution's namespace.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServerGroup string `json:"serverGroup,omitempty"`
	// Cluster is app-stack-detail; with account, region and target it picks one of the cluster's groups.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+(-[a-z0-9]*(-[a-z0-9]+)*)?$`
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Cluster string `json:"cluster,omitempty"`
	// Account of the cluster.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Account string `json:"account,omitempty"`
	// Region of the cluster.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Region string `json:"region,omitempty"`
	// Target picks the Newest, Previous (second newest) or Oldest server group of the cluster.
	// +optional
	Target TargetSelector `json:"target,omitempty"`
}

// DisableServerGroupStage takes one server group's traffic off.
type DisableServerGroupStage struct {
	ServerGroupTarget `json:",inline"`
	// AllowLastEnabled lets the stage disable the only server group of its cluster that takes traffic;
	// without it, the stage fails rather than leave the cluster with nothing serving (Spinnaker's guard).
	// +optional
	AllowLastEnabled bool `json:"allowLastEnabled,omitempty"`
}

// DestroyServerGroupStage deletes one server group and its cloud resource.
type DestroyServerGroupStage struct {
	ServerGroupTarget `json:",inline"`
	// AllowLastEnabled lets the stage destroy the only server group of its cluster that takes traffic;
	// without it, the stage fails rather than leave the cluster with nothing serving (Spinnaker's guard).
	// +optional
	AllowLastEnabled bool `json:"allowLastEnabled,omitempty"`
}

// ResizeServerGroupStage resizes one server group.
type ResizeServerGroupStage struct {
	ServerGroupTarget `json:",inline"`
	// Capacity to resize to.
	Capacity Capacity `json:"capacity"`
}

// RollbackClusterStage puts traffic back on a cluster's previous server group and disables the newest.
type RollbackClusterStage struct {
	// Account of the cluster.
	// +kubebuilder:validation:MaxLength=253
	Account string `json:"account"`
	// Region of the cluster.
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region"`
	// Cluster is app-stack-detail.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+(-[a-z0-9]*(-[a-z0-9]+)*)?$`
	// +kubebuilder:validation:MaxLength=128
	Cluster string `json:"cluster"`
}

// HTTPMethod of a webhook call.
// +kubebuilder:validation:Enum=GET;POST;PUT;PATCH;DELETE
type HTTPMethod string

// WebhookCompletion polls a status URL after the call until an expression says it is done.
type WebhookCompletion struct {
	// StatusURL is polled with GET; may use ${ ... } expressions, including the call's response.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	StatusURL string `json:"statusURL"`
	// SuccessExpression is CEL over the polled response (response.status, response.body); true = done.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	SuccessExpression string `json:"successExpression"`
	// FailureExpression, if set, is CEL over the polled response; true fails the stage.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	FailureExpression string `json:"failureExpression,omitempty"`
	// PollInterval between two polls.
	// +kubebuilder:default="10s"
	// +optional
	PollInterval Duration `json:"pollInterval,omitempty"`
}

// SecretKeySelector names a key of a Secret in the Execution's namespace.
type SecretKeySelector struct {
	// Name of the Secret.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in the Secret's data.
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// HeaderValueSource says where a header's value comes from.
type HeaderValueSource struct {
	// SecretKeyRef is a key of a Secret in the Execution's namespace; its value is the header's, as is.
	SecretKeyRef SecretKeySelector `json:"secretKeyRef"`
}

// WebhookHeaderSource is a webhook header whose value comes from a Secret.
type WebhookHeaderSource struct {
	// Name of the header, such as Authorization.
	// +kubebuilder:validation:Pattern=`^[-!#$%&'*+.^_|~0-9A-Za-z]+$`
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`
	// ValueFrom is where the value is read from.
	ValueFrom HeaderValueSource `json:"valueFrom"`
}

// WebhookStage makes an HTTP call; its response fields become the stage's outputs.
type WebhookStage struct {
	// URL to call; may use ${ ... } expressions.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	URL string `json:"url"`
	// Method of the call.
	// +kubebuilder:default=POST
	// +optional
	Method HTTPMethod `json:"method,omitempty"`
	// Headers of the call; values may use ${ ... } expressions.
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	Headers map[string]string `json:"headers,omitempty"`
	// HeadersFrom are headers whose values are read from Secrets of the Execution's namespace when the call
	// is made, such as a bearer token. Their values never appear in status, Events or logs. A header named
	// both here and in headers takes the value from here. Polls send them only to the call's own scheme,
	// host and port, so a status URL the remote chooses cannot take them elsewhere.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	HeadersFrom []WebhookHeaderSource `json:"headersFrom,omitempty"`
	// Body of the call; may use ${ ... } expressions. With a JSON content type (the default when a body is
	// given), each value is inserted JSON-escaped: inside a JSON string as string content, elsewhere as a
	// JSON value. In url and statusURL, values in the path, query or fragment are URL-escaped (a whole . or
	// .. segment included); a value that starts the URL is taken as it is, and one elsewhere before the
	// path may not hold characters that would change the host.
	// +kubebuilder:validation:MaxLength=65536
	// +optional
	Body string `json:"body,omitempty"`
	// KeepBody says whether the response bodies (the call's and the last poll's) are kept in the stage's
	// outputs body and pollBody; false keeps only their status and headers.
	// +kubebuilder:default=true
	// +optional
	KeepBody *bool `json:"keepBody,omitempty"`
	// MaxBodyBytes bounds the response bodies read: a longer one is left out of the outputs and of the
	// expressions (waitForCompletion's successExpression and failureExpression), and the stage says so.
	// +kubebuilder:default=32768
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=262144
	// +optional
	MaxBodyBytes *int32 `json:"maxBodyBytes,omitempty"`
	// SuccessStatuses are the HTTP statuses that count as success; empty means any 2xx.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Minimum=100
	// +kubebuilder:validation:items:Maximum=599
	// +listType=set
	// +optional
	SuccessStatuses []int32 `json:"successStatuses,omitempty"`
	// WaitForCompletion, if set, polls a status URL after the call.
	// +optional
	WaitForCompletion *WebhookCompletion `json:"waitForCompletion,omitempty"`
}

// PipelineStage runs another pipeline of the same namespace as a child Execution.
type PipelineStage struct {
	// Name of the Pipeline to run.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Parameters of the child Execution; values may use ${ ... } expressions.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
	// Wait for the child to finish and take its outcome; false only starts it.
	// +kubebuilder:default=true
	// +optional
	Wait *bool `json:"wait,omitempty"`
}

// StageType is the work of a stage. Exactly one field is set; its JSON name is the stage's type.
type StageType struct {
	// Wait waits for a duration.
	// +optional
	Wait *WaitStage `json:"wait,omitempty"`
	// ManualJudgment waits for a person's decision.
	// +optional
	ManualJudgment *ManualJudgmentStage `json:"manualJudgment,omitempty"`
	// CheckPreconditions fails unless its expressions hold.
	// +optional
	CheckPreconditions *CheckPreconditionsStage `json:"checkPreconditions,omitempty"`
	// Deploy creates new server groups.
	// +optional
	Deploy *DeployStage `json:"deploy,omitempty"`
	// EnableServerGroup puts a server group's traffic on.
	// +optional
	EnableServerGroup *ServerGroupTarget `json:"enableServerGroup,omitempty"`
	// DisableServerGroup takes a server group's traffic off.
	// +optional
	DisableServerGroup *DisableServerGroupStage `json:"disableServerGroup,omitempty"`
	// ResizeServerGroup changes a server group's capacity.
	// +optional
	ResizeServerGroup *ResizeServerGroupStage `json:"resizeServerGroup,omitempty"`
	// DestroyServerGroup deletes a server group and its cloud resource.
	// +optional
	DestroyServerGroup *DestroyServerGroupStage `json:"destroyServerGroup,omitempty"`
	// RollbackCluster moves traffic back to a cluster's previous server group.
	// +optional
	RollbackCluster *RollbackClusterStage `json:"rollbackCluster,omitempty"`
	// Webhook makes an HTTP call.
	// +optional
	Webhook *WebhookStage `json:"webhook,omitempty"`
	// Pipeline runs another pipeline.
	// +optional
	Pipeline *PipelineStage `json:"pipeline,omitempty"`
}

// Stage is one node of a pipeline's graph.
// +kubebuilder:validation:XValidation:rule="[has(self.wait), has(self.manualJudgment), has(self.checkPreconditions), has(self.deploy), has(self.enableServerGroup), has(self.disableServerGroup), has(self.resizeServerGroup), has(self.destroyServerGroup), has(self.rollbackCluster), has(self.webhook), has(self.pipeline)].filter(x, x).size() == 1",message="exactly one stage type must be set: wait, manualJudgment, checkPreconditions, deploy, enableServerGroup, disableServerGroup, resizeServerGroup, destroyServerGroup, rollbackCluster, webhook or pipeline"
// +kubebuilder:validation:XValidation:rule="!has(self.dependsOn) || !(self.name in self.dependsOn)",message="a stage cannot depend on itself",fieldPath=".dependsOn"
type Stage struct {
	// Name is the stage's ID, unique in the pipeline: a DNS-1123 label (lowercase letters, digits, inner
	// hyphens).
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// DependsOn are the stages that must finish successfully (Succeeded, Skipped or FailedContinue) before
	// this one starts. Stages without dependsOn start at once; stages whose dependencies are met run in
	// parallel.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`
	// When is a CEL expression over parameters, stages, trigger and execution; false skips the stage.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	When string `json:"when,omitempty"`
	// Timeout fails the stage when it runs longer (a red/black deploy then rolls back). A deploy stage
	// without one times out after 2h, waiting for its clusters included, so that a group that never becomes
	// healthy is always rolled back; other stages have none unless set.
	// +optional
	Timeout Duration `json:"timeout,omitempty"`
	// OnFailure is what the stage's failure does to the pipeline.
	// +kubebuilder:default=Fail
	// +optional
	OnFailure OnFailure `json:"onFailure,omitempty"`
	// Window holds the stage until its execution window is open.
	// +optional
	Window *Window `json:"window,omitempty"`

	StageType `json:",inline"`
}

// PipelineSpec is a release process: parameters, triggers and a graph of stages. The dependsOn rule's
// message cannot name the stage at fault (a messageExpression that finds it costs more than the API server
// allows); the Pipeline's Ready condition names it.
// +kubebuilder:validation:XValidation:rule="self.stages.all(s, !has(s.dependsOn) || s.dependsOn.all(d, self.stages.exists(t, t.name == d)))",message="every dependsOn must name a stage of this pipeline",fieldPath=".stages"
type PipelineSpec struct {
	// Application the pipeline releases.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+$`
	// +kubebuilder:validation:MaxLength=32
	Application string `json:"application"`
	// Parameters are the inputs of each run.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	Parameters []Parameter `json:"parameters,omitempty"`
	// LimitConcurrent allows at most one Running Execution; the others wait in Queued, in creation order.
	// +kubebuilder:default=true
	// +optional
	LimitConcurrent *bool `json:"limitConcurrent,omitempty"`
	// HistoryLimit is how many finished Executions are kept; the oldest are deleted first.
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	HistoryLimit *int32 `json:"historyLimit,omitempty"`
	// Triggers start Executions by themselves.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Triggers []Trigger `json:"triggers,omitempty"`
	// Stages are the graph, linked by dependsOn.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	Stages []Stage `json:"stages"`
}

// LastRun points at a pipeline's most recent Execution.
type LastRun struct {
	// Execution is the name of the Execution.
	Execution string `json:"execution"`
	// StartTime is when it was created.
	StartTime metav1.Time `json:"startTime"`
	// Phase it was last seen in.
	// +optional
	Phase ExecutionPhase `json:"phase,omitempty"`
}

// TriggerStatus is what the controller keeps of one trigger, so that each due time, new image or finished
// run starts at most one Execution, across controller restarts.
type TriggerStatus struct {
	// Index of the trigger in spec.triggers.
	Index int32 `json:"index"`
	// Schedule of the trigger when its times below were computed. A trigger whose schedule or time zone
	// changes starts afresh, as a new trigger does. Empty for the other trigger types.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Schedule string `json:"schedule,omitempty"`
	// TimeZone of the trigger when its times below were computed; empty means UTC.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
	// LastScheduleTime is the latest time the trigger has been handled up to: no due time at or before it
	// starts an Execution any more. It is the due time of the last Execution the trigger started, or the
	// moment the controller first saw the trigger (a new trigger does not fire for earlier times), or the
	// moment it skipped due times missed by more than the starting deadline.
	// +optional
	LastScheduleTime metav1.Time `json:"lastScheduleTime,omitzero"`
	// NextScheduleTime is the next due time, when the trigger will start an Execution.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
	// Name of the trigger, for the non-cron types.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Name string `json:"name,omitempty"`
	// Image is what an image trigger last saw.
	// +optional
	Image *ImageTriggerStatus `json:"image,omitempty"`
	// Pipeline is how far a pipeline trigger has handled the watched pipeline's runs.
	// +optional
	Pipeline *PipelineTriggerStatus `json:"pipeline,omitempty"`
	// Maven is what a maven trigger last saw.
	// +optional
	Maven *PolledArtifactStatus `json:"maven,omitempty"`
	// MachineImage is what a machineImage trigger last saw.
	// +optional
	MachineImage *PolledArtifactStatus `json:"machineImage,omitempty"`
	// Webhook is what a webhook trigger keeps of the calls whose runs were deleted.
	// +optional
	Webhook *WebhookTriggerStatus `json:"webhook,omitempty"`
}

// PipelineStatus is the observed state of a Pipeline.
type PipelineStatus struct {
	Status `json:",inline"`

	// StageCount is the number of stages, for the printer column.
	// +optional
	StageCount int32 `json:"stageCount,omitempty"`
	// LastRun is the most recently created Execution of the pipeline, however it was started.
	// +optional
	LastRun *LastRun `json:"lastRun,omitempty"`
	// Triggers are the triggers' schedule times and what they last saw, one entry per trigger of spec.triggers. An invalid
	// pipeline keeps only its webhook triggers' entries: its triggers do not fire, and the others start
	// afresh once it is valid again.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=index
	// +optional
	Triggers []TriggerStatus `json:"triggers,omitempty"`
}

// Pipeline is a team's release process: parameters, triggers and a graph of stages that each run starts
// from. Ready is True when the pipeline passed the checks the schema cannot make.
// +kubebuilder:validation:XValidation:rule="self.spec.stages.all(s, !has(s.pipeline) || s.pipeline.name != self.metadata.name)",message="a pipeline stage cannot run its own pipeline",fieldPath=".spec.stages"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pl,categories=gennaker
// +kubebuilder:printcolumn:name="Stages",type=integer,JSONPath=`.status.stageCount`
// +kubebuilder:printcolumn:name="Last-Run",type=date,JSONPath=`.status.lastRun.startTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Pipeline struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the release process.
	Spec PipelineSpec `json:"spec"`
	// Status is what the controller observed of it.
	// +optional
	Status PipelineStatus `json:"status,omitempty"`
}

// GetStatus returns the conventional part of the status.
func (p *Pipeline) GetStatus() *Status { return &p.Status.Status }

// PipelineList is a list of Pipelines.
// +kubebuilder:object:root=true
type PipelineList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Pipeline `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Pipeline{}, &PipelineList{})
}
