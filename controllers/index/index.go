// Package index declares the cache indexes the reconcilers share. A field index may be registered only
// once per manager, so every reconciler that lists by one of these goes through this package.
package index

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// ExecutionPipeline indexes Executions by spec.pipeline, so that a Pipeline's runs are listed without a
// label that a user could forget or change:
//
//	c.List(ctx, &list, client.InNamespace(ns), client.MatchingFields{index.ExecutionPipeline: name})
const ExecutionPipeline = "spec.pipeline"

// UnfinishedExecutionPipeline indexes the Executions that are not finished (not yet seen, Queued or
// Running) by spec.pipeline. The queue looks only at those: listing every run of a pipeline whenever one
// changes phase would cost the square of the runs kept.
const UnfinishedExecutionPipeline = "unfinished.spec.pipeline"

// AccountSecret indexes CloudAccounts by the namespace/name of the Secret their credentials are in, so a
// Secret's change wakes exactly the accounts that use it.
const AccountSecret = "spec.credentials.secretRef"

// ServerGroupAccount indexes ServerGroups by spec.account, so a change of an account (its allowed
// namespaces, its credentials) wakes the groups in it.
const ServerGroupAccount = "spec.account"

// Setup registers every index with the manager's cache.
func Setup(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.Execution{}, ExecutionPipeline,
		func(o client.Object) []string { return []string{o.(*v1alpha1.Execution).Spec.Pipeline} }); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.Execution{}, UnfinishedExecutionPipeline, func(o client.Object) []string {
		ex := o.(*v1alpha1.Execution)
		switch ex.Status.Phase {
		case "", v1alpha1.ExecutionQueued, v1alpha1.ExecutionRunning, v1alpha1.ExecutionAwaitingJudgment:
			return []string{ex.Spec.Pipeline}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.CloudAccount{}, AccountSecret, func(o client.Object) []string {
		a := o.(*v1alpha1.CloudAccount)
		if ref := a.Spec.Credentials.SecretRef; ref != nil {
			return []string{ref.Namespace + "/" + ref.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &v1alpha1.ServerGroup{}, ServerGroupAccount,
		func(o client.Object) []string { return []string{o.(*v1alpha1.ServerGroup).Spec.Account} })
}
