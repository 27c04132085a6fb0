package tree

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRender(t *testing.T) {
	table := Table{
		Header: []string{"STAGE", "STATUS", "MESSAGE"},
		Roots: []*Node{
			{Label: "build", Cells: []Cell{{Text: "✔ Succeeded", Color: Green}, {Text: "done"}}},
			{Label: "parallel", Children: []*Node{
				{Label: "deploy-aws", Cells: []Cell{{Text: "◷ Running"}, {Text: "1/3 healthy"}}, Children: []*Node{
					{Label: "shop-v001", Cells: []Cell{{Text: "Enabled"}}},
				}},
				{Label: "go-no-go", Cells: []Cell{{Text: "⏸ WaitingForJudgment"}}, Notes: []string{"Instructions: a rather long line of text"}},
			}},
		},
	}
	want := `STAGE            STATUS                MESSAGE
build            ✔ Succeeded           done
parallel
├─ deploy-aws    ◷ Running             1/3 healthy
│  └─ shop-v001  Enabled
└─ go-no-go      ⏸ WaitingForJudgment
      Instructions: a rather long line of text
`
	if diff := cmp.Diff(want, table.String()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestColorKeepsAlignment(t *testing.T) {
	table := Table{Header: []string{"A", "B", "C"}, Roots: []*Node{
		{Label: "x", Cells: []Cell{{Text: "ok", Color: Green}, {Text: "m"}}},
		{Label: "y", Cells: []Cell{{Text: "failed", Color: Red}, {Text: "n"}}},
	}}
	var b strings.Builder
	if err := table.Render(&b, true); err != nil {
		t.Fatal(err)
	}
	want := "A  B       C\nx  \x1b[32mok\x1b[0m      m\ny  \x1b[31mfailed\x1b[0m  n\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
