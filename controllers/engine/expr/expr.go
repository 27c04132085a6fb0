// Package expr is the expression language of pipelines: CEL (github.com/google/cel-go) over the
// variables of a run, and string templates holding ${ ... } expressions.
//
// Every expression sees these variables:
//
//	parameters  map(string, string)  the Execution's parameters: parameters.image, parameters['image']
//	stages      map(string, dyn)     earlier stages by name: stages['deploy'].phase, stages['deploy'].outputs.x
//	trigger     map(string, dyn)     what started the run
//	execution   map(string, dyn)     the run itself
//
// plus the cel-go strings extension (ext.Strings). Options declare more variables where a field needs them,
// such as the polled response of a webhook's waitForCompletion.
//
// Validation compiles expressions when a Pipeline is applied and the engine evaluates them while it runs;
// both go through this package so that what validates is what runs.
package expr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/ext"
	"google.golang.org/protobuf/types/known/structpb"
)

// Names of the variables every expression sees.
const (
	VarParameters = "parameters"
	VarStages     = "stages"
	VarTrigger    = "trigger"
	VarExecution  = "execution"
	// VarResponse is the extra variable that WithResponse declares.
	VarResponse = "response"
)

const (
	// stringsVersion pins the strings extension: a Pipeline validated by one release of the operator must
	// keep compiling in the next, whatever functions newer cel-go versions add.
	stringsVersion = 4
	// costLimit stops an expression that would loop for long (large comprehensions over outputs) before
	// it holds up a reconcile. It is the per-call limit Kubernetes uses for CRD validation rules.
	costLimit = 1_000_000
)

// Option changes the environment an expression is compiled in.
type Option func(*options)

type options struct {
	vars   []variable
	escape escaping
}

type variable struct {
	name string
	typ  *cel.Type
}

// WithVariable declares one more variable.
func WithVariable(name string, t *cel.Type) Option {
	return func(o *options) { o.vars = append(o.vars, variable{name: name, typ: t}) }
}

// WithResponse declares response, map(string, dyn): an HTTP response (response.status, response.body,
// response.headers) for webhook completion expressions.
func WithResponse() Option {
	return WithVariable(VarResponse, cel.MapType(cel.StringType, cel.DynType))
}

// Env compiles expressions. It is safe for concurrent use.
type Env struct {
	env *cel.Env
}

var (
	baseEnv = sync.OnceValues(func() (*cel.Env, error) {
		return cel.NewEnv(
			cel.Variable(VarParameters, cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable(VarStages, cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable(VarTrigger, cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable(VarExecution, cel.MapType(cel.StringType, cel.DynType)),
			ext.Strings(ext.StringsVersion(stringsVersion), ext.StringsValidateFormatCalls(true)),
		)
	})
	// envs caches the environments of the package-level functions by their options, since building one
	// costs far more than compiling a short expression, and validation compiles many.
	envs sync.Map // string -> *Env
)

// NewEnv returns the environment with the standard variables and those of the options.
func NewEnv(opts ...Option) (*Env, error) {
	base, err := baseEnv()
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.vars) == 0 {
		return &Env{env: base}, nil
	}
	// cel-go lets a later declaration replace an earlier one silently; here that would change the type
	// of a standard variable under the expressions that rely on it, so it is an error.
	declared := map[string]bool{VarParameters: true, VarStages: true, VarTrigger: true, VarExecution: true}
	decls := make([]cel.EnvOption, 0, len(o.vars))
	for _, v := range o.vars {
		if declared[v.name] {
			return nil, fmt.Errorf("variable %q is already declared", v.name)
		}
		declared[v.name] = true
		decls = append(decls, cel.Variable(v.name, v.typ))
	}
	env, err := base.Extend(decls...)
	if err != nil {
		return nil, err
	}
	return &Env{env: env}, nil
}

func cachedEnv(opts []Option) (*Env, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	keys := make([]string, 0, len(o.vars))
	for _, v := range o.vars {
		keys = append(keys, v.name+":"+v.typ.String())
	}
	key := strings.Join(keys, ",")
	if e, ok := envs.Load(key); ok {
		return e.(*Env), nil
	}
	e, err := NewEnv(opts...)
	if err != nil {
		return nil, err
	}
	actual, _ := envs.LoadOrStore(key, e)
	return actual.(*Env), nil
}

// Expression is a compiled, type-checked expression, ready to evaluate. It is safe for concurrent use.
type Expression struct {
	source string
	ast    *cel.Ast
	prg    cel.Program
}

// Compile parses and type-checks src.
func (e *Env) Compile(src string) (*Expression, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("expression is empty")
	}
	ast, iss := e.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, errors.New(formatIssues(iss))
	}
	prg, err := e.env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return nil, err
	}
	return &Expression{source: src, ast: ast, prg: prg}, nil
}

