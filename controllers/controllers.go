// Package controllers wires one reconciler per Gennaker kind into a manager. The reconcilers live in
// the subpackages named after their kind; engine/, stages/ and cloud/ hold what they share.
package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gennaker/gennaker/controllers/cloudaccount"
	"github.com/gennaker/gennaker/controllers/execution"
	"github.com/gennaker/gennaker/controllers/index"
	"github.com/gennaker/gennaker/controllers/pipeline"
	"github.com/gennaker/gennaker/controllers/servergroup"
)

// SetupWithManager registers every reconciler with mgr. The manager binary and the tests both call it,
// so the tests run exactly what ships.
func SetupWithManager(mgr ctrl.Manager) error {
	if err := index.Setup(context.Background(), mgr); err != nil {
		return err
	}
	c := mgr.GetClient()
	for _, r := range []interface{ SetupWithManager(ctrl.Manager) error }{
		cloudaccount.New(c),
		servergroup.New(c),
		&pipeline.Reconciler{Client: c},
		execution.New(mgr),
	} {
		if err := r.SetupWithManager(mgr); err != nil {
			return err
		}
	}
	return nil
}
