package campaign_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/campaign"
)

func TestTemplateNamesMatchColumnKeys(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"plain", "name", "name"},
		{"case and spaces", " First Name ", "first_name"},
		{"accents", "Teléfono móvil", "telefono_movil"},
		{"punctuation", "E-mail (work)", "e_mail_work"},
		{"digits", "Line 2", "line_2"},
		{"cedilla and tilde", "Região Ação", "regiao_acao"},
		{"only punctuation", "!!", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaign.VariableKey(tt.got); got != tt.want {
				t.Errorf("VariableKey(%q) = %q, want %q", tt.got, got, tt.want)
			}
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want error
		pos  string
	}{
		{"unclosed", "Hi {{name", campaign.ErrUnclosed, "character 4"},
		{"unclosed after a good one", "{{a}} and {{b", campaign.ErrUnclosed, "character 11"},
		{"nested", "Hi {{na{{me}}", campaign.ErrUnclosed, "character 4"},
		{"unopened", "Hi name}}", campaign.ErrUnopened, "character 8"},
		{"empty", "Hi {{ }}", campaign.ErrEmptyName, "character 4"},
		{"empty with fallback", "Hi {{|there}}", campaign.ErrEmptyName, "character 4"},
		{"position counts characters", "Olá ñ {{", campaign.ErrUnclosed, "character 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := campaign.ParseTemplate(tt.text)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.pos) {
				t.Errorf("ParseTemplate(%q) = %v, want %v at %s", tt.text, err, tt.want, tt.pos)
			}
		})
	}
}

func TestTemplateVars(t *testing.T) {
	tpl, err := campaign.ParseTemplate("Hi {{ Name | there }}, your {{Teléfono}} and {{name}} { single } braces")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"name", "telefono"}, tpl.Vars()); diff != "" {
		t.Errorf("Vars (-want +got):\n%s", diff)
	}
}