// CompileBool compiles src and requires it to yield a bool. An expression of type dyn (one that reads
// stage outputs, say) is accepted, and checked when it is evaluated.
func (e *Env) CompileBool(src string) (*Expression, error) {
	x, err := e.Compile(src)
	if err != nil {
		return nil, err
	}
	switch t := x.OutputType(); t.Kind() {
	case types.BoolKind, types.DynKind:
		return x, nil
	default:
		return nil, fmt.Errorf("must yield a bool, not %s", t)
	}
}

// Compile compiles src in the standard environment extended by opts.
func Compile(src string, opts ...Option) (*Expression, error) {
	e, err := cachedEnv(opts)
	if err != nil {
		return nil, err
	}
	return e.Compile(src)
}

// CompileBool compiles src, which must yield a bool, in the standard environment extended by opts.
func CompileBool(src string, opts ...Option) (*Expression, error) {
	e, err := cachedEnv(opts)
	if err != nil {
		return nil, err
	}
	return e.CompileBool(src)
}

// ParameterRefs compiles src and returns the parameters it names; see Expression.ParameterRefs.
func ParameterRefs(src string, opts ...Option) ([]string, error) {
	x, err := Compile(src, opts...)
	if err != nil {
		return nil, err
	}
	return x.ParameterRefs(), nil
}

// Source returns the text the expression was compiled from.
func (x *Expression) Source() string { return x.source }

// OutputType returns the type the checker inferred for the expression's result.
func (x *Expression) OutputType() *cel.Type { return x.ast.OutputType() }

// ParameterRefs returns the names of the parameters the expression reads as parameters.x or
// parameters['x'], sorted and without repeats, so callers can report parameters the pipeline does not
// declare. A computed key (parameters[name]) cannot be known before the run and is not returned.
func (x *Expression) ParameterRefs() []string { return x.fieldRefs(VarParameters) }

// StageRefs returns the names of the stages the expression reads as stages['x'] or stages.x, sorted and
// without repeats.
func (x *Expression) StageRefs() []string { return x.fieldRefs(VarStages) }

// fieldRefs returns the constant keys the expression selects from the map variable name. It walks the
// checked AST, where macros (has, all, exists, ...) are already expanded, so references inside them count.
// A comprehension variable that shadows name is not told apart; no sane expression does that.
func (x *Expression) fieldRefs(name string) []string {
	isVar := func(e celast.Expr) bool { return e.Kind() == celast.IdentKind && e.AsIdent() == name }
	seen := map[string]bool{}
	celast.PreOrderVisit(x.ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.SelectKind:
			if sel := e.AsSelect(); isVar(sel.Operand()) {
				seen[sel.FieldName()] = true
			}
		case celast.CallKind:
			call := e.AsCall()
			if call.FunctionName() != operators.Index || len(call.Args()) != 2 || !isVar(call.Args()[0]) {
				return
			}
			if key := call.Args()[1]; key.Kind() == celast.LiteralKind {
				if s, ok := key.AsLiteral().(types.String); ok {
					seen[string(s)] = true
				}
			}
		}
	}))
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Vars are the values an expression is evaluated with. A nil map is an empty one, so that an expression
// reading trigger in a run nobody triggered fails on a missing key, not on a missing variable.
type Vars struct {
	Parameters map[string]string
	Stages     map[string]any
	Trigger    map[string]any
	Execution  map[string]any
	// Extra are the variables declared by options, by name.
	Extra map[string]any
}

func (v Vars) activation() map[string]any {
	act := make(map[string]any, 4+len(v.Extra))
	for k, val := range v.Extra {
		act[k] = val
	}
	act[VarParameters] = orEmpty(v.Parameters)
	act[VarStages] = orEmpty(v.Stages)
	act[VarTrigger] = orEmpty(v.Trigger)
	act[VarExecution] = orEmpty(v.Execution)
	return act
}

func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// Eval evaluates the expression.
func (x *Expression) Eval(vars Vars) (ref.Val, error) {
	val, _, err := x.prg.Eval(vars.activation())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", x.source, err)
	}
	return val, nil
}

// EvalBool evaluates the expression and requires a bool, which a dyn expression may not yield.
func (x *Expression) EvalBool(vars Vars) (bool, error) {
	val, err := x.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := val.(types.Bool)
	if !ok {
		return false, fmt.Errorf("%s: yields %s, not a bool", x.source, val.Type().TypeName())
	}
	return bool(b), nil
}

// formatIssues renders compile errors on one line, each as "ERROR: <input>:1:5: message", without the
// source snippet and caret that cel-go adds: these messages end up in conditions and kubectl output, where
// a multi-line picture does not survive.
func formatIssues(iss *cel.Issues) string {
	var msgs []string
	for _, e := range iss.Errors() {
		msg := strings.TrimSuffix(e.Message, " (in container '')")
		msgs = append(msgs, fmt.Sprintf("ERROR: <input>:%d:%d: %s", e.Location.Line(), e.Location.Column()+1, msg))
	}
	return strings.Join(msgs, "; ")
}

