package bench

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestClassify names the requests the engine and the Event recorder send. It needs no control plane and
// runs with `make test`; the benchmarks do not.
func TestClassify(t *testing.T) {
	cases := map[string]struct {
		reason              string
		method, path, watch string
		want                request
	}{
		"status patch": {
			reason: "the engine's one write per reconcile",
			method: "PATCH", path: "/apis/delivery.gennaker.io/v1alpha1/namespaces/ns1/executions/run-1/status",
			want: request{Namespace: "ns1", Verb: "patch", Resource: "executions/status"},
		},
		"event create": {
			reason: "an Event of a stage transition",
			method: "POST", path: "/apis/events.k8s.io/v1/namespaces/ns1/events",
			want: request{Namespace: "ns1", Verb: "create", Resource: "events"},
		},
		"core get": {
			reason: "the core group has no group segment",
			method: "GET", path: "/api/v1/namespaces/ns1/configmaps/cm",
			want: request{Namespace: "ns1", Verb: "get", Resource: "configmaps"},
		},
		"list": {
			reason: "a GET without a name lists",
			method: "GET", path: "/apis/delivery.gennaker.io/v1alpha1/executions",
			want: request{Verb: "list", Resource: "executions"},
		},
		"watch": {
			reason: "watch=true makes a list a watch",
			method: "GET", path: "/apis/delivery.gennaker.io/v1alpha1/pipelines", watch: "true",
			want: request{Verb: "watch", Resource: "pipelines"},
		},
		"namespace itself": {
			reason: "namespaces/NAME is the cluster-scoped namespace object, not a namespaced path",
			method: "DELETE", path: "/api/v1/namespaces/ns1",
			want: request{Verb: "delete", Resource: "namespaces"},
		},
		"delete collection": {
			reason: "a DELETE without a name deletes a collection",
			method: "DELETE", path: "/apis/delivery.gennaker.io/v1alpha1/namespaces/ns1/executions",
			want: request{Namespace: "ns1", Verb: "deletecollection", Resource: "executions"},
		},
		"discovery": {
			reason: "paths outside the resource API are kept whole",
			method: "GET", path: "/version",
			want: request{Verb: "get", Resource: "/version"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := classify(tc.method, tc.path, tc.watch)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: classify(%s %s) -want +got:\n%s", tc.reason, tc.method, tc.path, diff)
			}
		})
	}
}
