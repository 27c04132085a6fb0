package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LabelCluster is set on every ServerGroup to its cluster name, app-stack-detail: the ServerGroups that
// share it in one account and region form a cluster (Spinnaker's term), which red/black moves traffic within.
const LabelCluster = "delivery.gennaker.io/cluster"

// Labels and annotations the deploy stages put on the ServerGroups they make or change.
const (
	// LabelDeploy identifies the ServerGroup one deploy stage made for one of its clusters (a hash of the
	// Execution's UID, the stage and the cluster's index), so a restart finds it instead of making another.
	LabelDeploy = "delivery.gennaker.io/deploy"
	// AnnotationExecution names the Execution whose stage last changed the ServerGroup; a change of the
	// group's status wakes that Execution.
	AnnotationExecution = "delivery.gennaker.io/execution"
	// AnnotationScaledDownFrom holds the capacity (JSON) a red/black scaled the group down from, so a
	// rollback can restore it.
	AnnotationScaledDownFrom = "delivery.gennaker.io/scaled-down-from"
	// AnnotationAdopt, set to the ServerGroup's own name, lets it take over a cloud group of that name
	// that it did not create: one with no Gennaker owner tags, or whose tags name this same namespace and
	// name (a ServerGroup deleted with deletionPolicy Orphan, now applied again). The group's owner tags
	// are then rewritten to this ServerGroup, and status.adoptedAt records when. Without it, a cloud
	// group of the same name is never touched: Ready=False, reason NotOwned. A group whose tags name
	// another ServerGroup is never adopted.
	AnnotationAdopt = "delivery.gennaker.io/adopt"
)

// ServerGroup condition reasons. Ready=False with one of the first three needs a person: a stage waiting
// on the group fails. The others pass without one.
const (
	// ReasonAccountNotFound: spec.account names no CloudAccount.
	ReasonAccountNotFound = "AccountNotFound"
	// ReasonAccountNotAllowed: the account's allowedNamespaces do not include the group's namespace.
	ReasonAccountNotAllowed = "AccountNotAllowed"
	// ReasonInvalidRequest: the cloud refused the group as specified.
	ReasonInvalidRequest = "InvalidRequest"
	// ReasonNotOwned: a cloud group of this name exists and its owner tags do not name this ServerGroup;
	// nothing is changed. The message names the owner the tags show. See AnnotationAdopt.
	ReasonNotOwned = "NotOwned"
	// ReasonCreating, ReasonUpdating and ReasonDeleting: the cloud is being changed to match the spec.
	ReasonCreating = "Creating"
	ReasonUpdating = "Updating"
	ReasonDeleting = "Deleting"
	// ReasonAvailable: the cloud matches the spec.
	ReasonAvailable = "Available"
)

// ServerGroup condition types, besides Ready.
const (
	// ConditionHealthy is True when as many instances pass the load balancer's health checks as are desired.
	ConditionHealthy = "Healthy"
	// ConditionTrafficEnabled is True when the group is in its load balancers and takes traffic.
	ConditionTrafficEnabled = "TrafficEnabled"
)

// DeletionPolicy says what deleting a ServerGroup does to its cloud group.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

// Deletion policies.
const (
	// DeletionDelete deletes the cloud group, its instances and what the operator made for it (a launch
	// template) before the ServerGroup goes.
	DeletionDelete DeletionPolicy = "Delete"
	// DeletionOrphan leaves the cloud group as it is, owner tags included, and lets the ServerGroup go
	// without a cloud call: a `kubectl delete namespace` or a GitOps prune then touches no instance. A
	// ServerGroup of the same namespace and name can take the group back with AnnotationAdopt.
	DeletionOrphan DeletionPolicy = "Orphan"
)

// DesiredDrift says what the operator does when the cloud's desired capacity moves away from the spec's
// (a scaling policy, a person in the console).
// +kubebuilder:validation:Enum=Tolerate;Correct
type DesiredDrift string

// Desired capacity drift policies.
const (
	// DriftTolerate leaves a desired capacity changed in the cloud alone while it stays within the spec's
	// min and max: the spec's capacity is set when the group is made and whenever the spec's capacity
	// changes, and not in between, so scaling policies work.
	DriftTolerate DesiredDrift = "Tolerate"
	// DriftCorrect sets the spec's desired capacity again whenever the cloud's differs.
	DriftCorrect DesiredDrift = "Correct"
)

