package expr

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/cel-go/cel"
	. "github.com/onsi/gomega"
)

// vars is a run in the middle of its life, shaped the way the engine builds it: stage outputs come from
// JSON, so numbers are float64.
var vars = Vars{
	Parameters: map[string]string{"env": "prod", "image": "ami-0abc", "region": "us-east-1"},
	Stages: map[string]any{
		"deploy": map[string]any{
			"phase":   "Succeeded",
			"outputs": map[string]any{"healthy": float64(3), "serverGroup": "shop-main-v003", "zones": []any{"a", "b"}},
		},
	},
	Trigger:   map[string]any{"type": "cron", "user": "system:serviceaccount:gennaker:trigger"},
	Execution: map[string]any{"name": "shop-x7k2p", "namespace": "shop"},
}

func TestCompile(t *testing.T) {
	tests := map[string]struct {
		src     string
		opts    []Option
		wantErr string // substring; empty means it compiles
	}{
		"parameter comparison":      {src: "parameters.env == 'prod'"},
		"parameter by index":        {src: "parameters['env'] != ''"},
		"stage outputs are dyn":     {src: "stages['deploy'].outputs.healthy >= 3"},
		"stage phase":               {src: "stages.deploy.phase == 'Succeeded'"},
		"trigger and execution":     {src: "trigger.type == 'cron' && execution.namespace == 'shop'"},
		"strings extension":         {src: "parameters.image.lowerAscii().startsWith('ami-') && 'a,b'.split(',').size() == 2"},
		"macros":                    {src: "has(parameters.env) && ['a','b'].all(x, x != parameters.env)"},
		"non-bool compiles":         {src: "parameters.image + '-x'"},
		"response with its option":  {src: "response.status == 200", opts: []Option{WithResponse()}},
		"undeclared variable":       {src: "foo == 1", wantErr: "ERROR: <input>:1:1: undeclared reference to 'foo'"},
		"response without option":   {src: "response.status == 200", wantErr: "undeclared reference to 'response'"},
		"syntax error":              {src: "parameters.env ==", wantErr: "ERROR: <input>:1:18: Syntax error"},
		"type error":                {src: "parameters.env + 1", wantErr: "found no matching overload for '_+_'"},
		"empty":                     {src: "  ", wantErr: "expression is empty"},
		"bad format call is caught": {src: "'%d'.format(['x'])", wantErr: "ERROR: <input>"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			x, err := Compile(tt.src, tt.opts...)
			if tt.wantErr == "" {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(x.Source()).To(Equal(tt.src))
				return
			}
			g.Expect(err).To(MatchError(ContainSubstring(tt.wantErr)))
			g.Expect(err.Error()).NotTo(ContainSubstring("\n"), "messages go into conditions: one line")
			g.Expect(err.Error()).NotTo(ContainSubstring("in container"))
		})
	}
}

func TestCompileBool(t *testing.T) {
	tests := map[string]struct {
		src     string
		wantErr string
	}{
		"bool":                     {src: "parameters.env == 'prod'"},
		"dyn is checked at run":    {src: "stages['deploy'].outputs.ready"},
		"string":                   {src: "parameters.env", wantErr: "must yield a bool, not string"},
		"int":                      {src: "size(parameters)", wantErr: "must yield a bool, not int"},
		"compile error goes first": {src: "nope", wantErr: "undeclared reference to 'nope'"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := CompileBool(tt.src)
			if tt.wantErr == "" {
				g.Expect(err).NotTo(HaveOccurred())
			} else {
				g.Expect(err).To(MatchError(ContainSubstring(tt.wantErr)))
			}
		})
	}
}

