package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// A manifest whose strings hold every character that needs escaping in a Go
// raw string or a JavaScript template literal.
const trickyManifest = `{
  "id": "certs",
  "name": "Client Certificates",
  "description": "back\\slash \"quote\" ${x} $y ` + "`tick`" + ` line\nbreak <&> é",
  "homepage_url": "https://example.com/certs",
  "server": {"executables": {"linux-amd64": "server/dist/plugin-linux-amd64", "windows-amd64": "server/dist/plugin-windows-amd64.exe"}},
  "webapp": {"bundle_path": "webapp/dist/main.js"},
  "settings_schema": {"header": "Use ` + "`/cert`" + `.", "settings": []}
}`

func writeManifest(t *testing.T, content string) (*model.Manifest, []byte) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	m, raw, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m, raw
}

func TestLoadRejectsUnknownFields(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.json")
	if err := os.WriteFile(path, []byte(`{"id": "certs", "nmae": "typo"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := load(path); err == nil || !strings.Contains(err.Error(), "nmae") {
		t.Fatalf("want an error naming the unknown field, got %v", err)
	}
}

func TestLoadRejectsTrailingData(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.json")
	if err := os.WriteFile(path, []byte(`{"id": "certs", "name": "x", "version": "1.0.0"} {}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := load(path); err == nil {
		t.Fatal("want an error for data after the object")
	}
}

func TestManifestJSONKeepsOrderAndAddsVersion(t *testing.T) {
	m, raw := writeManifest(t, trickyManifest)
	if m.Version == "" {
		t.Fatal("version not derived")
	}
	js, err := manifestJSON(m, raw)
	if err != nil {
		t.Fatal(err)
	}
	text := string(js)
	if !strings.HasPrefix(text, "{\n    \"id\": \"certs\",\n    \"name\": ") {
		t.Errorf("key order or indentation not kept:\n%s", text)
	}
	var got map[string]any
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	if got["version"] != m.Version {
		t.Errorf("version = %v, want %q", got["version"], m.Version)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if got["description"] != want["description"] {
		t.Errorf("description changed: %q", got["description"])
	}
}

func TestManifestJSONKeepsGivenVersion(t *testing.T) {
	m, raw := writeManifest(t, `{"id": "certs", "name": "x", "version": "1.2.3", "release_notes_url": "https://example.com/r"}`)
	js, err := manifestJSON(m, raw)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(js), `"version"`) != 1 || strings.Count(string(js), `"release_notes_url"`) != 1 {
		t.Errorf("duplicated keys:\n%s", js)
	}
}

func TestGoSourceEmbedsTheExactJSON(t *testing.T) {
	m, raw := writeManifest(t, trickyManifest)
	js, err := manifestJSON(m, raw)
	if err != nil {
		t.Fatal(err)
	}
	src, err := goSource(js)
	if err != nil {
		t.Fatal(err)
	}

	f, err := parser.ParseFile(token.NewFileSet(), "manifest.go", src, 0)
	if err != nil {
		t.Fatalf("generated Go does not parse: %v\n%s", err, src)
	}
	var lit string
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && vs.Names[0].Name == "manifestJSON" {
			lit = vs.Values[0].(*ast.BasicLit).Value
		}
		return true
	})
	value, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatal(err)
	}
	var fromGo, fromFile model.Manifest
	if err := json.Unmarshal([]byte(value), &fromGo); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &fromFile); err != nil {
		t.Fatal(err)
	}
	if fromGo.Description != fromFile.Description || fromGo.SettingsSchema.Header != fromFile.SettingsSchema.Header || fromGo.Version != m.Version {
		t.Errorf("embedded manifest differs: %+v", fromGo)
	}
}