func TestTemplateMissing(t *testing.T) {
	tpl, err := campaign.ParseTemplate("Hi {{name|there}}, your code {{Código}} expires {{date}}")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		columns []string
		want    []string
	}{
		{"all there", []string{"Name", "CÓDIGO", "Date", "Phone"}, nil},
		{"some missing", []string{"Phone", "Name"}, []string{"codigo", "date"}},
		{"no columns", nil, []string{"name", "codigo", "date"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tpl.Missing(tt.columns)); diff != "" {
				t.Errorf("Missing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRender(t *testing.T) {
	ana := map[string]string{"name": "Ana", "city": "Madrid"}
	none := map[string]string{}
	tests := []struct {
		name string
		text string
		vars map[string]string
		want string
	}{
		{"value", "Hi {{name}}, welcome", ana, "Hi Ana, welcome"},
		{"missing before a comma", "Hi {{name}}, welcome", none, "Hi, welcome"},
		{"fallback", "Hi {{name|there}}!", none, "Hi there!"},
		{"fallback with spaces", "Hi {{ name | dear friend }}!", none, "Hi dear friend!"},
		{"blank value takes the fallback", "Hi {{name|there}}!", map[string]string{"name": "  "}, "Hi there!"},
		{"value is trimmed", "Hi {{name}}!", map[string]string{"name": " Ana "}, "Hi Ana!"},
		{"missing before !", "Hi {{name}}!", none, "Hi!"},
		{"missing after a comma", "Hello, {{name}}!", none, "Hello!"},
		{"missing between words", "Dear {{title}} {{name}} from {{city}}", ana, "Dear Ana from Madrid"},
		{"two missing in a row", "Dear {{title}} {{name}}, hi", none, "Dear, hi"},
		{"missing at the start", "{{name}}, your order is ready", none, "your order is ready"},
		{"missing at the end", "Thanks {{name}}", none, "Thanks"},
		{"missing after a comma at the end", "Hello, {{name}}\nBye, {{name}} ", none, "Hello\nBye"},
		{"author's comma before the line end stays", "Dear {{name}},\nthanks", none, "Dear,\nthanks"},
		{"missing in brackets", "Call us (ref {{ref}}) today", none, "Call us (ref) today"},
		{"missing alone in brackets", "Call us ({{ref}}) today", none, "Call us today"},
		{"missing at a line start", "Hi\n{{name}}, see you", none, "Hi\nsee you"},
		{"author's double spaces stay", "Hi  {{name}}", ana, "Hi  Ana"},
		{"key matched after normalising", "Hi {{ First Name }}", map[string]string{"first_name": "Ana"}, "Hi Ana"},
		{"HTML stays text", "Hi {{name}}", map[string]string{"name": "<b>Ana</b> & <script>alert(1)</script>"}, "Hi <b>Ana</b> & <script>alert(1)</script>"},
		{"no injection", "Hi {{name}}", map[string]string{"name": "{{city}}"}, "Hi {{city}}"},
		{"NUL and bad UTF-8 in a value", "Hi {{name}}", map[string]string{"name": "A\x00na\xff"}, "Hi Ana\uFFFD"},
		{"lone braces are text", "a { b } c", none, "a { b } c"},
		{"same variable twice", "{{name}} and {{name}}", ana, "Ana and Ana"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := campaign.ParseTemplate(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if got := tpl.Render(tt.vars); got != tt.want {
				t.Errorf("Render(%q) = %q, want %q", tt.text, got, tt.want)
			}
			if got := campaign.Preview(tpl, tt.vars); got != tt.want {
				t.Errorf("Preview = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderRow(t *testing.T) {
	tpl, err := campaign.ParseTemplate("{{note}}")
	if err != nil {
		t.Fatal(err)
	}
	ok := strings.Repeat("é", campaign.MaxTextLength)
	if got, err := tpl.RenderRow(7, map[string]string{"note": ok}); err != nil || got != ok {
		t.Errorf("4096 characters: err %v", err)
	}
	_, err = tpl.RenderRow(7, map[string]string{"note": ok + "x"})
	if !errors.Is(err, campaign.ErrTooLong) || !strings.Contains(err.Error(), "row 7") {
		t.Errorf("4097 characters: err %v, want ErrTooLong naming row 7", err)
	}
}

func TestParseVariants(t *testing.T) {
	tests := []struct {
		name  string
		texts []string
		err   string
	}{
		{"one", []string{"Hi"}, ""},
		{"five", []string{"a", "b", "c", "d", "e"}, ""},
		{"none", nil, "empty"},
		{"six", []string{"a", "b", "c", "d", "e", "f"}, "at most 5"},
		{"an empty one", []string{"a", " "}, "variant 2 is empty"},
		{"a broken one", []string{"a", "b", "Hi {{x"}, "variant 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := campaign.ParseVariants(tt.texts)
			switch {
			case tt.err == "" && (err != nil || len(got) != len(tt.texts)):
				t.Errorf("got %d templates, err %v", len(got), err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("err %v, want it to say %q", err, tt.err)
			}
		})
	}
}

func TestPickVariant(t *testing.T) {
	if got := campaign.PickVariant("+34600000001", 1); got != 0 {
		t.Errorf("one variant: got %d", got)
	}
	if got := campaign.PickVariant("+34600000001", 0); got != 0 {
		t.Errorf("no variants: got %d", got)
	}
	for n := 2; n <= campaign.MaxVariants; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			const recipients = 10000
			counts := make([]int, n)
			for i := range recipients {
				key := fmt.Sprintf("+3460000%04d", i)
				v := campaign.PickVariant(key, n)
				if v != campaign.PickVariant(key, n) {
					t.Fatalf("%s: not deterministic", key)
				}
				counts[v]++
			}
			for v, c := range counts {
				if want := recipients / n; c < want*9/10 || c > want*11/10 {
					t.Errorf("variant %d got %d of %d recipients, want %d ±10 %%", v, c, recipients, want)
				}
			}
		})
	}
}

func TestPollValidate(t *testing.T) {
	opts := func(n int) []string {
		o := make([]string, n)
		for i := range o {
			o[i] = fmt.Sprint("option ", i+1)
		}
		return o
	}
	tests := []struct {
		name string
		poll campaign.Poll
		want []string // parts of the error, none when valid
	}{
		{"valid", campaign.Poll{Question: "Which day?", Options: []string{"Mon", "Tue"}}, nil},
		{"valid multiple, 12 options", campaign.Poll{Question: "Which?", Options: opts(12), Multiple: true}, nil},
		{"255 characters", campaign.Poll{Question: strings.Repeat("ñ", 255), Options: opts(2)}, nil},
		{"no question", campaign.Poll{Question: "  ", Options: opts(2)}, []string{"no question"}},
		{"question too long", campaign.Poll{Question: strings.Repeat("a", 256), Options: opts(2)}, []string{"256 characters"}},
		{"one option", campaign.Poll{Question: "Q", Options: opts(1)}, []string{"1 options"}},
		{"13 options", campaign.Poll{Question: "Q", Options: opts(13)}, []string{"13 options"}},
		{"empty option", campaign.Poll{Question: "Q", Options: []string{"a", " "}}, []string{"option 2 is empty"}},
		{"long option", campaign.Poll{Question: "Q", Options: []string{"a", strings.Repeat("b", 101)}}, []string{"option 2 has 101"}},
		{"repeated option", campaign.Poll{Question: "Q", Options: []string{"Yes", "No", " yes "}}, []string{"option 3 repeats option 1"}},
		{"every problem", campaign.Poll{Options: []string{""}}, []string{"no question", "1 options", "option 1 is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.poll.Validate()
			if (err == nil) != (tt.want == nil) {
				t.Fatalf("Validate() = %v, want problems %q", err, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to say %q", err, w)
				}
			}
		})
	}
}

func TestFormatPreview(t *testing.T) {
	plain := func(s string) campaign.Span { return campaign.Span{Text: s} }
	bold := func(s string) campaign.Span { return campaign.Span{Text: s, Bold: true} }
	italic := func(s string) campaign.Span { return campaign.Span{Text: s, Italic: true} }
	tests := []struct {
		name string
		text string
		want []campaign.Span
	}{
		{"plain", "Hello", []campaign.Span{plain("Hello")}},
		{"empty", "", nil},
		{"bold", "Hi *Ana*!", []campaign.Span{plain("Hi "), bold("Ana"), plain("!")}},
		{"italic", "_soon_", []campaign.Span{italic("soon")}},
		{"strike", "was ~10~ 8", []campaign.Span{plain("was "), {Text: "10", Strike: true}, plain(" 8")}},
		{"mono", "code ```a *b* c```", []campaign.Span{plain("code "), {Text: "a *b* c", Mono: true}}},
		{"mono over lines", "```a\nb```", []campaign.Span{{Text: "a\nb", Mono: true}}},
		{"nested", "*bold _both_*", []campaign.Span{bold("bold "), {Text: "both", Bold: true, Italic: true}}},
		{"inside a word", "2*3*4 snake_case_name", []campaign.Span{plain("2*3*4 snake_case_name")}},
		{"space after opening", "* not bold*", []campaign.Span{plain("* not bold*")}},
		{"space before closing", "*not bold *", []campaign.Span{plain("*not bold *")}},
		{"not across lines", "*a\nb*", []campaign.Span{plain("*a\nb*")}},
		{"unclosed", "*a", []campaign.Span{plain("*a")}},
		{"double marker", "**a**", []campaign.Span{plain("*"), bold("a"), plain("*")}},
		{"after punctuation", "(*a*)", []campaign.Span{plain("("), bold("a"), plain(")")}},
		{"empty mono", "``````", []campaign.Span{plain("``````")}},
		{"two bolds", "*a* and *b*", []campaign.Span{bold("a"), plain(" and "), bold("b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, campaign.FormatPreview(tt.text)); diff != "" {
				t.Errorf("FormatPreview(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

// FuzzTemplate checks that no text or value makes parsing or rendering
// panic, and that a rendered message never carries a NUL.
func FuzzTemplate(f *testing.F) {
	f.Add("Hi {{name|there}}, welcome (ref {{ref}})!", "Ana")
	f.Add("{{a}} {{b}}, {{c}}\n*{{d}}*", "")
	f.Add("}}{{", "{{x}}")
	f.Fuzz(func(t *testing.T, text, value string) {
		tpl, err := campaign.ParseTemplate(text)
		if err != nil {
			return
		}
		vars := map[string]string{}
		for _, k := range tpl.Vars() {
			vars[k] = value
		}
		for _, got := range []string{tpl.Render(vars), tpl.Render(nil)} {
			if strings.ContainsRune(got, 0) {
				t.Fatalf("Render(%q) left a NUL: %q", text, got)
			}
			campaign.FormatPreview(got)
		}
	})
}
