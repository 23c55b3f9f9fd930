//go:build e2e

package testbed

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// DeployPlugin uploads the bundle (replacing an installed version), enables
// it and waits until the server reports it running. client needs admin
// rights on this server.
func (mm *Mattermost) DeployPlugin(ctx context.Context, client *model.Client4, bundlePath string) (*model.Manifest, error) {
	bundle, err := os.Open(bundlePath)
	if err != nil {
		return nil, fmt.Errorf("opening plugin bundle: %w", err)
	}
	defer bundle.Close()

	manifest, _, err := client.UploadPluginForced(ctx, bundle)
	if err != nil {
		return nil, fmt.Errorf("uploading %s: %w; server log tail:\n%s", bundlePath, err, mm.LogTail(30))
	}
	if _, err := client.EnablePlugin(ctx, manifest.Id); err != nil {
		return nil, fmt.Errorf("enabling plugin %s: %w; server log tail:\n%s", manifest.Id, err, mm.LogTail(40))
	}
	if err := mm.WaitForPluginRunning(ctx, client, manifest.Id, 60*time.Second); err != nil {
		return nil, err
	}
	return manifest, nil
}

// WaitForPluginRunning polls the plugin statuses until pluginID runs on
// every server that reports it.
func (mm *Mattermost) WaitForPluginRunning(ctx context.Context, client *model.Client4, pluginID string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "not reported"
	for {
		statuses, _, err := client.GetPluginStatuses(ctx)
		if err != nil {
			last = err.Error()
		} else if state, found := pluginState(statuses, pluginID); found {
			switch state {
			case model.PluginStateRunning:
				return nil
			case model.PluginStateFailedToStart, model.PluginStateFailedToStayRunning:
				return fmt.Errorf("plugin %s failed (state %d); server log tail:\n%s", pluginID, state, mm.LogTail(40))
			}
			last = fmt.Sprintf("state %d", state)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("plugin %s not running after %s (%s); server log tail:\n%s", pluginID, timeout, last, mm.LogTail(40))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pluginState is the least advanced state over all servers reporting the plugin.
func pluginState(statuses model.PluginStatuses, pluginID string) (int, bool) {
	state, found := 0, false
	for _, status := range statuses {
		if status.PluginId != pluginID {
			continue
		}
		if !found || status.State != model.PluginStateRunning {
			state = status.State
		}
		found = true
	}
	return state, found
}
