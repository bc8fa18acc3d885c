package api

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chatd/chatd/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// corpusEntry is one line of testdata/client_corpus.txt (format in its header).
type corpusEntry struct {
	line    int
	verdict string // "valid" or an error code
	joined  bool
	fields  []string
	schema  string // "=" or why the schema cannot express the verdict
	msg     []byte
}

func loadCorpus(t testing.TB) []corpusEntry {
	t.Helper()
	b, err := os.ReadFile("testdata/client_corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusEntry
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e := corpusEntry{line: i + 1}
		rest := line
		var cols [4]string
		for c := range cols {
			rest = strings.TrimLeft(rest, " ")
			var ok bool
			cols[c], rest, ok = strings.Cut(rest, " ")
			if !ok && c < 3 {
				t.Fatalf("corpus line %d: too few columns", e.line)
			}
		}
		rest = strings.TrimLeft(rest, " ")
		e.verdict, e.joined, e.schema = cols[0], cols[1] == "j", cols[3]
		if cols[1] != "j" && cols[1] != "n" {
			t.Fatalf("corpus line %d: joined column %q is neither j nor n", e.line, cols[1])
		}
		if cols[2] != "-" {
			for _, f := range strings.Split(cols[2], ",") {
				if f == `""` {
					f = ""
				}
				e.fields = append(e.fields, f)
			}
		}
		if q, ok := strings.CutPrefix(rest, "q:"); ok {
			s, err := strconv.Unquote(q)
			if err != nil {
				t.Fatalf("corpus line %d: %v", e.line, err)
			}
			e.msg = []byte(s)
		} else {
			e.msg = []byte(rest)
		}
		out = append(out, e)
	}
	return out
}

var clientSchema = sync.OnceValues(func() (*jsonschema.Schema, error) { return compileSchema("client.json") })

var serverSchema = sync.OnceValues(func() (*jsonschema.Schema, error) { return compileSchema("server.json") })

// compileSchema compiles one of the embedded schemas the way a third party
// would fetch them from the server's /schema/.
func compileSchema(name string) (*jsonschema.Schema, error) {
	const base = "http://127.0.0.1:8000/schema/"
	c := jsonschema.NewCompiler()
	for _, n := range []string{"client.json", "server.json"} {
		b, err := fs.ReadFile(schema.FS, n)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(base+n, doc); err != nil {
			return nil, err
		}
	}
	return c.Compile(base + name)
}

// schemaVerdict validates msg against s: parsed is false when the JSON cannot
// be read at all; fields are the top-level fields the failures point at.
func schemaVerdict(s *jsonschema.Schema, msg []byte) (parsed, valid bool, fields []string) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg))
	if err != nil {
		return false, false, nil
	}
	err = s.Validate(doc)
	if err == nil {
		return true, true, nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return true, false, []string{"?" + err.Error()}
	}
	seen := map[string]bool{}
	var walk func(v *jsonschema.ValidationError)
	walk = func(v *jsonschema.ValidationError) {
		if len(v.Causes) > 0 {
			for _, c := range v.Causes {
				walk(c)
			}
			return
		}
		var fs []string
		switch k := v.ErrorKind.(type) {
		case *kind.Required:
			if len(v.InstanceLocation) == 0 {
				fs = k.Missing
			}
		case *kind.AdditionalProperties:
			if len(v.InstanceLocation) == 0 {
				fs = k.Properties
			}
		}
		if fs == nil {
			if len(v.InstanceLocation) > 0 {
				fs = []string{v.InstanceLocation[0]}
			} else {
				fs = []string{"(root)"}
			}
		}
		for _, f := range fs {
			if !seen[f] {
				seen[f] = true
				fields = append(fields, f)
			}
		}
	}
	walk(verr)
	slices.Sort(fields)
	return true, false, fields
}

func TestCorpusSize(t *testing.T) {
	entries := loadCorpus(t)
	if len(entries) < 150 {
		t.Errorf("corpus has %d entries, want at least 150", len(entries))
	}
	kinds := map[string]bool{}
	for _, e := range entries {
		if e.verdict == "valid" {
			m, _ := DecodeClient(e.msg, e.joined)
			if m != nil {
				kinds[m.Kind()] = true
			}
		}
		kinds[e.verdict] = true
	}
	for _, k := range append(clientTypes[:], "invalid_json", "invalid_message", "unknown_type", "not_joined") {
		if !kinds[k] {
			t.Errorf("corpus has no entry for %s", k)
		}
	}
}

// TestCorpus is the proof that the schema, the Go decoder and the corpus's
// verdicts agree on every entry.
func TestCorpus(t *testing.T) {
	cs, err := clientSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range loadCorpus(t) {
		name := "line" + strconv.Itoa(e.line)
		t.Run(name, func(t *testing.T) {
			short := string(e.msg)
			if len(short) > 120 {
				short = short[:120] + "…"
			}
			m, derr := DecodeClient(e.msg, e.joined)
			want := slices.Clone(e.fields)
			slices.Sort(want)
			switch {
			case e.verdict == "valid" && derr != nil:
				t.Errorf("%s: DecodeClient: %v, want valid", short, derr)
			case e.verdict == "valid" && m == nil:
				t.Errorf("%s: DecodeClient returned neither message nor error", short)
			case e.verdict != "valid" && derr == nil:
				t.Errorf("%s: DecodeClient accepted it (%#v), want %s", short, m, e.verdict)
			case e.verdict != "valid":
				if string(derr.Code) != e.verdict {
					t.Errorf("%s: DecodeClient code %s (%v), want %s", short, derr.Code, derr, e.verdict)
				}
				var got []string
				for _, d := range derr.Details {
					got = append(got, d.Field)
					if d.Problem == "" {
						t.Errorf("%s: detail for %q has no problem", short, d.Field)
					}
				}
				wantDetails := want
				if e.verdict != "invalid_message" {
					wantDetails = nil
				}
				slices.Sort(got)
				if !slices.Equal(got, wantDetails) {
					t.Errorf("%s: DecodeClient details name %q, want %q (%v)", short, got, wantDetails, derr)
				}
			}
			if e.schema != "=" {
				return
			}
			parsed, valid, fields := schemaVerdict(cs, e.msg)
			switch e.verdict {
			case "valid":
				if !valid {
					t.Errorf("%s: schema refuses it (fields %q), want valid", short, fields)
				}
			case "invalid_json":
				if parsed && valid {
					t.Errorf("%s: schema accepts it, want invalid_json", short)
				}
			case "not_joined":
				t.Errorf("not_joined entries cannot be checked against the schema: mark them state")
			default:
				if valid {
					t.Errorf("%s: schema accepts it, want %s %q", short, e.verdict, want)
				} else if !slices.Equal(fields, want) {
					t.Errorf("%s: schema refuses fields %q, want %q", short, fields, want)
				}
			}
		})
	}
}
