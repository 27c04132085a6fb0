package controllers

import (
	"reflect"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/stages"
)

// ShardLabel is the label managers split the work by (see WithWatchSelector).
const ShardLabel = stages.ShardLabel

// WithWatchSelector makes a manager's cache, and so its controllers, see only the Pipelines, Executions
// and ServerGroups that sel matches (--watch-label-selector, as Flux's controllers offer): several
// managers, each its own leader-elected Deployment, then split the runs between them, such as one with
// `sharding.gennaker.io/key in (shard1)`, one with `... in (shard2)` and one with
// `!sharding.gennaker.io/key` for everything unlabelled. A nil or empty selector leaves opts as they are.
//
// CloudAccounts and Secrets are cluster-wide and shared: every shard needs every account. What a run
// makes carries its shard label (stages.InheritShard), so a run's child runs and ServerGroups stay in
// its shard. Settings opts already has for these kinds (transforms) are kept.
func WithWatchSelector(opts cache.Options, sel labels.Selector) cache.Options {
	if sel == nil || sel.Empty() {
		return opts
	}
	byObject := make(map[client.Object]cache.ByObject, len(opts.ByObject)+len(shardedKinds))
	for obj, by := range opts.ByObject {
		byObject[obj] = by
	}
	for _, kind := range shardedKinds {
		key, by := client.Object(kind), cache.ByObject{}
		for obj, existing := range byObject {
			// Keys are pointers: an entry the other options made for the same kind is found by its type.
			if reflect.TypeOf(obj) == reflect.TypeOf(kind) {
				key, by = obj, existing
			}
		}
		if by.Label != nil && !by.Label.Empty() {
			// Both must match: a caller's own restriction stays.
			reqs, _ := by.Label.Requirements()
			extra, _ := sel.Requirements()
			by.Label = labels.NewSelector().Add(reqs...).Add(extra...)
		} else {
			by.Label = sel
		}
		byObject[key] = by
	}
	opts.ByObject = byObject
	return opts
}

// shardedKinds are the namespaced kinds a shard owns.
var shardedKinds = []client.Object{&v1alpha1.Pipeline{}, &v1alpha1.Execution{}, &v1alpha1.ServerGroup{}}
