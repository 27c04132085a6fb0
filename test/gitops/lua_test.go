package gitops_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

// This file is a harness for the Argo CD resource customizations in config/argocd, run the way Argo CD
// runs a customization from argocd-cm (util/lua/lua.go): a fresh gopher-lua state with only the package,
// base and table libraries open, a one-second deadline, the object as the global obj, action
// parameters (strings) as the global actionParams, and the script's result JSON-encoded, an empty table
// as [] as Argo CD's encoder does.

// customizations is the folder Argo CD's resource_customizations layout starts in.
var customizations = filepath.Join("..", "..", "config", "argocd", "resource_customizations")

// HealthStatus is what a health.lua returns, as Argo CD decodes it.
type HealthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// The health statuses Argo CD accepts; any other is shown as Unknown.
var healthStatuses = map[string]bool{"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true}

// runLua runs script on obj and returns its result, JSON-encoded.
func runLua(obj map[string]any, script string, params map[string]string) ([]byte, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	ap := l.CreateTable(0, len(params))
	for k, v := range params {
		ap.RawSetH(lua.LString(k), lua.LString(v))
	}
	l.SetGlobal("actionParams", ap)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		var apiErr *lua.ApiError
		if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
			apiErr.StackTrace = "" // as Argo CD does: the user sees the message alone
			return nil, apiErr
		}
		return nil, err
	}
	v, err := fromLua(l.Get(-1))
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

// fromLua converts a Lua value for JSON as Argo CD's encoder (layeh.com/gopher-json) does: a table whose
// first key is a number is an array, one keyed by strings an object, an empty one an empty array.
func fromLua(v lua.LValue) (any, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		return float64(v), nil
	case lua.LString:
		return string(v), nil
	case *lua.LTable:
		first, _ := v.Next(lua.LNil)
		if first == lua.LNil {
			return []any{}, nil
		}
		if first.Type() == lua.LTNumber {
			var arr []any
			var err error
			expected := 1
			v.ForEach(func(k, item lua.LValue) {
				n, ok := k.(lua.LNumber)
				if !ok || int(n) != expected {
					err = errors.New("cannot encode a table mixing keys, or a sparse array")
				}
				expected++
				conv, cerr := fromLua(item)
				err = errors.Join(err, cerr)
				arr = append(arr, conv)
			})
			return arr, err
		}
		obj := map[string]any{}
		var err error
		v.ForEach(func(k, item lua.LValue) {
			s, ok := k.(lua.LString)
			if !ok {
				err = errors.New("cannot encode a table mixing keys")
				return
			}
			conv, cerr := fromLua(item)
			err = errors.Join(err, cerr)
			obj[string(s)] = conv
		})
		return obj, err
	}
	return nil, fmt.Errorf("cannot encode a Lua %s", v.Type())
}

