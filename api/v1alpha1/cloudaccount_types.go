package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Provider names a cloud.
// +kubebuilder:validation:Enum=aws;gcp;azure
type Provider string

// The clouds Gennaker deploys to.
const (
	ProviderAWS   Provider = "aws"
	ProviderGCP   Provider = "gcp"
	ProviderAzure Provider = "azure"
)

// CredentialSource says where an account's credentials come from.
// +kubebuilder:validation:Enum=Workload;Secret
type CredentialSource string

const (
	// CredentialSourceWorkload uses the operator pod's own identity through the SDK's default chain: IRSA or
	// EKS Pod Identity on AWS, GKE workload identity on GCP, Azure workload identity on Azure.
	CredentialSourceWorkload CredentialSource = "Workload"
	// CredentialSourceSecret reads a key from a Secret: an access key pair (AWS), a service-account JSON
	// key (GCP) or a client secret (Azure).
	CredentialSourceSecret CredentialSource = "Secret"
)

// AzureCloud names an Azure cloud environment.
// +kubebuilder:validation:Enum=AzurePublic;AzureChina;AzureUSGovernment
type AzureCloud string

// The Azure clouds.
const (
	AzurePublic       AzureCloud = "AzurePublic"
	AzureChina        AzureCloud = "AzureChina"
	AzureUSGovernment AzureCloud = "AzureUSGovernment"
)

