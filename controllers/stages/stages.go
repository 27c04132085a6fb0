// Package stages holds the stage types the engine runs, one file each. Adding a type is one file with a
// value implementing engine.Stage, and one line in All.
package stages

import (
	"context"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/engine"
)

// Deps are what stage types need from the operator.
type Deps struct {
	// Client reads and writes Kubernetes objects (child Executions, later ServerGroups).
	Client client.Client
	// APIReader reads past the cache, for objects a stage may have just created.
	APIReader client.Reader
	// HTTP makes webhook calls; nil means NewWebhookClient(nil).
	HTTP *http.Client
	// WebhookTimeout bounds each webhook request, reading the answer included; zero means
	// remote.DefaultTimeout.
	WebhookTimeout time.Duration
	// Wake asks for a reconcile of an Execution from outside a reconcile, such as when a remote call a
	// stage started has answered; nil when nothing outside a reconcile needs it.
	Wake func(ctx context.Context, execution types.NamespacedName)
}

// All returns every stage type this version runs, by type name: wait, manualJudgment, checkPreconditions,
// pipeline and webhook, and the types that act on ServerGroups (deploy, enableServerGroup,
// disableServerGroup, resizeServerGroup, destroyServerGroup, rollbackCluster). Those create, patch and
// delete ServerGroup objects with d.Client, and wait on their status; they never call a cloud.
func All(d Deps) engine.Stages {
	return engine.Stages{
		"wait":               Wait{},
		"manualJudgment":     ManualJudgment{},
		"checkPreconditions": CheckPreconditions{},
		"pipeline":           Pipeline{Client: d.Client, APIReader: d.APIReader},
		"webhook":            NewWebhook(d),
		"deploy":             Deploy{Client: d.Client, APIReader: d.APIReader},
		"enableServerGroup":  ServerGroupTraffic{Client: d.Client, APIReader: d.APIReader, Traffic: v1alpha1.TrafficEnabled},
		"disableServerGroup": ServerGroupTraffic{Client: d.Client, APIReader: d.APIReader, Traffic: v1alpha1.TrafficDisabled},
		"resizeServerGroup":  ResizeServerGroup{Client: d.Client, APIReader: d.APIReader},
		"destroyServerGroup": DestroyServerGroup{Client: d.Client, APIReader: d.APIReader},
		"rollbackCluster":    RollbackCluster{Client: d.Client, APIReader: d.APIReader},
	}
}

// instant is embedded by stage types that finish in Start and have nothing to stop.
type instant struct{}

func (instant) Check(context.Context, *engine.StageRun) error  { return nil }
func (instant) Cancel(context.Context, *engine.StageRun) error { return nil }

// timeZero asks for no timed check: the stage is looked at again when something it watches changes.
var timeZero time.Time
