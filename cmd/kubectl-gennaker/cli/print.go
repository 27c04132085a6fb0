package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// addOutputFlag is kubectl's -o for the formats that show objects rather than this plugin's tables.
func addOutputFlag(cmd *cobra.Command, output *string) {
	cmd.Flags().StringVarP(output, "output", "o", "", "json, yaml or name instead of the table")
}

// print writes obj (an object or a list) as kubectl -o does.
func (o *Options) print(output string, obj runtime.Object) error {
	var p printers.ResourcePrinter
	switch output {
	case "json":
		p = &printers.JSONPrinter{}
	case "yaml":
		p = &printers.YAMLPrinter{}
	case "name":
		p = &printers.NamePrinter{}
	default:
		return fmt.Errorf("--output %q is not one of json, yaml, name", output)
	}
	// The API's typed objects come back without apiVersion and kind, which the printers need.
	if err := setKind(obj); err != nil {
		return err
	}
	if meta.IsListType(obj) {
		if err := meta.EachListItem(obj, setKind); err != nil {
			return err
		}
	}
	return p.PrintObj(obj, o.Out)
}

func setKind(obj runtime.Object) error {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return nil
}

// checkOutput refuses an unknown -o before anything is changed.
func checkOutput(output string) error {
	switch output {
	case "", "json", "yaml", "name":
		return nil
	}
	return fmt.Errorf("--output %q is not one of json, yaml, name", output)
}
