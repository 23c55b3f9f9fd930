package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// modulePath is where the plugin's packages live.
const modulePath = "github.com/clientcerts/mattermost-plugin-certs/server"

// layers ranks the plugin's packages: a package imports only packages of a
// lower layer, so imports point one way (doors → kit → core → leaves) and
// a door never reaches into another door. Test helper packages (…test,
// …bench) are left out: they serve tests only. A new package must be
// placed here, which is the point.
var layers = map[string]int{
	// Leaves: records, formats and back ends that know nothing above them.
	"records": 0, "pki": 0, "sealbox": 0, "admission": 0, "randtoken": 0,
	"linktoken": 1, "attest": 1, "mailer": 1, "connector": 1, "profile": 2, "store": 2, "sqlstore": 3,
	// The core.
	"enroll": 4,
	// Settings, and what one configuration built.
	"config": 5, "app": 6,
	// Adapters of the core's ports over the plugin API, and the HTTP kit.
	"mattermost": 7, "local": 7, "builtinca": 7, "observe": 7, "web": 7, "openid": 7,
	// The doors.
	"web/public": 8, "web/admin": 8, "web/enrollment": 8, "chat": 8, "portal": 8,
}

// pluginAPI are the packages that tie code to a running Mattermost.
var pluginAPI = []string{
	"github.com/mattermost/mattermost/server/public/plugin",
	"github.com/mattermost/mattermost/server/public/pluginapi",
}

// mayUsePluginAPI are the packages below the adapters allowed to: the KV
// store is pluginapi's.
var mayUsePluginAPI = map[string]bool{"store": true, "sqlstore": true}

func TestImportsPointOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", modulePath+"/...").Output()
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var pkg struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&pkg); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		name, ok := strings.CutPrefix(pkg.ImportPath, modulePath+"/")
		if !ok || strings.HasSuffix(name, "test") || strings.HasSuffix(name, "bench") {
			continue // the plugin itself wires everything; helpers serve tests
		}
		layer, placed := layers[name]
		if !placed {
			t.Errorf("package %s has no layer in layout_test.go", name)
			continue
		}
		for _, imp := range pkg.Imports {
			if dep, ok := strings.CutPrefix(imp, modulePath+"/"); ok {
				if depLayer, placed := layers[dep]; placed && depLayer >= layer && !strings.HasPrefix(name, dep+"/") {
					t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", name, layer, dep, depLayer)
				}
			}
			for _, api := range pluginAPI {
				if (imp == api || strings.HasPrefix(imp, api+"/")) && layer < layers["mattermost"] && !mayUsePluginAPI[name] {
					t.Errorf("%s imports %s: below the adapters nothing knows the plugin API", name, imp)
				}
			}
		}
	}
}
