package dag

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"
)

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func TestRunnable(t *testing.T) {
	// A diamond with a tail, and an independent root:
	//
	//	    a       x
	//	   / \
	//	  b   c
	//	   \ /
	//	    d
	//	    |
	//	    e
	diamond := []Node{
		{Name: "a"},
		{Name: "b", DependsOn: []string{"a"}},
		{Name: "c", DependsOn: []string{"a"}},
		{Name: "d", DependsOn: []string{"c", "b"}},
		{Name: "e", DependsOn: []string{"d"}},
		{Name: "x"},
	}
	tests := map[string]struct {
		finished     map[string]bool
		started      map[string]bool
		wantRunnable []string
	}{
		"nothing started: every root, in input order": {
			wantRunnable: []string{"a", "x"},
		},
		"roots running": {
			started:      set("a", "x"),
			wantRunnable: nil,
		},
		"a finished: both branches, in input order": {
			finished:     set("a"),
			started:      set("a", "x"),
			wantRunnable: []string{"b", "c"},
		},
		"one branch finished: the join waits for the other": {
			finished:     set("a", "b", "x"),
			started:      set("a", "b", "c", "x"),
			wantRunnable: nil,
		},
		"both branches finished: the join": {
			finished:     set("a", "b", "c"),
			started:      set("a", "b", "c", "x"),
			wantRunnable: []string{"d"},
		},
		"finished but not marked started is not run again": {
			finished:     set("a", "b", "c", "d", "x"),
			wantRunnable: []string{"e"},
		},
		"everything finished": {
			finished:     set("a", "b", "c", "d", "e", "x"),
			wantRunnable: nil,
		},
		"names outside the graph are ignored": {
			finished:     set("zzz"),
			started:      set("yyy"),
			wantRunnable: []string{"a", "x"},
		},
	}
	graph, err := Build(diamond)
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(graph.Runnable(tt.finished, tt.started)).To(Equal(tt.wantRunnable))
		})
	}
}

