package store

import (
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
)

// setIfAbsent makes a Set succeed only when the key holds nothing.
func setIfAbsent() pluginapi.KVSetOption {
	return pluginapi.SetAtomic([]byte(nil))
}

func expiry(ttl time.Duration) pluginapi.KVSetOption {
	// The KV store counts whole seconds; never round a short TTL down to
	// "no expiry".
	if ttl < time.Second {
		ttl = time.Second
	}
	return pluginapi.SetExpiry(ttl)
}

// setIfEquals makes a Set succeed only when the key holds exactly old.
func setIfEquals(old []byte) pluginapi.KVSetOption {
	return pluginapi.SetAtomic(old)
}
