// Package docs checks that the user guides say what the API server accepts: every ```yaml block of
// docs/*.md and of the top README.md is applied, in document order, to a real API server with the CRDs and
// the admission webhooks installed, with strict field validation, so a misspelt or removed field in the
// docs fails here rather than in a reader's cluster.
//
// A marker on the line before a block changes what is expected of it:
//
//	<!-- docs-test: fragment -->  a partial snippet: it must parse as YAML, and is not applied
//	<!-- docs-test: rejected -->  the block documents an error: the API server must refuse it
package docs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gennaker/gennaker/test/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

const (
	markerFragment = "<!-- docs-test: fragment -->"
	markerRejected = "<!-- docs-test: rejected -->"
)

// block is one ```yaml fence of a markdown file.
type block struct {
	file   string // relative to the repository root
	line   int    // of the opening fence, 1-based
	marker string // the marker on the line before, if any
	text   string // the content, the fence's indentation removed
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// markdownFiles are the guides and the top README, in a fixed order.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(env.Root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no docs/*.md: the test would check nothing")
	}
	return append([]string{filepath.Join(env.Root, "README.md")}, files...)
}

func TestYAMLBlocksApply(t *testing.T) {
	for _, path := range markdownFiles(t) {
		rel, _ := filepath.Rel(env.Root, path)
		t.Run(rel, func(t *testing.T) {
			blocks, err := yamlBlocks(path, rel)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range blocks {
				if err := check(context.Background(), t, b); err != nil {
					t.Errorf("%s: %v", b, err)
				}
			}
		})
	}
}

// yamlBlocks reads the ```yaml fences of a markdown file, with the marker of each.
func yamlBlocks(path, rel string) ([]block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out          []block
		cur          *block
		indent, prev string
		n            int
		body         strings.Builder
		inOtherFence bool
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil && trimmed == "```":
			cur.text = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(strings.TrimPrefix(line, indent) + "\n")
		case inOtherFence:
			inOtherFence = trimmed != "```"
		case trimmed == "```yaml" || trimmed == "```yml":
			indent = line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			cur = &block{file: rel, line: n}
			if m := strings.TrimSpace(prev); m == markerFragment || m == markerRejected {
				cur.marker = m
			}
			body.Reset()
		case strings.HasPrefix(trimmed, "```"):
			inOtherFence = true
		}
		prev = line
	}
	if cur != nil {
		return nil, fmt.Errorf("%s: the block is never closed", cur)
	}
	return out, sc.Err()
}

// check applies a block (or, for a fragment, parses it) and says how it went against what its marker
// expects. A refusal the block expects is logged, so that `go test -v` shows it was refused for the reason
// the docs give.
func check(ctx context.Context, t *testing.T, b block) error {
	if b.marker == markerFragment {
		return parses(b.text)
	}
	docs, err := documents(b.text)
	if err != nil {
		return fmt.Errorf("not YAML: %v", err)
	}
	if len(docs) == 0 {
		return errors.New("an empty block: mark it as a fragment or remove it")
	}
	for i, u := range docs {
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return fmt.Errorf("document %d has no apiVersion or kind: a snippet needs %q on the line before", i+1, markerFragment)
		}
		err := apply(ctx, u)
		if b.marker == markerRejected {
			if err == nil {
				return fmt.Errorf("%s %s was accepted, but the block is marked rejected", u.GetKind(), u.GetName())
			}
			t.Logf("%s: refused as documented: %v", b, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s %s was refused: %v", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// parses says whether a fragment, which may be any YAML (a list of stages, a bare mapping), parses.
func parses(text string) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not YAML: %v", err)
		}
		var v any
		if err := yaml.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("not YAML: %v", err)
		}
	}
}

// documents splits a block into its YAML documents.
func documents(text string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			return nil, err
		}
		if obj == nil {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

// apply server-side applies u with strict field validation, creating its namespace first.
func apply(ctx context.Context, u *unstructured.Unstructured) error {
	namespaced, err := env.Client.IsObjectNamespaced(u)
	if err != nil {
		return err
	}
	if namespaced {
		if u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: u.GetNamespace()}}
		if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	if u.GetName() == "" && u.GetGenerateName() != "" {
		// Server-side apply needs a name; a run with generateName is created, as kubectl create does.
		return env.Client.Create(ctx, u, client.FieldValidation("Strict"))
	}
	return env.Client.Patch(ctx, u, client.Apply, client.FieldOwner("docs-test"), client.ForceOwnership, client.FieldValidation("Strict"))
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

func TestRelativeLinks(t *testing.T) {
	for _, path := range markdownFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(env.Root, path)
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "#") {
					continue
				}
				target, _, _ = strings.Cut(target, "#")
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), target)); err != nil {
					t.Errorf("%s:%d: link %s points at nothing", rel, i+1, m[1])
				}
			}
		}
	}
}

// TestMarkersAreSeen keeps the extraction honest: a marker that no block follows is a typo or a block the
// parser missed.
func TestMarkersAreSeen(t *testing.T) {
	for _, path := range markdownFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(env.Root, path)
		lines := strings.Split(string(data), "\n")
		for i, line := range lines {
			m := strings.TrimSpace(line)
			if !strings.HasPrefix(m, "<!--") || !strings.Contains(m, "docs-test") {
				continue
			}
			next := ""
			if i+1 < len(lines) {
				next = strings.TrimSpace(lines[i+1])
			}
			if (m != markerFragment && m != markerRejected) || (next != "```yaml" && next != "```yml") {
				t.Errorf("%s:%d: %q must be %q or %q, on the line right before a ```yaml fence", rel, i+1, m, markerFragment, markerRejected)
			}
		}
	}
}
