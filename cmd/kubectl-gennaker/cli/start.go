package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

type startOptions struct {
	params    []string
	artifacts []string
	watch     bool
	output    string
}

func newStartCommand(o *Options) *cobra.Command {
	so := &startOptions{}
	cmd := &cobra.Command{
		Use:   "start PIPELINE",
		Short: "Start a run of a pipeline and print its name",
		Example: `  kubectl gennaker start demo -p image=ami-0abc
  kubectl gennaker start demo -p image=ami-0abc --watch
  kubectl gennaker start web --artifact type=DockerImage,reference=registry.example.com/shop/web:1.4@sha256:...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(so.output); err != nil {
				return err
			}
			ex, err := so.execution(args[0])
			if err != nil {
				return err
			}
			s, err := o.session()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ex.Namespace = s.namespace
			if err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: args[0]}, &v1alpha1.Pipeline{}); apierrors.IsNotFound(err) {
				return fmt.Errorf("no pipeline %s in namespace %s", args[0], s.namespace)
			} else if err != nil {
				return err
			}
			if err := s.client.Create(ctx, ex); err != nil {
				return err
			}
			switch {
			case so.watch:
				return s.watch(ctx, ex.Name)
			case so.output != "":
				return s.print(so.output, ex)
			}
			_, err = fmt.Fprintln(s.Out, ex.Name)
			return err
		},
	}
	cmd.Flags().StringArrayVarP(&so.params, "param", "p", nil, "a parameter of the run, key=value (repeatable)")
	cmd.Flags().StringArrayVar(&so.artifacts, "artifact", nil, "an artifact the run deploys, type=...,reference=...[,repository=...][,version=...][,digest=...] (repeatable)")
	cmd.Flags().BoolVarP(&so.watch, "watch", "w", false, "draw the run as it moves, until it ends")
	addOutputFlag(cmd, &so.output)
	return cmd
}

// execution is the run the flags describe, or an error naming the flag at fault.
func (so *startOptions) execution(pipeline string) (*v1alpha1.Execution, error) {
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pipeline + "-"},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: pipeline},
	}
	for _, p := range so.params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want key=value", p)
		}
		if _, dup := ex.Spec.Parameters[k]; dup {
			return nil, fmt.Errorf("--param %s: given twice", k)
		}
		if ex.Spec.Parameters == nil {
			ex.Spec.Parameters = map[string]string{}
		}
		ex.Spec.Parameters[k] = v
	}
	for _, a := range so.artifacts {
		art, err := parseArtifact(a)
		if err != nil {
			return nil, fmt.Errorf("--artifact %q: %w", a, err)
		}
		ex.Spec.Artifacts = append(ex.Spec.Artifacts, art)
	}
	return ex, nil
}

func parseArtifact(s string) (v1alpha1.Artifact, error) {
	var a v1alpha1.Artifact
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return a, fmt.Errorf("%q: want key=value", kv)
		}
		switch k {
		case "type":
			a.Type = v1alpha1.ArtifactType(v)
		case "reference":
			a.Reference = v
		case "repository":
			a.Repository = v
		case "version":
			a.Version = v
		case "digest":
			a.Digest = v
		default:
			return a, fmt.Errorf("unknown key %q: want type, reference, repository, version or digest", k)
		}
	}
	if a.Type == "" || a.Reference == "" {
		return a, fmt.Errorf("type and reference are required")
	}
	return a, nil
}
