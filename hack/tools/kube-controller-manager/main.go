// Command kube-controller-manager is upstream's, built from the module proxy. Not needed by the tests
// today; it is here for later providers whose pods must really become Ready (with kube-scheduler and a
// fake kubelet). Build it with `hack/build-k8s.sh kube-controller-manager`.
package main

import (
	"os"
	_ "time/tzdata" // for CronJob time zones, as upstream does

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