// Traffic says whether a server group is in its load balancers.
// +kubebuilder:validation:Enum=Enabled;Disabled
type Traffic string

// Traffic states.
const (
	TrafficEnabled  Traffic = "Enabled"
	TrafficDisabled Traffic = "Disabled"
)

// LaunchTemplate names an EC2 launch template and a version of it.
type LaunchTemplate struct {
	// Name of the launch template.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`
	// Version of the launch template: a number, $Latest or $Default. An alias is resolved to its number
	// once, when the group is made, and the group keeps that number (status.aws.launchTemplate): a later
	// version of the template never reaches a group made before it.
	// +kubebuilder:default="$Latest"
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Version string `json:"version,omitempty"`
}

// AWSServerGroup is an Auto Scaling group built from a launch template. With imageID (and instanceType)
// and no launchTemplate, a launch template is made for this server group; with launchTemplate and imageID
// or instanceType, a launch template is made for this server group from that template's version, carrying
// them (the operator never adds versions to a template it did not make). Either is deleted with the group.
// In a Pipeline's deploy stage, the strings may hold ${ ... } expressions, resolved when the stage starts.
type AWSServerGroup struct {
	// LaunchTemplate the group launches instances from.
	// +optional
	LaunchTemplate *LaunchTemplate `json:"launchTemplate,omitempty"`
	// ImageID is the AMI of the new instances, such as ami-0abc1234.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ImageID string `json:"imageID,omitempty"`
	// InstanceType of the new instances, such as m7g.large.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	InstanceType string `json:"instanceType,omitempty"`
	// TargetGroupARNs are the load balancer target groups the group is attached to when traffic is Enabled.
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=2048
	// +listType=set
	// +optional
	TargetGroupARNs []string `json:"targetGroupARNs,omitempty"`
	// SubnetIDs the instances are launched in.
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	SubnetIDs []string `json:"subnetIDs,omitempty"`
}

// GCPServerGroup is a (regional) managed instance group built from an instance template.
type GCPServerGroup struct {
	// InstanceTemplate the group is built from: a name or a URL.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	InstanceTemplate string `json:"instanceTemplate,omitempty"`
	// Image of the new instances: a name, a family or a URL.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Image string `json:"image,omitempty"`
	// MachineType of the new instances, such as e2-standard-2.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	MachineType string `json:"machineType,omitempty"`
	// BackendServices the group is a backend of when traffic is Enabled.
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=2048
	// +listType=set
	// +optional
	BackendServices []string `json:"backendServices,omitempty"`
	// Network of the instances.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Network string `json:"network,omitempty"`
	// Subnetwork of the instances.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Subnetwork string `json:"subnetwork,omitempty"`
}

// AzureServerGroup is a VM scale set.
type AzureServerGroup struct {
	// ImageID is the resource ID of the image of the new instances.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	ImageID string `json:"imageID,omitempty"`
	// VMSize of the new instances, such as Standard_D2s_v5.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	VMSize string `json:"vmSize,omitempty"`
	// BackendAddressPoolIDs are the load balancer backend pools the instances' NIC IP configurations carry
	// when traffic is Enabled.
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=2048
	// +listType=set
	// +optional
	BackendAddressPoolIDs []string `json:"backendAddressPoolIDs,omitempty"`
	// SubnetID is the resource ID of the instances' subnet.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	SubnetID string `json:"subnetID,omitempty"`
}

// CloudServerGroup holds the one cloud-specific block of a server group; the account's provider decides
// which one is used.
// +kubebuilder:validation:XValidation:rule="[has(self.aws), has(self.gcp), has(self.azure)].filter(x, x).size() == 1",message="exactly one of aws, gcp or azure must be set"
type CloudServerGroup struct {
	// AWS settings, for an aws account.
	// +optional
	AWS *AWSServerGroup `json:"aws,omitempty"`
	// GCP settings, for a gcp account.
	// +optional
	GCP *GCPServerGroup `json:"gcp,omitempty"`
	// Azure settings, for an azure account.
	// +optional
	Azure *AzureServerGroup `json:"azure,omitempty"`
}

