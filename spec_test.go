package grformer

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// specFile is the model specification that the code's comments cite.
const specFile = "docs/SPEC.md"

// TestSpecCitations checks that every citation of the spec in the module's
// Go comments resolves in docs/SPEC.md: a quoted name, as in
// (spec, "Shift mask"), must be a heading there; a step, as in (spec, step 4),
// (spec, GRSA step 6) or (spec, block steps 2-3), must be a numbered step of
// the section it names (Forward pass when no section is named, else the one
// heading that starts with the given word). Generated files and testdata are
// not scanned.
func TestSpecCitations(t *testing.T) {
	md, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	spec, errs := parseSpec(string(md))
	for _, err := range errs {
		t.Errorf("%s: %v", specFile, err)
	}
	n := 0
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != "." && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		for _, cg := range f.Comments {
			line := fset.Position(cg.Pos()).Line
			for _, c := range findCitations(cg.Text()) {
				n++
				if err := spec.check(c); err != nil {
					t.Errorf("%s:%d: %v", path, line+c.line, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The model's code cites the spec throughout; finding (almost) nothing
	// means the scan is broken, not that all is well.
	if n < 10 {
		t.Errorf("found only %d spec citations in the module's Go files", n)
	}
	t.Logf("%d spec citations checked against %s", n, specFile)
}

// specSection is one heading of the spec and the numbered steps written
// directly under it (before the next heading of any level).
type specSection struct {
	name  string
	steps map[int]bool
}

type specDoc struct {
	sections map[string]*specSection // by heading
	order    []*specSection
}

var (
	reHeading = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	reStep    = regexp.MustCompile(`^\s*(\d+)\.\s`)
)

// parseSpec reads the headings and numbered steps of a Markdown document,
// ignoring fenced code blocks. Duplicate headings are errors: a citation
// must name one section.
func parseSpec(md string) (specDoc, []error) {
	doc := specDoc{sections: map[string]*specSection{}}
	var errs []error
	var cur *specSection
	fenced := false
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		if m := reHeading.FindStringSubmatch(line); m != nil {
			name := m[2]
			if doc.sections[name] != nil {
				errs = append(errs, fmt.Errorf("heading %q appears twice", name))
			}
			cur = &specSection{name: name, steps: map[int]bool{}}
			doc.sections[name] = cur
			doc.order = append(doc.order, cur)
			continue
		}
		if m := reStep.FindStringSubmatch(line); m != nil && cur != nil {
			k, _ := strconv.Atoi(m[1])
			cur.steps[k] = true
		}
	}
	return doc, errs
}

// specCitation is one citation found in a comment: a section name, or steps
// first..last of a section (section "" means Forward pass; else a word the
// section's heading starts with).
type specCitation struct {
	text        string // as written, for messages
	line        int    // line offset inside the comment
	name        string // quoted section name
	section     string // step citations: the qualifying word, if any
	first, last int    // step citations: the step range
}

var (
	reCiteName = regexp.MustCompile(`\bspec,\s*"([^"]*)"(?:,\s*steps?\s+(\d+)(?:\s*-\s*(\d+))?)?`)
	reCiteStep = regexp.MustCompile(`\bspec,\s*(?:([A-Za-z][\w-]*)\s+)?steps?\s+(\d+)(?:\s*-\s*(\d+))?`)
	reCiteAny  = regexp.MustCompile(`\(spec,|\bspec\s*§`)
)

// findCitations returns the spec citations in a comment's text. A
// parenthesised citation of neither form, or one by section sign, is
// returned with neither a name nor steps, so that check reports it.
func findCitations(text string) []specCitation {
	var out []specCitation
	known := map[int]bool{}
	lineAt := func(i int) int { return strings.Count(text[:i], "\n") }
	for _, m := range reCiteName.FindAllStringSubmatchIndex(text, -1) {
		known[m[0]] = true
		c := specCitation{
			text: strings.Join(strings.Fields(text[m[0]:m[1]]), " "), line: lineAt(m[0]),
			name: strings.Join(strings.Fields(text[m[2]:m[3]]), " "),
		}
		c.first, c.last = stepRange(text, m[4:])
		out = append(out, c)
	}
	for _, m := range reCiteStep.FindAllStringSubmatchIndex(text, -1) {
		known[m[0]] = true
		c := specCitation{text: strings.Join(strings.Fields(text[m[0]:m[1]]), " "), line: lineAt(m[0])}
		if m[2] >= 0 {
			c.section = text[m[2]:m[3]]
		}
		c.first, c.last = stepRange(text, m[4:])
		out = append(out, c)
	}
	for _, m := range reCiteAny.FindAllStringIndex(text, -1) {
		start := m[0]
		if text[start] == '(' {
			start++
		}
		if !known[start] {
			end := min(len(text), m[1]+30)
			out = append(out, specCitation{text: strings.Join(strings.Fields(text[m[0]:end]), " "), line: lineAt(m[0])})
		}
	}
	return out
}

// stepRange reads the step numbers of submatch index pairs m (first, then
// an optional last): 0, 0 when there is none.
func stepRange(text string, m []int) (first, last int) {
	if m[0] < 0 {
		return 0, 0
	}
	first, _ = strconv.Atoi(text[m[0]:m[1]])
	last = first
	if m[2] >= 0 {
		last, _ = strconv.Atoi(text[m[2]:m[3]])
	}
	return first, last
}

// check reports why c does not resolve in the spec, or nil.
func (d specDoc) check(c specCitation) error {
	var sec *specSection
	switch {
	case c.name != "":
		if sec = d.sections[c.name]; sec == nil {
			return fmt.Errorf("%s: %s has no heading %q", c.text, specFile, c.name)
		}
	case c.first > 0:
		var err error
		if sec, err = d.stepSection(c.section); err != nil {
			return fmt.Errorf("%s: %v", c.text, err)
		}
	default:
		return fmt.Errorf("%q: not a citation of a known form: write (spec, \"Section name\"), (spec, step N) or (spec, Section step N)", c.text)
	}
	if c.first > 0 {
		if c.last < c.first {
			return fmt.Errorf("%s: step range %d-%d is backwards", c.text, c.first, c.last)
		}
		for k := c.first; k <= c.last; k++ {
			if !sec.steps[k] {
				return fmt.Errorf("%s: section %q of %s has no numbered step %d", c.text, sec.name, specFile, k)
			}
		}
	}
	return nil
}

// stepSection is the section a step citation refers to: Forward pass when
// no word is given, else the one heading whose first word is word (in any
// case).
func (d specDoc) stepSection(word string) (*specSection, error) {
	if word == "" {
		if s := d.sections["Forward pass"]; s != nil {
			return s, nil
		}
		return nil, fmt.Errorf("%s has no heading \"Forward pass\" for unqualified steps", specFile)
	}
	var found []*specSection
	for _, s := range d.order {
		if f := strings.Fields(s.name); len(f) > 0 && strings.EqualFold(f[0], word) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("%s has no heading starting with %q", specFile, word)
	}
	return nil, fmt.Errorf("%d headings of %s start with %q", len(found), specFile, word)
}

// TestSpecCitationChecker checks the checker on made-up documents and
// comments: a citation it should reject must fail.
func TestSpecCitationChecker(t *testing.T) {
	const md = "# Title\n\n## Forward pass\n\n1. pad\n2. normalise\n\n" +
		"## Block i of a group\n\n1. a\n2. b\n3. c\n\n### Shift mask\n\n1. x\n\n" +
		"```\n## Not a heading\n4. not a step\n```\n"
	doc, errs := parseSpec(md)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		comment string
		ok      []bool // one per citation found, in the order found
	}{
		{`(spec, "Shift mask")`, []bool{true}},
		{"the roll (spec,\n\"Block i of\na group\", post-norm)", []bool{true}},
		{`(spec, "Not a heading")`, []bool{false}},
		{`(spec, "Shift")`, []bool{false}},
		{`(spec, step 2)`, []bool{true}},
		{`(spec, step 3)`, []bool{false}},
		{`(spec, block steps 2-3)`, []bool{true}},
		{"(spec, Block steps\n2-3)", []bool{true}},
		{`(spec, block step 4)`, []bool{false}}, // step 1 of Shift mask is not the block's
		{`(spec, shift step 1)`, []bool{true}},
		{`(spec, GRSA step 1)`, []bool{false}},
		{`(spec, §3)`, []bool{false}},
		{`see spec §Forward pass`, []bool{false}},
		{`the spec and meta.json`, nil},
		{`(spec, "Forward pass", step 2)`, []bool{true}},
		{`(spec, "Forward pass", steps 2-3)`, []bool{false}},
		{`(spec, "Shift mask", step 2)`, []bool{false}},
	} {
		cs := findCitations(tc.comment)
		if len(cs) != len(tc.ok) {
			t.Errorf("%q: found %d citations %v, want %d", tc.comment, len(cs), cs, len(tc.ok))
			continue
		}
		for i, c := range cs {
			if err := doc.check(c); (err == nil) != tc.ok[i] {
				t.Errorf("%q: citation %q: error %v, want ok=%v", tc.comment, c.text, err, tc.ok[i])
			}
		}
	}
	if _, errs := parseSpec("## A\n## A\n"); len(errs) != 1 {
		t.Errorf("duplicate heading: %d errors, want 1", len(errs))
	}
}
