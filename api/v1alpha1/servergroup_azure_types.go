package v1alpha1

// AzureServerGroupStatus is what the operator keeps of a VM scale set.
type AzureServerGroupStatus struct {
}