// unTemplate evaluates the escapes a JavaScript template literal without
// substitutions can hold in our output: \\, \` and \$.
func unTemplate(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
			if i == len(s) || !strings.ContainsRune("\\`$", rune(s[i])) {
				t.Fatalf("unexpected escape at %d in %q", i, s)
			}
			b.WriteByte(s[i])
		case c == '`':
			t.Fatalf("unescaped backquote at %d", i)
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			t.Fatalf("unescaped substitution at %d", i)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestTSSourceForm(t *testing.T) {
	m, raw := writeManifest(t, trickyManifest)
	js, err := manifestJSON(m, raw)
	if err != nil {
		t.Fatal(err)
	}
	ts := string(tsSource(js))

	const head = "// Generated from plugin.json by build/manifest. Do not edit.\nconst manifest = JSON.parse(`\n"
	const tail = "\n`);\nexport default manifest;\nexport const id = manifest.id;\nexport const version = manifest.version;\n"
	if !strings.HasPrefix(ts, head) || !strings.HasSuffix(ts, tail) {
		t.Fatalf("unexpected form:\n%s", ts)
	}
	body := strings.TrimSuffix(strings.TrimPrefix(ts, head), tail)
	if got := unTemplate(t, body); got != string(js) {
		t.Errorf("template literal value differs from the JSON:\n%s\nvs\n%s", got, js)
	}
}

func TestCheck(t *testing.T) {
	for name, content := range map[string]string{
		"windows without .exe": `{"id": "certs", "name": "x", "version": "1.0.0", "server": {"executables": {"windows-amd64": "server/dist/plugin"}}}`,
		"path outside bundle":  `{"id": "certs", "name": "x", "version": "1.0.0", "server": {"executables": {"linux-amd64": "../plugin"}}}`,
		"bad platform key":     `{"id": "certs", "name": "x", "version": "1.0.0", "server": {"executables": {"linux": "server/dist/plugin"}}}`,
		"bad version":          `{"id": "certs", "name": "x", "version": "1.0"}`,
		"no name":              `{"id": "certs", "version": "1.0.0"}`,
	} {
		m, _ := writeManifest(t, content)
		if err := check(m); err == nil {
			t.Errorf("%s: check passed", name)
		}
	}
	m, _ := writeManifest(t, trickyManifest)
	if err := check(m); err != nil {
		t.Errorf("valid manifest: %v", err)
	}
}

func TestCheckGenerated(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.Mkdir(serverDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifestFile, []byte(trickyManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	m, raw, err := load(manifestFile)
	if err != nil {
		t.Fatal(err)
	}

	if err := checkGenerated(m, raw); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("no server/manifest.go: got %v, want an error saying it is missing", err)
	}
	if err := apply(m, raw); err != nil {
		t.Fatal(err)
	}
	if err := checkGenerated(m, raw); err != nil {
		t.Errorf("after apply: %v", err)
	}

	// plugin.json edited without apply: the committed file is stale.
	edited := strings.Replace(trickyManifest, `"name": "Client Certificates"`, `"name": "Client Certs"`, 1)
	if err := os.WriteFile(manifestFile, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	m2, raw2, err := load(manifestFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkGenerated(m2, raw2); err == nil || !strings.Contains(err.Error(), "out of date") {
		t.Errorf("stale server/manifest.go: got %v, want an out-of-date error", err)
	}
	if err := apply(m2, raw2); err != nil {
		t.Fatal(err)
	}
	if err := checkGenerated(m2, raw2); err != nil {
		t.Errorf("after a second apply: %v", err)
	}
}

func TestBundleJSONNamesOnlyTheBuiltPlatforms(t *testing.T) {
	m, raw := writeManifest(t, trickyManifest)

	all, err := bundleJSON(m, raw, nil)
	must(t, err)
	full, err := manifestJSON(m, raw)
	must(t, err)
	if string(all) != string(full) {
		t.Errorf("without platforms the bundle manifest differs from the manifest:\n%s", all)
	}

	js, err := bundleJSON(m, raw, []string{"linux-amd64", "linux-amd64"})
	must(t, err)
	var got model.Manifest
	must(t, json.Unmarshal(js, &got))
	if len(got.Server.Executables) != 1 || got.Server.Executables["linux-amd64"] != "server/dist/plugin-linux-amd64" {
		t.Errorf("executables = %v, want linux-amd64 only", got.Server.Executables)
	}
	if got.Version != m.Version || got.Description != m.Description || got.Webapp.BundlePath != "webapp/dist/main.js" {
		t.Errorf("other fields changed: %+v", got)
	}
	if !strings.HasPrefix(string(js), "{\n    \"id\": \"certs\",\n    \"name\": ") {
		t.Errorf("key order or indentation not kept:\n%s", js)
	}

	if _, err := bundleJSON(m, raw, []string{"plan9-386"}); err == nil || !strings.Contains(err.Error(), "plan9-386") {
		t.Errorf("unknown platform: got %v, want an error naming it", err)
	}
}

func TestSelectPlatforms(t *testing.T) {
	m, _ := writeManifest(t, trickyManifest)
	got, err := selectPlatforms(m, nil)
	must(t, err)
	if strings.Join(got, " ") != "linux-amd64 windows-amd64" {
		t.Errorf("all platforms = %v", got)
	}
	got, err = selectPlatforms(m, []string{"windows-amd64", "linux-amd64", "windows-amd64"})
	must(t, err)
	if strings.Join(got, " ") != "linux-amd64 windows-amd64" {
		t.Errorf("selected platforms = %v, want sorted without duplicates", got)
	}
	if _, err := selectPlatforms(m, []string{"linux-arm64"}); err == nil {
		t.Error("a platform plugin.json does not name was accepted")
	}
}

// TestCheckBundleOnePlatform assembles bundles in a scratch repository the
// way make bundle does, with only the linux-amd64 executable built.
func TestCheckBundleOnePlatform(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(manifestFile, []byte(trickyManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	m, raw, err := load(manifestFile)
	must(t, err)
	bundle := filepath.Join(distDir, m.Id)
	for _, p := range []string{"server/dist/plugin-linux-amd64", "webapp/dist/main.js"} {
		p = filepath.Join(bundle, filepath.FromSlash(p))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte("x"), 0o755))
	}

	// All platforms: the windows executable is missing.
	must(t, writeDist(m, raw, nil))
	if err := checkBundle(m); err == nil || !strings.Contains(err.Error(), "plugin-windows-amd64.exe") {
		t.Errorf("full bundle without the windows executable: got %v", err)
	}

	// Built for linux-amd64: the bundle names only what it holds.
	must(t, writeDist(m, raw, []string{"linux-amd64"}))
	if err := checkBundle(m); err != nil {
		t.Errorf("linux-amd64 bundle: %v", err)
	}
	written, _, err := load(filepath.Join(bundle, manifestFile))
	must(t, err)
	if len(written.Server.Executables) != 1 || written.GetExecutableForRuntime("linux", "amd64") != "server/dist/plugin-linux-amd64" {
		t.Errorf("bundle executables = %v", written.Server.Executables)
	}
	if repo, _, _ := load(manifestFile); len(repo.Server.Executables) != 2 {
		t.Error("the repository's plugin.json was changed")
	}

	// A platform that was asked for but not built still fails the check.
	must(t, writeDist(m, raw, []string{"windows-amd64"}))
	if err := checkBundle(m); err == nil || !strings.Contains(err.Error(), "plugin-windows-amd64.exe") {
		t.Errorf("windows bundle without its executable: got %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
