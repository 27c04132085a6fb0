package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// scheme knows the kinds the plugin reads: Gennaker's and the built-in ones.
var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
}

// session is what a command works with: a client as the user, and the namespace -n or the kubeconfig names.
type session struct {
	*Options
	client    client.WithWatch
	namespace string
}

func (o *Options) session() (*session, error) {
	cfg, err := o.Config.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	ns, _, err := o.Config.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, err
	}
	newClient := o.newClient
	if newClient == nil {
		newClient = func(cfg *rest.Config) (client.WithWatch, error) {
			return client.NewWithWatch(cfg, client.Options{Scheme: scheme})
		}
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &session{Options: o, client: c, namespace: ns}, nil
}

// execution reads a run, or says plainly that there is none.
func (s *session) execution(ctx context.Context, name string) (*v1alpha1.Execution, error) {
	ex := &v1alpha1.Execution{}
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, ex); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("no execution %s in namespace %s", name, s.namespace)
		}
		return nil, err
	}
	return ex, nil
}

// oneLine is an error as the user reads it: the API server's refusal without its wrapping (which
// webhook, which object), the field and the reason kept, on one line.
func oneLine(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		st := status.Status()
		if st.Details != nil && len(st.Details.Causes) > 0 {
			msgs := make([]string, 0, len(st.Details.Causes))
			for _, c := range st.Details.Causes {
				m := c.Message
				if c.Field != "" {
					m = c.Field + ": " + m
				}
				msgs = append(msgs, m)
			}
			return flatten(strings.Join(msgs, "; "))
		}
		if st.Message != "" {
			return flatten(st.Message)
		}
	}
	return flatten(err.Error())
}

func flatten(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