// health runs a health.lua on obj as Argo CD does.
func health(obj map[string]any, script string) (HealthStatus, error) {
	out, err := runLua(obj, script, nil)
	if err != nil {
		return HealthStatus{}, err
	}
	var hs HealthStatus
	if string(out) == "[]" || string(out) == "null" {
		return hs, nil
	}
	if err := json.Unmarshal(out, &hs); err != nil {
		return HealthStatus{}, err
	}
	if !healthStatuses[hs.Status] {
		return HealthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return hs, nil
}

// Action is one entry of what a discovery.lua returns, as Argo CD lists it.
type Action struct {
	Name        string        `json:"name"`
	Disabled    bool          `json:"disabled"`
	DisplayName string        `json:"displayName,omitempty"`
	IconClass   string        `json:"iconClass,omitempty"`
	Params      []ActionParam `json:"params,omitempty"`
}

// ActionParam is a parameter an action asks for in Argo CD's UI and CLI.
type ActionParam struct {
	Name    string `json:"name"`
	Type    string `json:"type,omitempty"`
	Default string `json:"default,omitempty"`
}

// discover runs a discovery.lua on obj and returns the actions sorted by name.
func discover(obj map[string]any, script string) ([]Action, error) {
	out, err := runLua(obj, script, nil)
	if err != nil {
		return nil, err
	}
	if string(out) == "[]" {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, err
	}
	var actions []Action
	for name, body := range raw {
		a := Action{Name: name}
		if string(body) != "[]" { // {} in Lua: an action with nothing to say, enabled
			if err := json.Unmarshal(body, &a); err != nil {
				return nil, fmt.Errorf("action %s: %w", name, err)
			}
			a.Name = name
		}
		actions = append(actions, a)
	}
	sort.Slice(actions, func(i, j int) bool { return actions[i].Name < actions[j].Name })
	return actions, nil
}

// act runs an action.lua on obj and returns the object it wants, with Argo CD's repair of empty objects
// the Lua encoder turned into empty arrays.
func act(obj map[string]any, script string, params map[string]string) (map[string]any, error) {
	out, err := runLua(obj, script, params)
	if err != nil {
		return nil, err
	}
	var next map[string]any
	if err := json.Unmarshal(out, &next); err != nil {
		return nil, fmt.Errorf("an action returns an object: %w", err)
	}
	return cleanEmpty(next, obj), nil
}

func cleanEmpty(next, old map[string]any) map[string]any {
	for k, ov := range old {
		nv, ok := next[k]
		if !ok {
			continue
		}
		switch nv := nv.(type) {
		case map[string]any:
			if om, ok := ov.(map[string]any); ok {
				next[k] = cleanEmpty(nv, om)
			}
		case []any:
			switch ov := ov.(type) {
			case map[string]any:
				if len(nv) == 0 {
					next[k] = map[string]any{}
				}
			case []any:
				for i := range nv {
					if i < len(ov) {
						nm, ok1 := nv[i].(map[string]any)
						om, ok2 := ov[i].(map[string]any)
						if ok1 && ok2 {
							nv[i] = cleanEmpty(nm, om)
						}
					}
				}
			}
		}
	}
	return next
}

// readObject reads a YAML object as JSON would decode it (numbers as float64), as Argo CD's tests do.
func readObject(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(j, &obj); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}

func readScript(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The layouts of health_test.yaml and action_test.yaml, Argo CD's.
type healthTests struct {
	Tests []struct {
		HealthStatus HealthStatus `json:"healthStatus"`
		InputPath    string       `json:"inputPath"`
	} `json:"tests"`
}

type actionTests struct {
	DiscoveryTests []struct {
		InputPath string   `json:"inputPath"`
		Result    []Action `json:"result"`
	} `json:"discoveryTests"`
	ActionTests []struct {
		Action               string            `json:"action"`
		InputPath            string            `json:"inputPath"`
		ExpectedOutputPath   string            `json:"expectedOutputPath"`
		ExpectedErrorMessage string            `json:"expectedErrorMessage"`
		Parameters           map[string]string `json:"parameters"`
	} `json:"actionTests"`
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// kinds lists the customized kinds' folders, group/Kind.
func kinds(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(customizations, "*", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no resource customizations under %s (%v)", customizations, err)
	}
	return dirs
}

// TestHealthScripts runs every health_test.yaml: each captured object gets the health it lists.
func TestHealthScripts(t *testing.T) {
	for _, dir := range kinds(t) {
		var tests healthTests
		readYAML(t, filepath.Join(dir, "health_test.yaml"), &tests)
		if len(tests.Tests) == 0 {
			t.Errorf("%s: health_test.yaml has no tests", dir)
		}
		script := readScript(t, filepath.Join(dir, "health.lua"))
		for _, tc := range tests.Tests {
			t.Run(filepath.Base(dir)+"/"+tc.InputPath, func(t *testing.T) {
				got, err := health(readObject(t, filepath.Join(dir, tc.InputPath)), script)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.HealthStatus, got); diff != "" {
					t.Errorf("health (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestActionScripts runs every action_test.yaml: the actions discovered on each object, and what each
// action makes of an object (or the error it gives).
func TestActionScripts(t *testing.T) {
	found := false
	for _, dir := range kinds(t) {
		path := filepath.Join(dir, "actions", "action_test.yaml")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		found = true
		var tests actionTests
		readYAML(t, path, &tests)
		actionsDir := filepath.Dir(path)
		discovery := readScript(t, filepath.Join(actionsDir, "discovery.lua"))
		for _, tc := range tests.DiscoveryTests {
			t.Run(filepath.Base(dir)+"/discovery/"+tc.InputPath, func(t *testing.T) {
				got, err := discover(readObject(t, filepath.Join(actionsDir, tc.InputPath)), discovery)
				if err != nil {
					t.Fatal(err)
				}
				want := append([]Action(nil), tc.Result...)
				sort.Slice(want, func(i, j int) bool { return want[i].Name < want[j].Name })
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("actions (-want +got):\n%s", diff)
				}
			})
		}
		for _, tc := range tests.ActionTests {
			t.Run(filepath.Base(dir)+"/"+tc.Action+"/"+tc.InputPath, func(t *testing.T) {
				script := readScript(t, filepath.Join(actionsDir, tc.Action, "action.lua"))
				got, err := act(readObject(t, filepath.Join(actionsDir, tc.InputPath)), script, tc.Parameters)
				if tc.ExpectedErrorMessage != "" {
					if err == nil || err.Error() != tc.ExpectedErrorMessage {
						t.Fatalf("error = %v, want %q", err, tc.ExpectedErrorMessage)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				want := readObject(t, filepath.Join(actionsDir, tc.ExpectedOutputPath))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("object (-want +got):\n%s", diff)
				}
			})
		}
	}
	if !found {
		t.Fatal("no action_test.yaml found")
	}
}
