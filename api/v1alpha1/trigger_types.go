package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Trigger types beside TriggerManual, TriggerCron and TriggerPipeline: values of AnnotationTrigger and of
// trigger.type in expressions. A Pipeline's pipeline trigger starts runs of type pipeline too, as a pipeline
// stage does; trigger.name tells them apart.
const (
	TriggerWebhook = "webhook"
	TriggerImage   = "image"
	TriggerMaven   = "maven"
	// TriggerMachineImage is the type of runs a machineImage trigger starts.
	TriggerMachineImage = "machineImage"
)

// Annotations the operator sets on the runs its triggers start; admission drops them from anyone else's.
const (
	// AnnotationTriggerName is the name of the Pipeline trigger that started the run.
	AnnotationTriggerName = "delivery.gennaker.io/trigger-name"
	// AnnotationDeliveryID is the delivery ID of the webhook call that started the run.
	AnnotationDeliveryID = "delivery.gennaker.io/delivery-id"
	// AnnotationParentOutputs holds, as JSON {stage: outputs}, the outputs of the finished run whose
	// pipeline trigger started this one; expressions read them as trigger.outputs['stage'].key.
	AnnotationParentOutputs = "delivery.gennaker.io/parent-outputs"
)

// ArtifactType is the kind of thing an artifact is.
// +kubebuilder:validation:Enum=DockerImage;MachineImage;Jar;Other
type ArtifactType string

// Artifact types.
const (
	ArtifactDockerImage  ArtifactType = "DockerImage"
	ArtifactMachineImage ArtifactType = "MachineImage"
	ArtifactJar          ArtifactType = "Jar"
	ArtifactOther        ArtifactType = "Other"
)

// Artifact is a thing a run deploys: a Docker image, a machine image, a Jar. Stages read the run's first
// artifact as trigger.artifact (trigger.artifact.reference, .digest, .version) and all of them as
// trigger.artifacts.
type Artifact struct {
	// Type of the artifact.
	Type ArtifactType `json:"type"`
	// Reference is what a deploy uses: for a Docker image repository:tag@digest, pinned to the digest.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Reference string `json:"reference"`
	// Repository the artifact comes from, such as registry.example.com/shop/web.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Repository string `json:"repository,omitempty"`
	// Version of the artifact: an image's tag, a Jar's version.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Version string `json:"version,omitempty"`
	// Digest of the artifact's content, such as sha256:...
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Digest string `json:"digest,omitempty"`
}

// WebhookTrigger starts a run when a CI system (Jenkins, GitHub Actions) POSTs to the manager's trigger
// endpoint, /triggers/<namespace>/<pipeline>/<trigger name>. The call is refused unless its body is signed
// with the shared secret (X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body, hex>) and carries a delivery
// ID (X-GitHub-Delivery or X-Delivery-ID); a body or delivery ID received before is refused, since the
// signature does not cover the ID. The trigger's parameters read the JSON body as trigger.payload:
// parameters: {version: "${ trigger.payload.version }"}.
type WebhookTrigger struct {
	// SecretRef is the key of a Secret in the Pipeline's namespace holding the shared secret.
	SecretRef SecretKeySelector `json:"secretRef"`
	// Artifact, if set, is the artifact the run deploys, its strings templates over trigger.payload.
	// +optional
	Artifact *Artifact `json:"artifact,omitempty"`
}

// PipelineTrigger starts a run when a run of another Pipeline in the namespace finishes in one of the
// given phases. The new run gets the finished run's artifacts, and reads its stages' outputs as
// trigger.outputs['<stage>'].<key> and its name as trigger.parentExecution.
type PipelineTrigger struct {
	// Pipeline whose runs are watched.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	Pipeline string `json:"pipeline"`
	// Phases of the finished run that start this pipeline; empty means Succeeded.
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:items:Enum=Succeeded;Failed;Canceled
	// +listType=set
	// +optional
	Phases []ExecutionPhase `json:"phases,omitempty"`
}

// ImageTrigger starts a run when a new tag matching a constraint appears in an OCI/Docker repository; the
// run's artifact is that tag, pinned to its digest. The first look at a repository only records what is
// there: runs start for tags pushed after it.
// +kubebuilder:validation:XValidation:rule="has(self.semver) != has(self.regex)",message="exactly one of semver or regex must be set",fieldPath=".semver"
type ImageTrigger struct {
	// Repository to watch, such as registry.example.com/shop/web (Docker Hub's library/ images as
	// index.docker.io/library/nginx).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Repository string `json:"repository"`
	// Semver is a version range (^1.2, >=1.0.0 <2.0.0, ~1.4); the highest version among the matching tags
	// is the newest.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Semver string `json:"semver,omitempty"`
	// Regex is a regular expression (RE2) tags must match; tags that are versions order by version,
	// the others by name, the greatest last.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Regex string `json:"regex,omitempty"`
	// SecretRef names a kubernetes.io/dockerconfigjson Secret in the Pipeline's namespace with the
	// registry's credentials; without it the repository is read anonymously.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SecretRef string `json:"secretRef,omitempty"`
	// Interval between two looks at the repository; one look serves every Pipeline that watches it, at the
	// shortest interval they ask for.
	// +kubebuilder:default="1m"
	// +optional
	Interval Duration `json:"interval,omitempty"`
}