func TestParameterRefs(t *testing.T) {
	tests := map[string]struct {
		src  string
		want []string
	}{
		"none":                    {src: "stages['deploy'].phase == 'Succeeded'", want: []string{}},
		"select":                  {src: "parameters.env == 'prod'", want: []string{"env"}},
		"index":                   {src: "parameters['image'] != ''", want: []string{"image"}},
		"sorted, no repeats":      {src: "parameters.z + parameters['a'] + parameters.z == ''", want: []string{"a", "z"}},
		"inside has()":            {src: "has(parameters.canary)", want: []string{"canary"}},
		"inside a comprehension":  {src: "['x'].exists(v, v == parameters.env)", want: []string{"env"}},
		"computed key is unknown": {src: "parameters[parameters.which] == ''", want: []string{"which"}},
		"other maps do not count": {src: "trigger.env == stages['env'].phase", want: []string{}},
		"size of the whole map":   {src: "size(parameters) > 0", want: []string{}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := ParameterRefs(tt.src)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}

	t.Run("compile error", func(t *testing.T) {
		g := NewWithT(t)
		_, err := ParameterRefs("parameters.")
		g.Expect(err).To(HaveOccurred())
	})
}

func TestStageRefs(t *testing.T) {
	g := NewWithT(t)
	x, err := Compile("stages['deploy'].phase == 'Succeeded' && stages.bake.outputs.ok && parameters.x == ''")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(x.StageRefs()).To(Equal([]string{"bake", "deploy"}))
}

func TestEval(t *testing.T) {
	tests := map[string]struct {
		src     string
		want    bool
		wantErr string
	}{
		"parameter":                       {src: "parameters.env == 'prod'", want: true},
		"JSON number against int literal": {src: "stages['deploy'].outputs.healthy >= 3", want: true},
		"list output":                     {src: "'b' in stages['deploy'].outputs.zones", want: true},
		"strings extension":               {src: "parameters.region.split('-')[0] == 'us'", want: true},
		"missing key is an error":         {src: "parameters.nope == ''", wantErr: "no such key: nope"},
		"dyn that is not a bool":          {src: "stages['deploy'].outputs.serverGroup", wantErr: "yields string, not a bool"},
		"cost limit":                      {src: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))", wantErr: "cost limit exceeded"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			x, err := CompileBool(tt.src)
			g.Expect(err).NotTo(HaveOccurred())
			got, err := x.EvalBool(vars)
			if tt.wantErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tt.wantErr)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

func TestEvalNilVars(t *testing.T) {
	g := NewWithT(t)
	// A run nobody triggered has no trigger map: reading it must fail on the key, not on the variable.
	x, err := CompileBool("has(trigger.type)")
	g.Expect(err).NotTo(HaveOccurred())
	got, err := x.EvalBool(Vars{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(BeFalse())
}

func TestWithVariable(t *testing.T) {
	g := NewWithT(t)
	env, err := NewEnv(WithResponse(), WithVariable("attempt", cel.IntType))
	g.Expect(err).NotTo(HaveOccurred())
	x, err := env.CompileBool("response.status == 200 && response.body.state == 'done' && attempt < 3")
	g.Expect(err).NotTo(HaveOccurred())
	got, err := x.EvalBool(Vars{Extra: map[string]any{
		"response": map[string]any{"status": 200, "body": map[string]any{"state": "done"}},
		"attempt":  2,
	}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(BeTrue())

	_, err = NewEnv(WithVariable(VarParameters, cel.IntType))
	g.Expect(err).To(MatchError(`variable "parameters" is already declared`))
	_, err = NewEnv(WithResponse(), WithResponse())
	g.Expect(err).To(MatchError(`variable "response" is already declared`))
}

func TestCachedEnvConcurrent(t *testing.T) {
	// Validation of many pipelines compiles in parallel through the package-level functions.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if _, err := CompileBool("response.status == 200", WithResponse()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestParseTemplate(t *testing.T) {
	tests := map[string]struct {
		src       string
		opts      []Option
		wantExprs []string
		wantErr   string
	}{
		"no expression":             {src: "ami-0abc", wantExprs: nil},
		"empty":                     {src: "", wantExprs: nil},
		"one":                       {src: "ami-${ parameters.image }", wantExprs: []string{" parameters.image "}},
		"several, no spaces":        {src: "${parameters.a}-${parameters['b']}", wantExprs: []string{"parameters.a", "parameters['b']"}},
		"braces of a map literal":   {src: "${ {'a': parameters.x}['a'] }", wantExprs: []string{" {'a': parameters.x}['a'] "}},
		"brace in a string":         {src: `${ parameters.x + '}' }!`, wantExprs: []string{` parameters.x + '}' `}},
		"escaped quote in a string": {src: `${ "a\"}" + parameters.x }`, wantExprs: []string{` "a\"}" + parameters.x `}},
		"raw string":                {src: `${ r'\' + parameters.x }`, wantExprs: []string{` r'\' + parameters.x `}},
		"triple-quoted string":      {src: `${ '''it's }''' + parameters.x }`, wantExprs: []string{` '''it's }''' + parameters.x `}},
		"escaped ${":                {src: "echo $${HOME}", wantExprs: nil},
		"lone $ and }":              {src: "cost: $5 }", wantExprs: nil},
		"response with its option":  {src: "${ response.body.url }", opts: []Option{WithResponse()}, wantExprs: []string{" response.body.url "}},
		"unterminated":              {src: "ami-${ parameters.image", wantErr: "${ at offset 4 is not closed by }"},
		"unterminated string":       {src: "${ 'abc }", wantErr: "${ at offset 0 is not closed by }"},
		"does not compile":          {src: "x-${ parameters.image + }", wantErr: "${ parameters.image + } at offset 2: ERROR: <input>:1:"},
		"undeclared":                {src: "${ nope }", wantErr: "undeclared reference to 'nope'"},
		"empty expression":          {src: "a${ }b", wantErr: "${ } at offset 1: expression is empty"},
		"response without option":   {src: "${ response.body.url }", wantErr: "undeclared reference to 'response'"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			tmpl, err := ParseTemplate(tt.src, tt.opts...)
			if tt.wantErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tt.wantErr)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(tmpl.Source()).To(Equal(tt.src))
			var got []string
			for _, x := range tmpl.Expressions() {
				got = append(got, x.Source())
			}
			g.Expect(got).To(Equal(tt.wantExprs))
		})
	}
}

func TestTemplateRefs(t *testing.T) {
	g := NewWithT(t)
	tmpl, err := ParseTemplate("${ parameters.b }/${ parameters['a'] }/${ stages['bake'].outputs.ami }/${ parameters.b }")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tmpl.ParameterRefs()).To(Equal([]string{"a", "b"}))
	g.Expect(tmpl.StageRefs()).To(Equal([]string{"bake"}))
}

func TestRender(t *testing.T) {
	tests := map[string]struct {
		src     string
		want    string
		wantErr string
	}{
		"literal only":        {src: "plain", want: "plain"},
		"string":              {src: "ami-${ parameters.image }", want: "ami-ami-0abc"},
		"several":             {src: "${parameters.env}/${parameters.region}/", want: "prod/us-east-1/"},
		"escaped ${":          {src: "$${HOME}=${ parameters.env }", want: "${HOME}=prod"},
		"JSON number":         {src: "n=${ stages['deploy'].outputs.healthy }", want: "n=3"},
		"int":                 {src: "${ 1 + 2 }", want: "3"},
		"bool":                {src: "${ parameters.env == 'prod' }", want: "true"},
		"null":                {src: "[${ null }]", want: "[]"},
		"list as JSON":        {src: "${ stages['deploy'].outputs.zones }", want: `["a","b"]`},
		"map as JSON":         {src: `{"v": ${ {'k': parameters.env} }}`, want: `{"v": {"k":"prod"}}`},
		"strings extension":   {src: "${ parameters.env.upperAscii() }", want: "PROD"},
		"missing key":         {src: "${ parameters.nope }", wantErr: "no such key: nope"},
		"not renderable type": {src: `${ b'\xff' }`, wantErr: "cannot render a bytes"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			tmpl, err := ParseTemplate(tt.src)
			g.Expect(err).NotTo(HaveOccurred())
			got, err := tmpl.Render(vars)
			if tt.wantErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tt.wantErr)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

func TestFormatIssuesOneLine(t *testing.T) {
	g := NewWithT(t)
	_, err := Compile("foo + bar")
	g.Expect(err).To(MatchError("ERROR: <input>:1:1: undeclared reference to 'foo'; ERROR: <input>:1:7: undeclared reference to 'bar'"))
	g.Expect(strings.Count(err.Error(), "\n")).To(BeZero())
}