// ServerGroupSpec is one versioned group of identical instances behind a load balancer. The name parts,
// account and region place it in its cluster and cannot change; the field rules catch a changed value, the
// two below a stack or detail added or removed. What its instances are built from (image, instance type,
// template) cannot change either: a new version is a new server group. Capacity, traffic, target groups
// and subnets can.
// +kubebuilder:validation:XValidation:rule="has(self.stack) == has(oldSelf.stack)",message="stack is immutable",fieldPath=".stack"
// +kubebuilder:validation:XValidation:rule="has(self.detail) == has(oldSelf.detail)",message="detail is immutable",fieldPath=".detail"
// +kubebuilder:validation:XValidation:rule="has(self.aws) == has(oldSelf.aws) && has(self.gcp) == has(oldSelf.gcp) && has(self.azure) == has(oldSelf.azure)",message="the cloud block (aws, gcp or azure) cannot be swapped for another"
// +kubebuilder:validation:XValidation:rule="!has(self.aws) || !has(oldSelf.aws) || (has(self.aws.imageID) == has(oldSelf.aws.imageID) && (!has(self.aws.imageID) || self.aws.imageID == oldSelf.aws.imageID) && has(self.aws.instanceType) == has(oldSelf.aws.instanceType) && (!has(self.aws.instanceType) || self.aws.instanceType == oldSelf.aws.instanceType) && has(self.aws.launchTemplate) == has(oldSelf.aws.launchTemplate) && (!has(self.aws.launchTemplate) || self.aws.launchTemplate == oldSelf.aws.launchTemplate))",message="imageID, instanceType and launchTemplate are immutable: a server group is one version of the cluster, deploy a new one to change them",fieldPath=".aws"
// +kubebuilder:validation:XValidation:rule="!has(self.gcp) || !has(oldSelf.gcp) || (has(self.gcp.image) == has(oldSelf.gcp.image) && (!has(self.gcp.image) || self.gcp.image == oldSelf.gcp.image) && has(self.gcp.machineType) == has(oldSelf.gcp.machineType) && (!has(self.gcp.machineType) || self.gcp.machineType == oldSelf.gcp.machineType) && has(self.gcp.instanceTemplate) == has(oldSelf.gcp.instanceTemplate) && (!has(self.gcp.instanceTemplate) || self.gcp.instanceTemplate == oldSelf.gcp.instanceTemplate))",message="image, machineType and instanceTemplate are immutable: a server group is one version of the cluster, deploy a new one to change them",fieldPath=".gcp"
// +kubebuilder:validation:XValidation:rule="!has(self.gcp) || (has(self.zones) == has(oldSelf.zones) && (!has(self.zones) || self.zones == oldSelf.zones))",message="zones is immutable for a gcp server group: one zone makes a zonal managed instance group, more or none a regional one, so a change would be another group; deploy a new one",fieldPath=".zones"
// +kubebuilder:validation:XValidation:rule="!has(self.azure) || !has(oldSelf.azure) || (has(self.azure.imageID) == has(oldSelf.azure.imageID) && (!has(self.azure.imageID) || self.azure.imageID == oldSelf.azure.imageID) && has(self.azure.vmSize) == has(oldSelf.azure.vmSize) && (!has(self.azure.vmSize) || self.azure.vmSize == oldSelf.azure.vmSize))",message="imageID and vmSize are immutable: a server group is one version of the cluster, deploy a new one to change them",fieldPath=".azure"
type ServerGroupSpec struct {
	// Application the group belongs to: lowercase letters and digits (Frigga's naming; no hyphens, which
	// separate the name's parts).
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="application is immutable"
	Application string `json:"application"`
	// Stack is the optional second part of the cluster name, such as main or canary: lowercase letters and
	// digits.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]*$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="stack is immutable"
	// +optional
	Stack string `json:"stack,omitempty"`
	// Detail is the optional free-form last part of the cluster name: lowercase letters, digits and inner
	// hyphens.
	// +kubebuilder:validation:Pattern=`^([a-z0-9]+(-[a-z0-9]+)*)?$`
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="detail is immutable"
	// +optional
	Detail string `json:"detail,omitempty"`
	// Account is the CloudAccount the group lives in. This namespace must be among its allowedNamespaces.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="account is immutable"
	Account string `json:"account"`
	// Region of the group, such as us-east-1, europe-west1 or westeurope.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+(-[a-z0-9]+)*$`
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="region is immutable"
	Region string `json:"region"`
	// Zones restricts the group to these zones of the region; empty means all.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]+(-[a-z0-9]+)*$`
	// +kubebuilder:validation:items:MaxLength=64
	// +listType=set
	// +optional
	Zones []string `json:"zones,omitempty"`
	// Capacity of the group: min <= desired <= max.
	Capacity Capacity `json:"capacity"`
	// Traffic is the desired state: Enabled puts the group in its load balancers, Disabled takes it out.
	// +kubebuilder:default=Enabled
	// +optional
	Traffic Traffic `json:"traffic,omitempty"`
	// DesiredDrift says what happens when the cloud's desired capacity differs from capacity.desired:
	// Tolerate (the default) leaves it while it is within min and max, so scaling policies work; Correct
	// sets it back. Either way the spec's capacity is applied when it changes, and status.instances.desired
	// is the cloud's figure.
	// +kubebuilder:default=Tolerate
	// +optional
	DesiredDrift DesiredDrift `json:"desiredDrift,omitempty"`
	// DeletionPolicy says what deleting the ServerGroup does to the cloud group: Delete (the default) deletes
	// it, Orphan leaves it.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	CloudServerGroup `json:",inline"`
}