func TestGraphAccessors(t *testing.T) {
	g := NewWithT(t)
	graph, err := Build([]Node{
		{Name: "b", DependsOn: []string{"a", "a"}},
		{Name: "a"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(graph.Names()).To(Equal([]string{"b", "a"}))
	g.Expect(graph.DependsOn("b")).To(Equal([]string{"a"}), "repeated dependencies collapse")
	g.Expect(graph.DependsOn("nope")).To(BeEmpty())
	// A repeated dependency must not make the node wait for a second finish.
	g.Expect(graph.Runnable(set("a"), set("a"))).To(Equal([]string{"b"}))
}

func TestBuildEmpty(t *testing.T) {
	g := NewWithT(t)
	graph, err := Build(nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(graph.Runnable(nil, nil)).To(BeEmpty())
}

func TestCheck(t *testing.T) {
	tests := map[string]struct {
		nodes []Node
		want  []string // Error() of each problem, in order
	}{
		"valid chain": {
			// a <- b <- c
			nodes: []Node{{Name: "a"}, {Name: "b", DependsOn: []string{"a"}}, {Name: "c", DependsOn: []string{"b"}}},
			want:  nil,
		},
		"self-loop": {
			// a <-+
			// |   |
			// +---+
			nodes: []Node{{Name: "a", DependsOn: []string{"a"}}},
			want:  []string{"cycle: a -> a"},
		},
		"2-cycle, reported from the smallest name whatever the input order": {
			// b <-> a
			nodes: []Node{{Name: "b", DependsOn: []string{"a"}}, {Name: "a", DependsOn: []string{"b"}}},
			want:  []string{"cycle: a -> b -> a"},
		},
		"3-cycle inside a larger graph": {
			//	root <- m -> n -> p -> m      (m depends on root and on n, and so on)
			//	             ^
			//	leaf --------+
			nodes: []Node{
				{Name: "root"},
				{Name: "p", DependsOn: []string{"m"}},
				{Name: "n", DependsOn: []string{"p"}},
				{Name: "m", DependsOn: []string{"root", "n"}},
				{Name: "leaf", DependsOn: []string{"n"}},
			},
			want: []string{"cycle: m -> n -> p -> m"},
		},
		"two disjoint cycles, sorted by their first node": {
			//	z -> y -> z        c -> d -> e -> c
			nodes: []Node{
				{Name: "z", DependsOn: []string{"y"}},
				{Name: "y", DependsOn: []string{"z"}},
				{Name: "e", DependsOn: []string{"c"}},
				{Name: "d", DependsOn: []string{"e"}},
				{Name: "c", DependsOn: []string{"d"}},
			},
			want: []string{"cycle: c -> d -> e -> c", "cycle: y -> z -> y"},
		},
		"one component with two cycles: the shortest through the smallest node": {
			//	a -> b -> c -> a
			//	a -> d -> a
			nodes: []Node{
				{Name: "a", DependsOn: []string{"b", "d"}},
				{Name: "b", DependsOn: []string{"c"}},
				{Name: "c", DependsOn: []string{"a"}},
				{Name: "d", DependsOn: []string{"a"}},
			},
			want: []string{"cycle: a -> d -> a"},
		},
		"equal-length cycles: the smallest dependency first, whatever the dependsOn order": {
			//	a -> c -> a
			//	a -> b -> a
			nodes: []Node{
				{Name: "a", DependsOn: []string{"c", "b"}},
				{Name: "b", DependsOn: []string{"a"}},
				{Name: "c", DependsOn: []string{"a"}},
			},
			want: []string{"cycle: a -> b -> a"},
		},
		"duplicate name": {
			nodes: []Node{{Name: "a"}, {Name: "b"}, {Name: "a"}},
			want:  []string{`duplicate node "a"`},
		},
		"unknown dependencies, in input order": {
			nodes: []Node{{Name: "a", DependsOn: []string{"x", "y"}}, {Name: "b", DependsOn: []string{"a", "w"}}},
			want: []string{
				`node "a" depends on unknown node "x"`,
				`node "a" depends on unknown node "y"`,
				`node "b" depends on unknown node "w"`,
			},
		},
		"every kind at once: duplicates and unknowns first, then cycles": {
			nodes: []Node{
				{Name: "b", DependsOn: []string{"a"}},
				{Name: "a", DependsOn: []string{"b", "ghost"}},
				{Name: "b"},
			},
			want: []string{
				`duplicate node "b"`,
				`node "a" depends on unknown node "ghost"`,
				"cycle: a -> b -> a",
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			var got []string
			for _, e := range Check(tt.nodes) {
				got = append(got, e.Error())
			}
			g.Expect(got).To(Equal(tt.want))

			_, err := Build(tt.nodes)
			if tt.want == nil {
				g.Expect(err).NotTo(HaveOccurred())
			} else {
				g.Expect(err).To(MatchError(tt.want[0]))
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	g := NewWithT(t)
	errs := Check([]Node{
		{Name: "a"},
		{Name: "b", DependsOn: []string{"c"}},
		{Name: "c", DependsOn: []string{"b", "nope"}},
		{Name: "a"},
	})
	g.Expect(errs).To(HaveLen(3))
	g.Expect(*errs[0]).To(Equal(Error{Kind: Duplicate, Node: "a", Index: 3}))
	g.Expect(*errs[1]).To(Equal(Error{Kind: UnknownDependency, Node: "c", Index: 2, Dependency: "nope"}))
	g.Expect(*errs[2]).To(Equal(Error{Kind: Cycle, Node: "b", Index: 1, Path: []string{"b", "c", "b"}}))

	// Build's error is typed, so callers can tell the kinds apart with errors.As.
	_, err := Build([]Node{{Name: "a", DependsOn: []string{"a"}}})
	var dagErr *Error
	g.Expect(errors.As(err, &dagErr)).To(BeTrue())
	g.Expect(dagErr.Kind).To(Equal(Cycle))
	g.Expect(dagErr.Kind.String()).To(Equal("Cycle"))
	g.Expect(dagErr.Node).To(Equal("a"))
}