// SecretKeyRef points at one key of a Secret. CloudAccounts are cluster-scoped, so the namespace is explicit.
type SecretKeyRef struct {
	// Namespace of the Secret.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`
	// Name of the Secret.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in the Secret's data that holds the credential. For AWS the value is an INI-style credentials
	// block (aws_access_key_id, aws_secret_access_key); for GCP a service-account JSON key; for Azure the
	// client secret.
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// Credentials says how the operator authenticates to the cloud.
// +kubebuilder:validation:XValidation:rule="self.source == 'Secret' ? has(self.secretRef) : !has(self.secretRef)",message="secretRef is required when source is Secret and not allowed otherwise",fieldPath=".secretRef"
type Credentials struct {
	// Source is Workload (the pod's own identity) or Secret (secretRef).
	// +kubebuilder:default=Workload
	// +optional
	Source CredentialSource `json:"source,omitempty"`
	// SecretRef is the Secret key holding the credential, when source is Secret. Its value never appears in
	// a status, an event, a log line or an error.
	// +optional
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`
}

// Endpoint overrides a cloud API's base URL, for tests and sovereign clouds. Plain http is allowed only to a
// loopback address.
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('https://') || self.matches('^http://(localhost|127\\\\.[0-9]+\\\\.[0-9]+\\\\.[0-9]+|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$'))",message="must be an https URL, or an http URL to a loopback address (localhost, 127.0.0.0/8, [::1])"
type Endpoint string

// AWSAccount is the AWS part of a CloudAccount.
type AWSAccount struct {
	// Regions this account deploys to, such as us-east-1.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Pattern=`^[a-z]{2}(-[a-z]+)+-[0-9]+$`
	// +listType=set
	Regions []string `json:"regions"`
	// AssumeRoleARN, if set, is a role assumed through STS on top of the base credentials.
	// +kubebuilder:validation:Pattern=`^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$`
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	AssumeRoleARN string `json:"assumeRoleARN,omitempty"`
	// ExternalID is passed to STS AssumeRole when the role's trust policy requires one.
	// +kubebuilder:validation:MaxLength=1224
	// +optional
	ExternalID string `json:"externalID,omitempty"`
	// Endpoint overrides the AWS API endpoint for every service.
	// +optional
	Endpoint Endpoint `json:"endpoint,omitempty"`
}

// GCPAccount is the GCP part of a CloudAccount.
type GCPAccount struct {
	// Project is the GCP project ID.
	// +kubebuilder:validation:Pattern=`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`
	Project string `json:"project"`
	// ImpersonateServiceAccount, if set, is the e-mail of a service account impersonated on top of the base
	// credentials.
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+$`
	// +kubebuilder:validation:MaxLength=254
	// +optional
	ImpersonateServiceAccount string `json:"impersonateServiceAccount,omitempty"`
	// Endpoint overrides the Compute Engine API endpoint.
	// +optional
	Endpoint Endpoint `json:"endpoint,omitempty"`
}

// AzureAccount is the Azure part of a CloudAccount.
type AzureAccount struct {
	// SubscriptionID is the subscription the server groups live in.
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	SubscriptionID string `json:"subscriptionID"`
	// TenantID is the Microsoft Entra tenant.
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	TenantID string `json:"tenantID"`
	// ClientID is the application (client) ID of the identity.
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	ClientID string `json:"clientID"`
	// ResourceGroup holds the scale sets.
	// +kubebuilder:validation:Pattern=`^[-\w\._\(\)]{1,89}[-\w_\(\)]$`
	ResourceGroup string `json:"resourceGroup"`
	// Cloud is the Azure environment.
	// +kubebuilder:default=AzurePublic
	// +optional
	Cloud AzureCloud `json:"cloud,omitempty"`
	// Endpoint overrides the Azure Resource Manager endpoint.
	// +optional
	Endpoint Endpoint `json:"endpoint,omitempty"`
}

// CloudAccountSpec is one identity in one cloud.
// +kubebuilder:validation:XValidation:rule="has(self.aws) == (self.provider == 'aws')",message="aws must be set when provider is aws, and only then",fieldPath=".aws"
// +kubebuilder:validation:XValidation:rule="has(self.gcp) == (self.provider == 'gcp')",message="gcp must be set when provider is gcp, and only then",fieldPath=".gcp"
// +kubebuilder:validation:XValidation:rule="has(self.azure) == (self.provider == 'azure')",message="azure must be set when provider is azure, and only then",fieldPath=".azure"
type CloudAccountSpec struct {
	// Provider is the cloud: aws, gcp or azure. Exactly the matching block (aws, gcp or azure) must be set.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="provider is immutable"
	Provider Provider `json:"provider"`
	// Credentials says how to authenticate.
	// +kubebuilder:default={source: Workload}
	// +optional
	Credentials Credentials `json:"credentials"`
	// AWS settings, when provider is aws.
	// +optional
	AWS *AWSAccount `json:"aws,omitempty"`
	// GCP settings, when provider is gcp.
	// +optional
	GCP *GCPAccount `json:"gcp,omitempty"`
	// Azure settings, when provider is azure.
	// +optional
	Azure *AzureAccount `json:"azure,omitempty"`
	// AllowedNamespaces are the only namespaces whose ServerGroups and Pipelines may use this account.
	// Empty means none: an account is shared on purpose, never by accident.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	AllowedNamespaces []string `json:"allowedNamespaces,omitempty"`
}

// CloudAccount condition reasons, besides the credential reasons of Ready.
const (
	// ReasonInUse: the account is being deleted, and ServerGroups still use it; the deletion waits for
	// them (a finalizer), since nothing else could delete their cloud groups.
	ReasonInUse = "InUse"
)

// MaxUsedBy is how many ServerGroups status.usedBy names.
const MaxUsedBy = 10

// CloudAccountStatus is the observed state of a CloudAccount.
type CloudAccountStatus struct {
	Status `json:",inline"`

	// ServerGroups is how many ServerGroups use the account. While any does, a finalizer holds the
	// account: deleting it waits until they are gone.
	// +optional
	ServerGroups int32 `json:"serverGroups,omitempty"`
	// UsedBy names some of them (namespace/name, at most ten, in name order).
	// +kubebuilder:validation:MaxItems=10
	// +optional
	UsedBy []string `json:"usedBy,omitempty"`
}

// CloudAccount is one identity in one cloud, with its credentials and the namespaces that may use it.
// Ready is True once a cheap authenticated call succeeded (STS GetCallerIdentity, a Compute regions get, a
// subscription get).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ca,categories=gennaker
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="In-Use",type=integer,JSONPath=`.status.serverGroups`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type CloudAccount struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired account.
	Spec CloudAccountSpec `json:"spec"`
	// Status is the observed account.
	// +optional
	Status CloudAccountStatus `json:"status,omitempty"`
}

// GetStatus returns the conventional part of the status.
func (a *CloudAccount) GetStatus() *Status { return &a.Status.Status }

// CloudAccountList is a list of CloudAccounts.
// +kubebuilder:object:root=true
type CloudAccountList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CloudAccount `json:"items"`
}

func init() {
	SchemeBuilder.Register(&CloudAccount{}, &CloudAccountList{})
}
