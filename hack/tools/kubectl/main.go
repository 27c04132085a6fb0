// Command kubectl is upstream's kubectl, built from the module proxy at the control plane's version.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	// As upstream's kubectl main: RunNoErrOutput leaves printing the error to CheckErr, which also sets the
	// exit code.
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err)
	}
}
