package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/gennaker/gennaker/controllers/admission"
)

// webhookFlags say how the admission webhooks are served.
type webhookFlags struct {
	// selfSigned: the manager makes its own CA and certificate for 127.0.0.1 and writes the webhook
	// configurations itself (make dev, a bare API server). Otherwise the certificate is cert-manager's and
	// kustomize installs the configurations.
	selfSigned bool
	port       int
	certDir    string
	// caBundle is the self-signed CA, once made.
	caBundle []byte
	// tempDir is the folder made for the self-signed certificate when no certDir was given; cleanup
	// removes it, key and all.
	tempDir string
}

// cleanup removes what server made for the manager's lifetime only.
func (f *webhookFlags) cleanup() {
	if f.tempDir != "" {
		_ = os.RemoveAll(f.tempDir)
		f.tempDir = ""
	}
}

// server makes the webhook server, and the self-signed certificate it serves with if asked to.
func (f *webhookFlags) server() (webhook.Server, error) {
	o := webhook.Options{Port: f.port, CertDir: f.certDir}
	if f.selfSigned {
		// Loopback only: the certificate names 127.0.0.1 and nothing else may reach it.
		o.Host = "127.0.0.1"
		if o.CertDir == "" {
			dir, err := os.MkdirTemp("", "gennaker-webhook-")
			if err != nil {
				return nil, err
			}
			o.CertDir, f.tempDir = dir, dir
		}
		ca, err := admission.SelfSigned(o.CertDir)
		if err != nil {
			f.cleanup()
			return nil, fmt.Errorf("making the self-signed webhook certificate: %w", err)
		}
		f.caBundle = ca
	}
	return webhook.NewServer(o), nil
}

// setup registers the webhooks and, self-signed, installs their configurations once the server answers.
func (f *webhookFlags) setup(ctx context.Context, mgr ctrl.Manager, scheme *runtime.Scheme) error {
	// Uncached: the manager's cache does not run before Start, and should not hold webhook configurations.
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	operator, err := admission.WhoAmI(ctx, direct)
	if err != nil {
		return err
	}
	srv := mgr.GetWebhookServer()
	admission.Register(srv, admission.Options{Reader: mgr.GetAPIReader(), Reviewer: direct, Scheme: scheme, Operator: operator})
	if err := mgr.AddReadyzCheck("webhook", srv.StartedChecker()); err != nil {
		return err
	}
	if !f.selfSigned {
		return nil
	}
	// Refused here, at start, rather than by the runnable once the server answers.
	if err := admission.CheckInstallable(ctx, direct); err != nil {
		return err
	}
	url := fmt.Sprintf("https://127.0.0.1:%d", f.port)
	return mgr.Add(everyReplica(func(ctx context.Context) error {
		started := srv.StartedChecker()
		if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
			return started(nil) == nil, nil
		}); err != nil {
			return nil // stopped before the server started
		}
		if err := admission.Install(ctx, direct, url, f.caBundle); err != nil {
			return err
		}
		ctrl.Log.WithName("setup").Info("installed the self-signed webhook configurations", "url", url)
		<-ctx.Done()
		return nil
	}))
}

// everyReplica is a runnable that does not wait to be leader: admission is served by every replica, and
// requests reach it from the moment it is installed.
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }
