// Package testenv runs the tests of every package against a real kube-apiserver and etcd (envtest) with
// Gennaker's CRDs and admission webhooks installed, and offers what those tests share: a client, kubectl, a running manager and
// sane Eventually defaults.
//
// The binaries come from KUBEBUILDER_ASSETS, which `make test` points at bin/k8s/<version> after building
// them from the Go module proxy; without it, the same folder is used if it exists.
package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/controllers/admission"
)

// K8sVersion is the control plane the project builds and tests against.
const K8sVersion = "v1.37.2"

// Scheme knows the built-in kinds and Gennaker's.
var Scheme = k8sruntime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(v1alpha1.AddToScheme(Scheme))
}

// Env is a running control plane.
type Env struct {
	env *envtest.Environment
	// stopWebhooks stops the package's webhook server.
	stopWebhooks context.CancelFunc
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is an uncached client: what it reads is what the API server has.
	Client client.Client
	// Kubeconfig is a file for kubectl, as an administrator.
	Kubeconfig string
	// Root is the repository's root folder.
	Root string
}

// Main starts a control plane, runs the package's tests with it in *env, and stops it. Call it from TestMain.
func Main(m *testing.M, env **Env) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	e, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stopping the control plane:", err)
	}
	os.Exit(code)
}

// Start starts etcd and kube-apiserver with the CRDs of config/crd/bases installed.
func Start() (*Env, error) {
	root := Root()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s", K8sVersion)
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("no kube-apiserver in %s: run `make k8s-bin` (or `make test`), which builds it", assets)
	}
	e := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := e.Start()
	if err != nil {
		// envtest leaves etcd and kube-apiserver running when it fails after starting them (a CRD the
		// API server refuses, say): stop them, or every failed run leaks a control plane.
		_ = e.Stop()
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	env := &Env{env: e, Config: cfg, Root: root}
	if err := env.connect(); err != nil {
		_ = env.Stop()
		return nil, err
	}
	if err := env.startWebhooks(); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return env, nil
}

// startWebhooks serves the admission webhooks for the whole package, as `--webhook-self-signed` does for
// the manager, so that every test runs with admission on whether or not it starts a manager. The webhooks
// take the administrator's Config for the operator (the tests' managers run with it).
func (e *Env) startWebhooks() error {
	dir, err := os.MkdirTemp("", "gennaker-webhook-")
	if err != nil {
		return err
	}
	ca, err := admission.SelfSigned(dir)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stopWebhooks = func() { cancel(); _ = os.RemoveAll(dir) }
	operator, err := admission.WhoAmI(ctx, e.Client)
	if err != nil {
		return err
	}
	srv := webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, CertDir: dir})
	admission.Register(srv, admission.Options{Reader: e.Client, Reviewer: e.Client, Scheme: Scheme, Operator: operator})
	go func() { _ = srv.Start(ctx) }()
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return srv.StartedChecker()(nil) == nil, nil
	}); err != nil {
		return fmt.Errorf("the webhook server did not start: %w", err)
	}
	m, v := admission.Configurations(fmt.Sprintf("https://127.0.0.1:%d", port), ca)
	exempt := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: labelAdmission, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"off"}},
	}}
	for i := range m.Webhooks {
		m.Webhooks[i].NamespaceSelector, m.Webhooks[i].ObjectSelector = exempt, exempt
	}
	for i := range v.Webhooks {
		v.Webhooks[i].NamespaceSelector, v.Webhooks[i].ObjectSelector = exempt, exempt
	}
	if err := e.Client.Create(ctx, m); err != nil {
		return err
	}
	return e.Client.Create(ctx, v)
}

// labelAdmission, set to off on a namespace or an object, keeps the test webhooks out of it (see
// NamespaceWithoutAdmission, WithoutAdmission). The shipped configurations have no such exemption.
const labelAdmission = "testenv.gennaker.io/admission"

// WithoutAdmission labels obj so that the package's webhooks do not look at it, and returns it: for a test
// of what a controller reports about an object that got in without admission (the webhook down, an older
// version of the operator), in a namespace whose other objects are admitted as usual.
func WithoutAdmission[T client.Object](obj T) T {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[labelAdmission] = "off"
	obj.SetLabels(labels)
	return obj
}

// NamespaceWithoutAdmission is Namespace for a test of what the controllers report about objects that
// got in without admission (the webhook down when they were applied, an older version of the operator):
// the package's webhooks do not look at its objects.
func (e *Env) NamespaceWithoutAdmission(t testing.TB) string {
	t.Helper()
	return e.namespace(t, map[string]string{labelAdmission: "off"})
}

// freePort is a loopback port no one listens on, for a server that only takes a port number.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// connect makes the administrator's client and kubeconfig.
func (e *Env) connect() (err error) {
	if e.Client, err = client.New(e.Config, client.Options{Scheme: Scheme}); err != nil {
		return err
	}
	admin, err := e.env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gennaker-kubeconfig-")
	if err != nil {
		return err
	}
	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	return os.WriteFile(e.Kubeconfig, kc, 0o600)
}

// Stop stops the control plane.
func (e *Env) Stop() error {
	if e.stopWebhooks != nil {
		e.stopWebhooks()
	}
	if e.Kubeconfig != "" {
		_ = os.RemoveAll(filepath.Dir(e.Kubeconfig))
	}
	return e.env.Stop()
}

