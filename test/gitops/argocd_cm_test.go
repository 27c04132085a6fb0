package gitops_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// argocdCM is config/argocd/argocd-cm.yaml, the patch that installs the customizations into an Argo CD
// that does not ship them yet.
var argocdCM = filepath.Join("..", "..", "config", "argocd", "argocd-cm.yaml")

// customizationData is what argocd-cm's data holds for the customizations under config/argocd: one
// resource.customizations.health.<group>_<Kind> key per health.lua, and one
// resource.customizations.actions.<group>_<Kind> key (discovery.lua and the definitions) per actions
// folder, the Lua files' text as they are.
func customizationData(t *testing.T) map[string]string {
	t.Helper()
	data := map[string]string{}
	for _, dir := range kinds(t) {
		key := filepath.Base(filepath.Dir(dir)) + "_" + filepath.Base(dir)
		data["resource.customizations.health."+key] = readScript(t, filepath.Join(dir, "health.lua"))
		actions := filepath.Join(dir, "actions")
		if _, err := os.Stat(filepath.Join(actions, "discovery.lua")); err != nil {
			continue
		}
		scripts, err := filepath.Glob(filepath.Join(actions, "*", "action.lua"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(scripts)
		type definition struct {
			Name      string `json:"name"`
			ActionLua string `json:"action.lua"`
		}
		var defs []definition
		for _, s := range scripts {
			defs = append(defs, definition{Name: filepath.Base(filepath.Dir(s)), ActionLua: readScript(t, s)})
		}
		b, err := yaml.Marshal(struct {
			Discovery   string       `json:"discovery.lua"`
			Definitions []definition `json:"definitions"`
		}{readScript(t, filepath.Join(actions, "discovery.lua")), defs})
		if err != nil {
			t.Fatal(err)
		}
		data["resource.customizations.actions."+key] = string(b)
	}
	return data
}

const argocdCMHeader = `# Patch for Argo CD's argocd-cm ConfigMap: Gennaker's health checks and actions, for an Argo CD that does
# not ship config/argocd/resource_customizations yet. Apply it with
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file config/argocd/argocd-cm.yaml
# Generated from the Lua files by: go test ./test/gitops -run TestArgoCDConfigMap -update
`

// TestArgoCDConfigMap checks the argocd-cm patch carries the Lua files as they are (-update rewrites it).
func TestArgoCDConfigMap(t *testing.T) {
	want := customizationData(t)
	if *update {
		b, err := yaml.Marshal(map[string]any{"data": want})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(argocdCM, []byte(argocdCMHeader+string(b)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		Data map[string]string `json:"data"`
	}
	readYAML(t, argocdCM, &got)
	if diff := cmp.Diff(want, got.Data); diff != "" {
		t.Errorf("config/argocd/argocd-cm.yaml is stale (go test ./test/gitops -run TestArgoCDConfigMap -update) (-want +got):\n%s", diff)
	}
	for k := range got.Data {
		if !strings.HasPrefix(k, "resource.customizations.") {
			t.Errorf("argocd-cm key %s is not a resource customization", k)
		}
	}
}

// TestArgoCDPatchesApply runs the README's kubectl commands for an Argo CD install on a real API server:
// both patches apply to Argo CD's ConfigMaps, and argocd-cm then holds every customization.
func TestArgoCDPatchesApply(t *testing.T) {
	for _, args := range [][]string{
		{"create", "namespace", "argocd"},
		{"-n", "argocd", "create", "configmap", "argocd-cm", "--from-literal=url=https://argocd.example.com"},
		{"-n", "argocd", "create", "configmap", "argocd-rbac-cm"},
		{"-n", "argocd", "patch", "configmap", "argocd-cm", "--type", "merge", "--patch-file", argocdCM},
		{"-n", "argocd", "patch", "configmap", "argocd-rbac-cm", "--type", "merge", "--patch-file", filepath.Join("..", "..", "config", "argocd", "argocd-rbac-cm.yaml")},
	} {
		if out, err := env.Kubectl(args...); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := env.Kubectl("-n", "argocd", "get", "configmap", "argocd-cm", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal([]byte(out), &cm); err != nil {
		t.Fatal(err)
	}
	want := customizationData(t)
	want["url"] = "https://argocd.example.com"
	if diff := cmp.Diff(want, cm.Data); diff != "" {
		t.Errorf("argocd-cm after the patch (-want +got):\n%s", diff)
	}
}
