//go:build tools

package dexserver

import (
	_ "github.com/dexidp/dex/cmd/dex"
)
