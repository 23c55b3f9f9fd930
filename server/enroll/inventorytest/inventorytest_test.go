package inventorytest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The contract knows no store, no plugin and no plugin API: the stores
// import it, never the reverse.
func TestTheContractKnowsNoStoreAndNoPluginAPI(t *testing.T) {
	const module = "github.com/clientcerts/mattermost-plugin-certs/server"
	out, err := exec.Command("go", "list", "-deps", module+"/enroll/inventorytest").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		assert.False(t, strings.HasPrefix(dep, "github.com/mattermost/"), "it depends on %s", dep)
		assert.NotContains(t, []string{module, module + "/store", module + "/sqlstore"}, dep)
	}
}