// Root is the repository's root folder, found from this file's place in it.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Kubectl runs the kubectl built with the control plane against it and returns its combined output.
func (e *Env) Kubectl(args ...string) (string, error) {
	bin := filepath.Join(e.env.BinaryAssetsDirectory, "kubectl")
	cmd := exec.Command(bin, append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Namespace creates a namespace with a generated name for one test and deletes it afterwards.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	return e.namespace(t, nil)
}

func (e *Env) namespace(t testing.TB, labels map[string]string) string {
	t.Helper()
	// Labelled at creation: the API server looks up a namespace it has not cached yet, so a label set
	// later could reach admission late.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-", Labels: labels}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	// envtest has no namespace controller, so the namespace stays Terminating and its objects stay: the
	// runs and pipelines are deleted here, or the managers of later tests (which watch every namespace)
	// would go on running them.
	t.Cleanup(func() {
		ctx := context.Background()
		for _, obj := range []client.Object{&v1alpha1.Execution{}, &v1alpha1.Pipeline{}} {
			_ = e.Client.DeleteAllOf(ctx, obj, client.InNamespace(ns.Name))
		}
		// The test's manager is gone, and with it the simulator the groups' finalizers would wait on.
		var groups v1alpha1.ServerGroupList
		_ = e.Client.List(ctx, &groups, client.InNamespace(ns.Name))
		for i := range groups.Items {
			sg := &groups.Items[i]
			_ = e.Client.Patch(ctx, sg, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
			_ = e.Client.Delete(ctx, sg)
		}
		_ = e.Client.Delete(ctx, ns)
	})
	return ns.Name
}

// StartManager runs the manager with every controller, as cmd/manager does, until the test ends or the
// returned stop is called; stop returns once the manager has stopped, so that a test can start a fresh one
// to prove that a restart loses nothing.
func (e *Env) StartManager(t testing.TB) (stop func()) {
	t.Helper()
	return e.StartManagerWithConfig(t, e.Config)
}

// StartManagerWithConfig is StartManager with the manager reaching the API server through cfg instead of
// Config: a copy of Config whose transport counts the manager's requests, say.
func (e *Env) StartManagerWithConfig(t testing.TB, cfg *rest.Config) (stop func()) {
	t.Helper()
	return e.StartManagerWith(t, Manager{Config: cfg})
}

// Manager says how to run a manager; the zero value is what StartManager runs.
type Manager struct {
	// Config reaches the API server; nil means Env.Config.
	Config *rest.Config
	// Controllers tunes the reconcilers: cloud providers pointed at simulators, shorter polls.
	Controllers controllers.Options
	// Log, if set, receives the manager's log lines up to V(7), for tests that read them. V(8) and above is
	// client-go's wire trace, which prints API bodies (as kubectl -v=8 does), Secrets included.
	Log io.Writer
}

// StartManagerWith is StartManager run as m says.
func (e *Env) StartManagerWith(t testing.TB, m Manager) (stop func()) {
	t.Helper()
	if m.Config == nil {
		m.Config = e.Config
	}
	opts := ctrl.Options{
		Scheme:  Scheme,
		Cache:   controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Tests in one package each start a manager; unique names keep controller-runtime from refusing a
		// second controller of the same name in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	if m.Log != nil {
		opts.Logger = zap.New(zap.WriteTo(io.MultiWriter(m.Log, levelWriter{os.Stderr})), zap.Level(zapcore.Level(-7)))
	}
	mgr, err := ctrl.NewManager(m.Config, opts)
	if err != nil {
		t.Fatalf("creating the manager: %v", err)
	}
	if err := controllers.SetupWithManager(mgr, m.Controllers); err != nil {
		t.Fatalf("setting up the controllers: %v", err)
	}
	return Run(t, mgr)
}

// levelWriter passes on to w only the error lines, as the default logger does.
type levelWriter struct{ w io.Writer }

func (l levelWriter) Write(p []byte) (int, error) {
	if zapLevel() < zapcore.ErrorLevel || strings.Contains(string(p), `"level":"error"`) || strings.Contains(string(p), "\tERROR\t") {
		return l.w.Write(p)
	}
	return len(p), nil
}

// Run starts mgr until the test ends or the returned stop is called; stop returns once it has stopped.
func Run(t testing.TB, mgr ctrl.Manager) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("the manager stopped with an error: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// Eventually defaults for tests against the API server: long enough for a loaded CI machine, short
// enough that a real failure does not stall the run.
const (
	EventuallyTimeout = 20 * time.Second
	PollInterval      = 100 * time.Millisecond
)

// NewWithT is gomega.NewWithT with this project's Eventually defaults.
func NewWithT(t testing.TB) *gomega.WithT {
	g := gomega.NewWithT(t)
	g.SetDefaultEventuallyTimeout(EventuallyTimeout)
	g.SetDefaultEventuallyPollingInterval(PollInterval)
	return g
}

// zapLevel keeps passing tests quiet; TEST_VERBOSE=1 shows the controllers' debug logs.
func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE") != "" {
		return -1
	}
	return zapcore.ErrorLevel
}