// Instances counts a server group's instances. The counts are optional in the schema, and always
// written: a status patch carries only the counts that changed, and an absent count is 0.
type Instances struct {
	// Desired is the capacity the cloud reports as desired.
	// +optional
	Desired int32 `json:"desired"`
	// Running instances are in service, whatever their health.
	// +optional
	Running int32 `json:"running"`
	// Healthy instances pass the load balancer's health checks when the group takes traffic, and the
	// cloud's own instance health checks when it does not.
	// +optional
	Healthy int32 `json:"healthy"`
}

// AWSServerGroupStatus is what the operator keeps of an Auto Scaling group.
type AWSServerGroupStatus struct {
	// LaunchTemplate is the launch template and version number the group launches from, pinned when it
	// was made; a group made again (deleted behind the operator's back) uses the same.
	// +optional
	LaunchTemplate *LaunchTemplate `json:"launchTemplate,omitempty"`
}

// CloudServerGroupStatus is the cloud-specific part of a server group's status.
type CloudServerGroupStatus struct {
	// AWS is set for a group in an aws account.
	// +optional
	AWS *AWSServerGroupStatus `json:"aws,omitempty"`
	// GCP is set for a group in a gcp account.
	// +optional
	GCP *GCPServerGroupStatus `json:"gcp,omitempty"`
	// Azure is set for a group in an azure account.
	// +optional
	Azure *AzureServerGroupStatus `json:"azure,omitempty"`
}

// The cloud calls that can start a long-running operation.
const (
	OperationCreate         = "Create"
	OperationAdopt          = "Adopt"
	OperationUpdateCapacity = "UpdateCapacity"
	OperationSetTraffic     = "SetTraffic"
	OperationDelete         = "Delete"
)

// CloudOperation is a long-running cloud operation the operator started for a server group and has not
// yet seen end. It is kept in status, never waited on: each reconcile checks it once, and a restarted
// manager carries on from it instead of making the call again.
type CloudOperation struct {
	// Action is the call that started it: Create, Adopt, UpdateCapacity, SetTraffic or Delete.
	// +kubebuilder:validation:Enum=Create;Adopt;UpdateCapacity;SetTraffic;Delete
	Action string `json:"action"`
	// ID finds the operation again: a GCP operation's URL, an Azure poller's resume token.
	// +kubebuilder:validation:MaxLength=8192
	ID string `json:"id"`
	// StartedAt is when the operator started it.
	StartedAt metav1.Time `json:"startedAt"`
}