// Template is a string with ${ expression } parts, such as "ami-${ parameters.image }". $${ stands for a
// literal ${. It is safe for concurrent use.
type Template struct {
	source string
	parts  []part
	escape escaping
}

// part is a literal or an expression of a template.
type part struct {
	literal string
	expr    *Expression
}

// ParseTemplate parses s and compiles its expressions in the standard environment extended by opts. With
// EscapeJSON or EscapeURL among opts, values are escaped for where they land (see those options).
func ParseTemplate(s string, opts ...Option) (*Template, error) {
	e, err := cachedEnv(opts)
	if err != nil {
		return nil, err
	}
	t, err := e.ParseTemplate(s)
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	t.escape = o.escape
	return t, nil
}

// ParseTemplate parses s and compiles its expressions. It fails on a ${ that is never closed and on an
// expression that does not compile; the error gives the byte offset of the ${ in s.
func (e *Env) ParseTemplate(s string) (*Template, error) {
	t := &Template{source: s}
	var lit strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			lit.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end, ok := closingBrace(s, i+2)
			if !ok {
				return nil, fmt.Errorf("${ at offset %d is not closed by }", i)
			}
			src := s[i+2 : end]
			x, err := e.Compile(src)
			if err != nil {
				return nil, fmt.Errorf("${%s} at offset %d: %w", src, i, err)
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, part{literal: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, part{expr: x})
			i = end + 1
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, part{literal: lit.String()})
	}
	return t, nil
}

// closingBrace returns the index of the } that ends the expression starting at i: the first one outside
// string literals and not matching a { of the expression itself (a map literal).
func closingBrace(s string, i int) (int, bool) {
	depth := 0
	for i < len(s) {
		switch c := s[i]; c {
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i, true
			}
			depth--
		case '\'', '"':
			end, ok := stringEnd(s, i)
			if !ok {
				return 0, false
			}
			i = end
		}
		i++
	}
	return 0, false
}

// stringEnd returns the index of the last quote of the CEL string literal whose opening quote is at i:
// single or triple quoted, raw (r'...', where a backslash escapes nothing) or not.
func stringEnd(s string, i int) (int, bool) {
	raw := false
	for j := i - 1; j >= 0 && i-j <= 2 && strings.IndexByte("rRbB", s[j]) >= 0; j-- {
		raw = raw || s[j] == 'r' || s[j] == 'R'
	}
	quote := s[i : i+1]
	if strings.HasPrefix(s[i:], strings.Repeat(quote, 3)) {
		quote = strings.Repeat(quote, 3)
	}
	for j := i + len(quote); j < len(s); j++ {
		if s[j] == '\\' && !raw {
			j++
			continue
		}
		if strings.HasPrefix(s[j:], quote) {
			return j + len(quote) - 1, true
		}
	}
	return 0, false
}

// Source returns the text the template was parsed from.
func (t *Template) Source() string { return t.source }

// Expressions returns the template's expressions, in order.
func (t *Template) Expressions() []*Expression {
	var out []*Expression
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr)
		}
	}
	return out
}

// ParameterRefs returns the parameters the template's expressions name, sorted and without repeats.
func (t *Template) ParameterRefs() []string {
	return t.refs((*Expression).ParameterRefs)
}

// StageRefs returns the stages the template's expressions name, sorted and without repeats.
func (t *Template) StageRefs() []string {
	return t.refs((*Expression).StageRefs)
}

func (t *Template) refs(f func(*Expression) []string) []string {
	var out []string
	for _, x := range t.Expressions() {
		out = append(out, f(x)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Render evaluates the expressions and joins the parts. A string is inserted as is; a number, bool,
// timestamp or duration as CEL's string() gives it; null as nothing; a list or map as JSON, so that a
// webhook body can carry a stage's outputs whole. A template parsed with EscapeJSON or EscapeURL then
// escapes that text for its place in what was rendered before it.
func (t *Template) Render(vars Vars) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.literal)
			continue
		}
		val, err := p.expr.Eval(vars)
		if err != nil {
			return "", err
		}
		s, err := t.escape.insert(b.String(), val)
		if err != nil {
			return "", fmt.Errorf("${%s}: %w", p.expr.source, err)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

var jsonValueType = reflect.TypeFor[*structpb.Value]()

func toString(val ref.Val) (string, error) {
	switch v := val.(type) {
	case types.String:
		return string(v), nil
	case types.Null:
		return "", nil
	}
	switch val.(type) {
	case traits.Lister, traits.Mapper:
		return listOrMapJSON(val, true)
	}
	s := val.ConvertToType(types.StringType)
	if types.IsError(s) {
		return "", fmt.Errorf("cannot render a %s as a string", val.Type().TypeName())
	}
	return string(s.(types.String)), nil
}

// listOrMapJSON renders a CEL list or map as JSON, escaping <, > and & as json.Marshal does when escapeHTML.
func listOrMapJSON(val ref.Val, escapeHTML bool) (string, error) {
	native, err := val.ConvertToNative(jsonValueType)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(native.(*structpb.Value).AsInterface()); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
