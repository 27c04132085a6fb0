// Package dag is the stage graph of a pipeline, in the manner of Tekton's pipeline/dag: nodes named by
// strings, linked by the names they depend on. It knows nothing of Kubernetes or of the API types, so that
// validation (at apply time) and the execution engine (at run time) share one definition of what a valid
// graph is and of what may run next.
//
// Edges follow dependsOn: in a cycle path "a -> b -> c -> a", a depends on b, b on c and c on a.
package dag

import (
	"fmt"
	"slices"
	"strings"
)

// Node is one vertex of the graph: a name, and the names of the nodes that must finish before it starts.
type Node struct {
	Name      string
	DependsOn []string
}

// Kind tells the problems of a graph apart.
type Kind int

const (
	// Duplicate: two nodes share a name.
	Duplicate Kind = iota + 1
	// UnknownDependency: a node depends on a name no node has.
	UnknownDependency
	// Cycle: following dependsOn from a node leads back to it.
	Cycle
)

func (k Kind) String() string {
	switch k {
	case Duplicate:
		return "Duplicate"
	case UnknownDependency:
		return "UnknownDependency"
	case Cycle:
		return "Cycle"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Error is one problem of a graph. The fields let callers (validation above all) phrase their own message
// and put it on the right field, so Error() stays generic.
type Error struct {
	Kind Kind
	// Node is the node at fault: the later of two duplicates, the node with the unknown dependency, or the
	// first node of the cycle path.
	Node string
	// Index is the position of Node in the input.
	Index int
	// Dependency is the unknown name, for UnknownDependency.
	Dependency string
	// Path is the cycle for Cycle, starting and ending with Node.
	Path []string
}

func (e *Error) Error() string {
	switch e.Kind {
	case Duplicate:
		return fmt.Sprintf("duplicate node %q", e.Node)
	case UnknownDependency:
		return fmt.Sprintf("node %q depends on unknown node %q", e.Node, e.Dependency)
	case Cycle:
		return "cycle: " + strings.Join(e.Path, " -> ")
	default:
		return fmt.Sprintf("%s: node %q", e.Kind, e.Node)
	}
}

// Graph is a valid graph: unique names, known dependencies, no cycle. It is immutable and safe for
// concurrent use.
type Graph struct {
	names []string
	deps  map[string][]string
}

// Build checks the nodes and returns their graph, or the first problem Check finds.
func Build(nodes []Node) (*Graph, error) {
	if errs := Check(nodes); len(errs) > 0 {
		return nil, errs[0]
	}
	g := &Graph{names: make([]string, 0, len(nodes)), deps: make(map[string][]string, len(nodes))}
	for _, n := range nodes {
		g.names = append(g.names, n.Name)
		g.deps[n.Name] = uniq(n.DependsOn)
	}
	return g, nil
}

// Check returns every problem of the nodes, so that validation can report them all at once. The order is
// deterministic: duplicates and unknown dependencies in input order, then one cycle per strongly connected
// component, sorted by the cycle's first node.
//
// A cycle's path starts at the lexicographically smallest node of its component and is the shortest way
// back to it, ties broken by taking the lexicographically smallest dependency first. This makes the message
// independent of the order of nodes and of dependsOn lists, so it does not change when a user reorders a
// manifest. A component with several cycles is reported once: breaking the reported one shows the next.
func Check(nodes []Node) []*Error {
	var errs []*Error
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		if _, dup := index[n.Name]; dup {
			errs = append(errs, &Error{Kind: Duplicate, Node: n.Name, Index: i})
			continue
		}
		index[n.Name] = i
	}
	// Edges of the first node of each name only, and only to known names: the problems above are already
	// reported, and cycles are still worth finding among the rest.
	edges := make(map[string][]string, len(nodes))
	for i, n := range nodes {
		first := index[n.Name] == i
		for _, d := range uniq(n.DependsOn) {
			if _, ok := index[d]; !ok {
				errs = append(errs, &Error{Kind: UnknownDependency, Node: n.Name, Index: i, Dependency: d})
				continue
			}
			if first {
				edges[n.Name] = append(edges[n.Name], d)
			}
		}
	}
	for name := range edges {
		slices.Sort(edges[name])
	}

	var cycles []*Error
	for _, comp := range components(nodes, index, edges) {
		path := shortestCycle(comp, edges)
		if path == nil {
			continue
		}
		cycles = append(cycles, &Error{Kind: Cycle, Node: path[0], Index: index[path[0]], Path: path})
	}
	slices.SortFunc(cycles, func(a, b *Error) int { return strings.Compare(a.Node, b.Node) })
	return append(errs, cycles...)
}

// components returns the strongly connected components (Tarjan), each as a set of names.
func components(nodes []Node, index map[string]int, edges map[string][]string) []map[string]bool {
	var (
		next    int
		order   = map[string]int{}
		low     = map[string]int{}
		onStack = map[string]bool{}
		stack   []string
		comps   []map[string]bool
	)
	var visit func(v string)
	visit = func(v string) {
		order[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if _, seen := order[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], order[w])
			}
		}
		if low[v] != order[v] {
			return
		}
		comp := map[string]bool{}
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp[w] = true
			if w == v {
				break
			}
		}
		comps = append(comps, comp)
	}
	for i, n := range nodes {
		if index[n.Name] != i {
			continue
		}
		if _, seen := order[n.Name]; !seen {
			visit(n.Name)
		}
	}
	return comps
}

// shortestCycle returns the shortest cycle through the smallest name of comp, or nil when comp has no
// cycle (a single node without a self-loop).
func shortestCycle(comp map[string]bool, edges map[string][]string) []string {
	start := ""
	for name := range comp {
		if start == "" || name < start {
			start = name
		}
	}
	if len(comp) == 1 && !slices.Contains(edges[start], start) {
		return nil
	}
	// Breadth-first over sorted edges: the first path to reach start again is the shortest, and the
	// lexicographically smallest among the shortest.
	parent := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range edges[v] {
			if !comp[w] {
				continue
			}
			if w == start {
				path := []string{start}
				for u := v; u != start; u = parent[u] {
					path = append(path, u)
				}
				slices.Reverse(path[1:])
				return append(path, start)
			}
			if _, seen := parent[w]; !seen {
				parent[w] = v
				queue = append(queue, w)
			}
		}
	}
	return nil // unreachable: every node of a component of two or more lies on a cycle
}

// Names returns the nodes' names in input order.
func (g *Graph) Names() []string { return slices.Clone(g.names) }

// DependsOn returns the dependencies of a node, without repeats, in the order given; nil for an unknown
// name.
func (g *Graph) DependsOn(name string) []string { return slices.Clone(g.deps[name]) }

// Runnable returns, in input order, the nodes that may start now: not started, not finished, and all of
// whose dependencies finished. What "finished" means (succeeded, skipped, failed but continuing) is the
// caller's business; a node absent from both maps has not started.
func (g *Graph) Runnable(finished, started map[string]bool) []string {
	var out []string
	for _, name := range g.names {
		if started[name] || finished[name] {
			continue
		}
		ready := true
		for _, d := range g.deps[name] {
			if !finished[d] {
				ready = false
				break
			}
		}
		if ready {
			out = append(out, name)
		}
	}
	return out
}

// uniq drops repeated names, keeping the first of each.
func uniq(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
