package expr

import (
	"encoding/json"
	"net/url"
	"testing"

	. "github.com/onsi/gomega"
)

// nasty holds values a pipeline parameter or a stage output may well carry, and that would break the JSON
// or URL they are inserted into if they were pasted as they are.
var nasty = Vars{
	Parameters: map[string]string{
		"quote":   `say "hi"`,
		"slash":   `C:\temp\new`,
		"lines":   "line 1\nline 2\ttab",
		"query":   "a&b=c?d/e f#g",
		"unicode": "déploiement ✓ 部署",
		"n":       "3",
	},
	Stages: map[string]any{
		"build": map[string]any{"outputs": map[string]any{
			"count": float64(42), "ratio": 0.5, "ok": true, "none": nil,
			"tags": []any{"a", `b"c`}, "meta": map[string]any{"k": "v&w"},
		}},
	},
}

func TestRenderEscapeJSON(t *testing.T) {
	tests := map[string]struct {
		tmpl string
		want string
	}{
		"quote in a string":       {tmpl: `{"text": "${ parameters.quote }"}`, want: `{"text": "say \"hi\""}`},
		"backslash in a string":   {tmpl: `{"path": "${ parameters.slash }"}`, want: `{"path": "C:\\temp\\new"}`},
		"newline in a string":     {tmpl: `{"text": "${ parameters.lines }"}`, want: `{"text": "line 1\nline 2\ttab"}`},
		"url characters in a str": {tmpl: `{"q": "${ parameters.query }"}`, want: `{"q": "a&b=c?d/e f#g"}`},
		"unicode in a string":     {tmpl: `{"text": "${ parameters.unicode }"}`, want: `{"text": "déploiement ✓ 部署"}`},
		"part of a string":        {tmpl: `{"text": "deployed ${ parameters.quote } to ${ parameters.n }"}`, want: `{"text": "deployed say \"hi\" to 3"}`},
		"a string outside quotes": {tmpl: `{"n": ${ parameters.n }, "q": ${ parameters.quote }}`, want: `{"n": "3", "q": "say \"hi\""}`},
		"a number":                {tmpl: `{"count": ${ stages.build.outputs.count }, "ratio": ${ stages.build.outputs.ratio }}`, want: `{"count": 42, "ratio": 0.5}`},
		"an int from CEL":         {tmpl: `{"n": ${ int(parameters.n) + 1 }}`, want: `{"n": 4}`},
		"a bool and null":         {tmpl: `{"ok": ${ stages.build.outputs.ok }, "none": ${ stages.build.outputs.none }}`, want: `{"ok": true, "none": null}`},
		"a list and a map":        {tmpl: `{"tags": ${ stages.build.outputs.tags }, "meta": ${ stages.build.outputs.meta }}`, want: `{"tags": ["a","b\"c"], "meta": {"k":"v&w"}}`},
		"a map inside a string":   {tmpl: `{"text": "meta ${ stages.build.outputs.meta }"}`, want: `{"text": "meta {\"k\":\"v&w\"}"}`},
		"escaped quote before it": {tmpl: `{"text": "a \" ${ parameters.quote }"}`, want: `{"text": "a \" say \"hi\""}`},
		"after a closed string":   {tmpl: `{"a": "x", "b": ${ parameters.lines }}`, want: `{"a": "x", "b": "line 1\nline 2\ttab"}`},
		"literal $${ kept":        {tmpl: `{"a": "$${ not }", "b": "${ parameters.quote }"}`, want: `{"a": "${ not }", "b": "say \"hi\""}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			tmpl, err := ParseTemplate(tt.tmpl, EscapeJSON())
			g.Expect(err).NotTo(HaveOccurred())
			got, err := tmpl.Render(nasty)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
			g.Expect(json.Valid([]byte(got))).To(BeTrue(), "renders valid JSON: %s", got)
		})
	}
}

// What a value says survives the escaping: decoding the rendered JSON gives the value back.
func TestRenderEscapeJSONRoundTrips(t *testing.T) {
	g := NewWithT(t)
	for name, v := range nasty.Parameters {
		tmpl, err := ParseTemplate(`{"in": "${ parameters['`+name+`'] }", "out": ${ parameters['`+name+`'] }}`, EscapeJSON())
		g.Expect(err).NotTo(HaveOccurred())
		got, err := tmpl.Render(nasty)
		g.Expect(err).NotTo(HaveOccurred())
		var doc map[string]string
		g.Expect(json.Unmarshal([]byte(got), &doc)).To(Succeed(), got)
		g.Expect(doc).To(Equal(map[string]string{"in": v, "out": v}), name)
	}
}

func TestRenderEscapeURL(t *testing.T) {
	base := Vars{Parameters: map[string]string{
		"base":    "https://ci.example.com/api",
		"host":    "ci.example.com",
		"port":    "8443",
		"tenant":  "acme",
		"dot":     ".",
		"dotdot":  "..",
		"query":   "a&b=c?d/e f#g",
		"quote":   `say "hi"`,
		"unicode": "déploiement ✓",
		"slash":   `C:\temp/new`,
		"lines":   "x\ny",
	}}
	tests := map[string]struct {
		tmpl string
		want string
	}{
		"a path segment":             {tmpl: "https://h/jobs/${ parameters.query }", want: "https://h/jobs/a&b=c%3Fd%2Fe%20f%23g"},
		"unicode and quotes in path": {tmpl: "https://h/${ parameters.unicode }/${ parameters.quote }", want: "https://h/d%C3%A9ploiement%20%E2%9C%93/say%20%22hi%22"},
		"backslash and newline":      {tmpl: "https://h/${ parameters.slash }?l=${ parameters.lines }", want: "https://h/C:%5Ctemp%2Fnew?l=x%0Ay"},
		"a query value":              {tmpl: "https://h/jobs?name=${ parameters.query }&v=1", want: "https://h/jobs?name=a%26b%3Dc%3Fd%2Fe+f%23g&v=1"},
		"a fragment":                 {tmpl: "https://h/jobs#${ parameters.quote }", want: "https://h/jobs#say+%22hi%22"},
		"a base URL is as is":        {tmpl: "${ parameters.base }/jobs/${ parameters.query }", want: "https://ci.example.com/api/jobs/a&b=c%3Fd%2Fe%20f%23g"},
		"a host is as is":            {tmpl: "https://${ parameters.host }:${ parameters.port }/jobs", want: "https://ci.example.com:8443/jobs"},
		"a tenant in the host":       {tmpl: "https://${ parameters.tenant }.example.com/", want: "https://acme.example.com/"},
		"dot segments are escaped":   {tmpl: "https://h/a/${ parameters.dot }/${ parameters.dotdot }/b", want: "https://h/a/%2E/%2E%2E/b"},
		"dots in a segment stay":     {tmpl: "https://h/v${ parameters.dotdot }1/${ parameters.host }", want: "https://h/v..1/ci.example.com"},
		"a relative path":            {tmpl: "/queue/${ parameters.query }", want: "/queue/a&b=c%3Fd%2Fe%20f%23g"},
		"a base with a query":        {tmpl: "${ parameters.base }?x=1&q=${ parameters.query }", want: "https://ci.example.com/api?x=1&q=a%26b%3Dc%3Fd%2Fe+f%23g"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			tmpl, err := ParseTemplate(tt.tmpl, EscapeURL())
			g.Expect(err).NotTo(HaveOccurred())
			got, err := tmpl.Render(base)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}

	// The values come back whole on the other side.
	g := NewWithT(t)
	tmpl, err := ParseTemplate("https://h/jobs/${ parameters.query }?q=${ parameters.query }&u=${ parameters.unicode }", EscapeURL())
	g.Expect(err).NotTo(HaveOccurred())
	got, err := tmpl.Render(base)
	g.Expect(err).NotTo(HaveOccurred())
	u, err := url.Parse(got)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(u.Path).To(Equal("/jobs/" + base.Parameters["query"]))
	g.Expect(u.EscapedPath()).To(Equal("/jobs/a&b=c%3Fd%2Fe%20f%23g"), "one segment")
	g.Expect(u.Query()).To(Equal(url.Values{"q": {base.Parameters["query"]}, "u": {base.Parameters["unicode"]}}))
}

// Without an escaping option a template renders as it always has: deploy fields and pipeline parameters
// are not JSON or URLs.
func TestRenderWithoutEscapingIsUnchanged(t *testing.T) {
	g := NewWithT(t)
	tmpl, err := ParseTemplate(`{"q": "${ parameters.quote }", "n": ${ parameters.n }} /${ parameters.query }`)
	g.Expect(err).NotTo(HaveOccurred())
	got, err := tmpl.Render(nasty)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(`{"q": "say "hi"", "n": 3} /a&b=c?d/e f#g`))
}

// A value placed by the template in the host or port cannot move the request to another host: it is
// refused, naming the expression, instead of rendered.
func TestRenderEscapeURLRefusesAnotherHost(t *testing.T) {
	tests := map[string]struct{ tmpl, value string }{
		"userinfo after the host":   {tmpl: "https://hooks.example.com${ parameters.p }", value: "@evil.com/x?"},
		"a host ending the tenant":  {tmpl: "https://${ parameters.p }.example.com/", value: "evil.com/"},
		"a fragment ending it":      {tmpl: "https://${ parameters.p }.example.com/", value: "evil.com#"},
		"a query ending it":         {tmpl: "https://${ parameters.p }.example.com/", value: "evil.com?"},
		"a backslash ending it":     {tmpl: "https://${ parameters.p }.example.com/", value: `evil.com\`},
		"an escape":                 {tmpl: "https://${ parameters.p }.example.com/", value: "evil.com%2F"},
		"a space":                   {tmpl: "https://${ parameters.p }.example.com/", value: "evil.com x"},
		"a port of its own":         {tmpl: "https://${ parameters.p }.example.com/", value: "evil.com:80"},
		"a port with userinfo":      {tmpl: "https://hooks.example.com:${ parameters.p }/", value: "80@evil.com"},
		"a port that is not digits": {tmpl: "https://hooks.example.com:${ parameters.p }/", value: "80:81"},
		"userinfo in the scheme":    {tmpl: "http${ parameters.p }", value: "s://evil.com/"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			tmpl, err := ParseTemplate(tt.tmpl, EscapeURL())
			g.Expect(err).NotTo(HaveOccurred())
			got, err := tmpl.Render(Vars{Parameters: map[string]string{"p": tt.value}})
			g.Expect(err).To(MatchError(ContainSubstring("${ parameters.p }: a value inserted into a URL's scheme, host or port may not contain")), "rendered %q", got)
		})
	}
}
