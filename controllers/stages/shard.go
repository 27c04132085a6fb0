package stages

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ShardLabel is the label that splits Pipelines, Executions and ServerGroups between managers run with
// --watch-label-selector (the key Flux's controllers shard by, in our group). A manager sees only the
// objects its selector matches, so whatever a run makes must carry the run's value, or no manager (or the
// wrong one) would look after it.
const ShardLabel = "sharding.gennaker.io/key"

// InheritShard copies from's shard label, if it has one, onto to: a Pipeline's onto the run its trigger
// starts, a run's onto the child run of a pipeline stage and the ServerGroups of its deploys.
func InheritShard(from, to metav1.Object) {
	v, ok := from.GetLabels()[ShardLabel]
	if !ok {
		return
	}
	labels := to.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[ShardLabel] = v
	to.SetLabels(labels)
}