// ServerGroupStatus is the observed state of a ServerGroup.
type ServerGroupStatus struct {
	Status `json:",inline"`

	// ProviderID is the cloud's ID of the group: an ARN, a selfLink or a resource ID.
	// +optional
	ProviderID string `json:"providerID,omitempty"`
	// Instances counts the group's instances.
	// +optional
	Instances Instances `json:"instances,omitempty"`
	// Traffic is the observed state: whether the group is in its load balancers.
	// +optional
	Traffic Traffic `json:"traffic,omitempty"`
	// AppliedCapacity is the spec's capacity the operator last set in the cloud. With desiredDrift
	// Tolerate, the cloud's desired capacity is set again only when the spec's capacity differs from it.
	// +optional
	AppliedCapacity *Capacity `json:"appliedCapacity,omitempty"`
	// AdoptedAt is when the operator took over a cloud group it had not made (AnnotationAdopt).
	// +optional
	AdoptedAt *metav1.Time `json:"adoptedAt,omitempty"`
	// Operation is the long-running cloud operation under way, if any; nothing else is asked of the cloud
	// for the group until it ends.
	// +optional
	Operation *CloudOperation `json:"operation,omitempty"`

	CloudServerGroupStatus `json:",inline"`
}

// ServerGroup is one versioned group of identical instances behind a load balancer: an AWS Auto Scaling
// group, a GCP managed instance group or an Azure VM scale set, named the Spinnaker way
// (app-stack-detail-v003). A finalizer deletes the cloud resource with the object (deletionPolicy).
//
// The name must be the Frigga name of the group, its cluster name (app, app-stack, app-stack-detail or
// app--detail) and a three-digit version, so that a ServerGroup can only ever name a cloud group of its own
// cluster, never an arbitrary one (an EKS node group, a hand-made group).
//
// spec.account is a field selector (kubectl get servergroups --field-selector spec.account=aws-prod): a
// CloudAccount's users are counted by it across shards.
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^.+-v[0-9]{3}$') && self.metadata.name.substring(0, size(self.metadata.name) - 5) == ((has(self.spec.detail) && size(self.spec.detail) > 0) ? self.spec.application + (has(self.spec.stack) ? '-' + self.spec.stack + '-' : '--') + self.spec.detail : ((has(self.spec.stack) && size(self.spec.stack) > 0) ? self.spec.application + '-' + self.spec.stack : self.spec.application))",messageExpression="'metadata.name must be the Frigga name ' + ((has(self.spec.detail) && size(self.spec.detail) > 0) ? self.spec.application + (has(self.spec.stack) ? '-' + self.spec.stack + '-' : '--') + self.spec.detail : ((has(self.spec.stack) && size(self.spec.stack) > 0) ? self.spec.application + '-' + self.spec.stack : self.spec.application)) + '-vNNN (the cluster named by spec.application, stack and detail, and a three-digit version such as v003)'"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sg,categories=gennaker
// +kubebuilder:selectablefield:JSONPath=`.spec.account`
// +kubebuilder:printcolumn:name="Account",type=string,JSONPath=`.spec.account`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.spec.capacity.desired`
// +kubebuilder:printcolumn:name="Healthy",type=integer,JSONPath=`.status.instances.healthy`
// +kubebuilder:printcolumn:name="Traffic",type=string,JSONPath=`.status.traffic`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServerGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired server group.
	Spec ServerGroupSpec `json:"spec"`
	// Status is the observed server group.
	// +optional
	Status ServerGroupStatus `json:"status,omitempty"`
}

// GetStatus returns the conventional part of the status.
func (s *ServerGroup) GetStatus() *Status { return &s.Status.Status }

// ClusterName is app-stack-detail, without the empty trailing parts (Frigga).
func (s *ServerGroupSpec) ClusterName() string {
	return ClusterName(s.Application, s.Stack, s.Detail)
}

// ClusterName joins application, stack and detail the way Frigga does: app, app-stack, app-stack-detail,
// or app--detail when there is a detail but no stack.
func ClusterName(application, stack, detail string) string {
	switch {
	case detail != "":
		return application + "-" + stack + "-" + detail
	case stack != "":
		return application + "-" + stack
	default:
		return application
	}
}

// ServerGroupList is a list of ServerGroups.
// +kubebuilder:object:root=true
type ServerGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServerGroup `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ServerGroup{}, &ServerGroupList{})
}
