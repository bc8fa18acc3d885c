package schema

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// base is where the server serves the files; their $id values are relative
// (/schema/…) so they resolve against whatever host serves them.
const base = "http://127.0.0.1:8000/schema/"

func compile(t *testing.T) (client, server *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	for _, name := range []string{"client.json", "server.json"} {
		b, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource(base+name, doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var err error
	if client, err = c.Compile(base + "client.json"); err != nil {
		t.Fatalf("client.json: %v", err)
	}
	if server, err = c.Compile(base + "server.json"); err != nil {
		t.Fatalf("server.json: %v", err)
	}
	return client, server
}

func TestSchemasCompile(t *testing.T) {
	client, server := compile(t)
	valid := func(s *jsonschema.Schema, doc string) bool {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		return s.Validate(v) == nil
	}
	// A handful of sanity checks; the full corpus lives in package api.
	for _, tc := range []struct {
		server bool
		doc    string
		ok     bool
	}{
		{false, `{"type":"join","name":"alice","ref":"1"}`, true},
		{false, `{"type":"chat","text":" "}`, false},
		{false, `{"type":"chat","text":"hi","from":"bob"}`, false},
		{false, `{"type":"typing","active":true,"room":"a","to":"bob"}`, false},
		{false, `{"type":"nope"}`, false},
		{true, `{"type":"chat","id":"01JDABCDEFGHJKMNPQRSTVWXYZ","ts":"2026-11-24T18:04:05.123Z","room":"lobby","from":"alice","text":"hi","new_field":1}`, true},
		{true, `{"type":"chat","id":"01jdabcdefghjkmnpqrstvwxyz","ts":"2026-11-24T18:04:05.123Z","room":"lobby","from":"alice","text":"hi"}`, false},
		{true, `{"type":"typing","from":"alice","active":true,"ts":"2026-11-24T18:04:05.123Z","room":"lobby","ref":"1"}`, false},
		{true, `{"type":"something_new","x":1}`, true},
	} {
		s := client
		if tc.server {
			s = server
		}
		if got := valid(s, tc.doc); got != tc.ok {
			t.Errorf("%s: valid = %v, want %v", tc.doc, got, tc.ok)
		}
	}
}

// TestFSHoldsTheContract pins the names the server serves under /schema/.
func TestFSHoldsTheContract(t *testing.T) {
	for _, name := range []string{"client.json", "server.json", "asyncapi.yaml"} {
		b, err := fs.ReadFile(FS, name)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", name, err, len(b))
		}
	}
	for _, name := range []string{"client.json", "server.json"} {
		b, _ := fs.ReadFile(FS, name)
		var doc struct {
			ID     string `json:"$id"`
			Schema string `json:"$schema"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc.ID != "/schema/"+name || doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $id %q, $schema %q", name, doc.ID, doc.Schema)
		}
	}
}

// TestAsyncAPIRefsResolve follows every $ref of asyncapi.yaml: into the JSON
// Schemas' $defs, or to a key path inside the YAML document itself.
func TestAsyncAPIRefsResolve(t *testing.T) {
	y, err := fs.ReadFile(FS, "asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(bytes.TrimLeft(dropComments(y), "\n"), []byte("asyncapi: 3.0.0\n")) {
		t.Errorf("asyncapi.yaml does not start with asyncapi: 3.0.0")
	}
	defs := map[string]map[string]json.RawMessage{}
	for _, name := range []string{"client.json", "server.json"} {
		b, _ := fs.ReadFile(FS, name)
		var doc struct {
			Defs map[string]json.RawMessage `json:"$defs"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		defs[name] = doc.Defs
	}
	refs := regexp.MustCompile(`\$ref: '([^']+)'`).FindAllSubmatch(y, -1)
	if len(refs) < 40 {
		t.Fatalf("found only %d $refs in asyncapi.yaml", len(refs))
	}
	lines := strings.Split(string(y), "\n")
	// The walker itself must be able to say no.
	if yamlPathExists(lines, []string{"components", "messages", "nope"}) || yamlPathExists(lines, []string{"operations", "clientJoin"}) {
		t.Fatal("yamlPathExists finds keys that are not there")
	}
	for _, m := range refs {
		ref := string(m[1])
		file, frag, _ := strings.Cut(ref, "#")
		switch file {
		case "./client.json", "./server.json":
			def := strings.TrimPrefix(frag, "/$defs/")
			if _, ok := defs[strings.TrimPrefix(file, "./")][def]; !ok {
				t.Errorf("%s: no such $defs entry", ref)
			}
		case "":
			if !yamlPathExists(lines, strings.Split(strings.TrimPrefix(frag, "/"), "/")) {
				t.Errorf("%s: no such key path in asyncapi.yaml", ref)
			}
		default:
			t.Errorf("%s: refers outside the schema directory", ref)
		}
	}
}

func dropComments(y []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(y, []byte("\n")) {
		if !bytes.HasPrefix(l, []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// yamlPathExists walks block-style YAML by indentation: each segment must be a
// key nested (more indented) inside the previous one's block.
func yamlPathExists(lines []string, path []string) bool {
	from, indent := 0, -1
	for _, seg := range path {
		found := false
		for i := from; i < len(lines); i++ {
			l := lines[i]
			trimmed := strings.TrimLeft(l, " ")
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			in := len(l) - len(trimmed)
			if in <= indent {
				break // left the parent's block
			}
			if strings.HasPrefix(trimmed, seg+":") {
				from, indent, found = i+1, in, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