// ImageTriggerStatus is what the last look at an image trigger's repository saw.
type ImageTriggerStatus struct {
	// LastCheckTime is when the repository was last read, successfully or not.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`
	// Tag is the newest matching tag, and Digest its digest, when last read: the last one a run was
	// started for, or the one found at the first look.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Tag string `json:"tag,omitempty"`
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Digest string `json:"digest,omitempty"`
	// Message says what the last look found, or why it failed.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// PipelineTriggerStatus is how far a pipeline trigger has handled the watched pipeline's finished runs, so
// that each starts at most one run, across restarts and history pruning.
type PipelineTriggerStatus struct {
	// Since is the completion time up to which finished runs have been handled (or when the trigger was
	// first seen: runs finished before do not start anything).
	Since metav1.Time `json:"since"`
	// Handled are the runs finished at Since that were handled, since times are kept to the second.
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	// +optional
	Handled []string `json:"handled,omitempty"`
}

// MaxPrunedDeliveries is how many webhook calls whose runs the history limit deleted a trigger's status
// keeps: a replay of an older one, to a manager that no longer remembers it, starts its run again.
const MaxPrunedDeliveries = 100

// WebhookTriggerStatus keeps the calls whose runs the history limit deleted, so that such a call sent again
// is still refused by a manager that has not seen it (restarted since, or another replica).
type WebhookTriggerStatus struct {
	// Pruned are the latest of those calls, oldest first.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Pruned []PrunedDelivery `json:"pruned,omitempty"`
}

// PrunedDelivery is a webhook call whose run the history limit deleted.
type PrunedDelivery struct {
	// Execution is the run's name, which the call's body determines.
	// +kubebuilder:validation:MaxLength=63
	Execution string `json:"execution"`
	// Delivery is the run's trigger.gennaker.io/delivery label, a hash of the call's delivery ID.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Delivery string `json:"delivery,omitempty"`
}

// MavenTrigger starts a run when a new version of a Jar appears in a Maven repository, as its
// maven-metadata.xml lists it (<repository>/<groupId as a path>/<artifactId>/maven-metadata.xml). The run's
// artifact is the Jar: type Jar, reference its URL, version the version, digest its sha256 when the
// repository publishes one. The first look only records what is there.
type MavenTrigger struct {
	// Repository is the Maven repository's base URL, such as https://repo.example.com/maven2.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^https?://`
	Repository string `json:"repository"`
	// GroupID of the Jar, such as com.example.shop.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]+$`
	// +kubebuilder:validation:MaxLength=256
	GroupID string `json:"groupId"`
	// ArtifactID of the Jar, such as checkout-service.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]+$`
	// +kubebuilder:validation:MaxLength=256
	ArtifactID string `json:"artifactId"`
	// Versions is a version range (^1.2, >=1.0.0 <2.0.0); empty means any release. Snapshots
	// (-SNAPSHOT) never match.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Versions string `json:"versions,omitempty"`
	// SecretRef names a Secret in the Pipeline's namespace with the repository's credentials, as the keys
	// username and password (basic authentication); without it the repository is read anonymously.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SecretRef string `json:"secretRef,omitempty"`
	// Interval between two looks at the repository; one look serves every Pipeline that watches the same
	// Jar, at the shortest interval they ask for.
	// +kubebuilder:default="1m"
	// +optional
	Interval Duration `json:"interval,omitempty"`
}

// MachineImageTrigger starts a run when a new machine image appears in a CloudAccount: an AWS AMI owned by
// the account, a GCP image of the account's project, an Azure gallery image version. The newest image that
// matches every filter given is the one a run deploys (artifact type MachineImage, reference the image's ID:
// ami-..., the GCP image's self link, the Azure version's resource ID; version the image's name). Which
// filters apply depends on the account's provider; one that does not apply makes the Pipeline not Ready.
// The first look only records what is there.
type MachineImageTrigger struct {
	// Account is the CloudAccount whose images are watched; the Pipeline's namespace must be among its
	// allowedNamespaces.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	Account string `json:"account"`
	// Region the images are in: required for AWS; for Azure, a region the version must be replicated to;
	// not used for GCP, whose images are global.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Region string `json:"region,omitempty"`
	// Name is a pattern image names must match, * matching any run of characters: an AMI's name, a GCP
	// image's name, an Azure image version's name (1.4.*).
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Name string `json:"name,omitempty"`
	// Tags every image must carry, with these values: AWS tags, GCP labels, Azure tags.
	// +kubebuilder:validation:MaxProperties=16
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
	// Family is a GCP image family: its newest image that is not deprecated.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Family string `json:"family,omitempty"`
	// Gallery is an Azure image definition in a compute gallery, whose versions are watched.
	// +optional
	Gallery *GalleryImage `json:"gallery,omitempty"`
	// Interval between two looks; one look serves every Pipeline that watches the same images.
	// +kubebuilder:default="5m"
	// +optional
	Interval Duration `json:"interval,omitempty"`
}

// GalleryImage is an image definition in an Azure compute gallery.
type GalleryImage struct {
	// ResourceGroup of the gallery.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=90
	ResourceGroup string `json:"resourceGroup"`
	// Gallery is the gallery's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=80
	Gallery string `json:"gallery"`
	// Image is the image definition's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=80
	Image string `json:"image"`
}

// PolledArtifactStatus is what the last look of a maven or machineImage trigger saw.
type PolledArtifactStatus struct {
	// LastCheckTime is when the source was last read, successfully or not.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`
	// Version is the newest matching version (a Jar's version, an image's name) when last read: the last
	// one a run was started for, or the one found at the first look.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Version string `json:"version,omitempty"`
	// Reference identifies that version: the Jar's URL, the image's ID.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Reference string `json:"reference,omitempty"`
	// Message says what the last look found, or why it failed.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}
