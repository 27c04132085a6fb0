// Package gitops_test checks what Argo CD, Flux and kstatus make of Gennaker's objects: the resource
// customizations of config/argocd run in a harness with Argo CD's Lua rules, kstatus's status.Compute
// and Flux's CEL health checks read objects from a real API server in each state, and each Argo CD
// action's patch is applied to that server to show the operator takes it.
//
// The objects under config/argocd/.../testdata are captured from these runs:
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s/v1.37.2 go test ./test/gitops -run TestStates -update
package gitops_test

import (
	"testing"

	"github.com/gennaker/gennaker/test/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }
