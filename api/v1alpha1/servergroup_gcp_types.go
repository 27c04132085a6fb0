package v1alpha1

// GCPServerGroupStatus is what the operator keeps of a managed instance group.
type GCPServerGroupStatus struct {
	// InstanceTemplate is the URL of the instance template the group is built from: the spec's, or the one
	// made for this group from image and machineType (deleted with the group).
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	InstanceTemplate string `json:"instanceTemplate,omitempty"`
}
