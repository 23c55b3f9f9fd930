// Command pluginctl installs and controls the plugin on a running Mattermost
// server through its REST API.
//
//	pluginctl deploy  <plugin id> <bundle.tar.gz>   upload (replacing any older copy) and enable
//	pluginctl enable  <plugin id>
//	pluginctl disable <plugin id>
//	pluginctl reset   <plugin id>                   disable, then enable again
//
// How it connects, first match wins:
//
//  1. local mode over the unix socket $MM_LOCALSOCKETPATH (default
//     /var/tmp/mattermost_local.socket), if the socket exists and answers;
//     the server needs ServiceSettings.EnableLocalMode=true;
//  2. $MM_SERVICESETTINGS_SITEURL with the personal access token $MM_ADMIN_TOKEN;
//  3. $MM_SERVICESETTINGS_SITEURL, logging in as $MM_ADMIN_USERNAME with
//     $MM_ADMIN_PASSWORD.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

const (
	commandTimeout = 120 * time.Second
	pingTimeout    = 5 * time.Second
	activeTimeout  = 15 * time.Second
)

const usage = `usage: pluginctl <command> <plugin id> [bundle.tar.gz]

commands:
  deploy <id> <bundle.tar.gz>   upload the bundle (replacing an installed copy) and enable it
  enable <id>                   enable an installed plugin
  disable <id>                  disable an installed plugin
  reset <id>                    disable, then enable the plugin (restarts it)

connection (first that applies):
  MM_LOCALSOCKETPATH            local-mode socket (default ` + model.LocalModeSocketPath + `)
  MM_SERVICESETTINGS_SITEURL    server URL, with either
    MM_ADMIN_TOKEN              a system admin's personal access token, or
    MM_ADMIN_USERNAME and MM_ADMIN_PASSWORD
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pluginctl:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, usage)
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return nil
	}

	cmd := args[0]
	want := 2
	if cmd == "deploy" {
		want = 3
	}
	switch cmd {
	case "deploy", "enable", "disable", "reset":
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if len(args) != want {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("%s: wrong number of arguments", cmd)
	}
	id := args[1]

	// Check the bundle before connecting: a typo should not cost a login.
	var bundlePath string
	if cmd == "deploy" {
		bundlePath = args[2]
		fi, err := os.Stat(bundlePath)
		if err != nil {
			return fmt.Errorf("deploy: bundle: %w (run `make dist` first)", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("deploy: bundle %s is not a file", bundlePath)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()

	client, err := connect(ctx)
	if err != nil {
		return err
	}

	switch cmd {
	case "deploy":
		return deploy(ctx, client, id, bundlePath)
	case "enable":
		return enable(ctx, client, id)
	case "disable":
		return disable(ctx, client, id)
	case "reset":
		if err := disable(ctx, client, id); err != nil {
			return err
		}
		return enable(ctx, client, id)
	}
	return nil
}

// connect returns a client for the first connection method that works.
func connect(ctx context.Context) (*model.Client4, error) {
	socketPath := os.Getenv("MM_LOCALSOCKETPATH")
	if socketPath == "" {
		socketPath = model.LocalModeSocketPath
	}
	if fi, err := os.Stat(socketPath); err == nil && fi.Mode()&os.ModeSocket != 0 {
		client := model.NewAPIv4SocketClient(socketPath)
		err := ping(ctx, client)
		if err == nil {
			fmt.Printf("Connected to Mattermost in local mode over %s\n", socketPath)
			return client, nil
		}
		fmt.Fprintf(os.Stderr, "pluginctl: local-mode socket %s does not answer (%v); trying the site URL\n", socketPath, err)
	}

	siteURL := os.Getenv("MM_SERVICESETTINGS_SITEURL")
	if siteURL == "" {
		return nil, fmt.Errorf("no Mattermost server to talk to: the local-mode socket %s is absent or does not answer "+
			"(set MM_LOCALSOCKETPATH, and ServiceSettings.EnableLocalMode=true on the server), "+
			"and MM_SERVICESETTINGS_SITEURL is not set (set it with MM_ADMIN_TOKEN, or MM_ADMIN_USERNAME and MM_ADMIN_PASSWORD)", socketPath)
	}

	client := model.NewAPIv4Client(siteURL)
	if err := ping(ctx, client); err != nil {
		return nil, fmt.Errorf("the server at %s (MM_SERVICESETTINGS_SITEURL) does not answer: %w", siteURL, err)
	}

	if token := os.Getenv("MM_ADMIN_TOKEN"); token != "" {
		client.SetToken(token)
		if _, resp, err := client.GetMe(ctx, ""); err != nil {
			return nil, fmt.Errorf("MM_ADMIN_TOKEN was refused by %s: %w", siteURL, explain(resp, err))
		}
		fmt.Printf("Connected to %s with MM_ADMIN_TOKEN\n", siteURL)
		return client, nil
	}

	username, password := os.Getenv("MM_ADMIN_USERNAME"), os.Getenv("MM_ADMIN_PASSWORD")
	if username != "" && password != "" {
		if _, resp, err := client.Login(ctx, username, password); err != nil {
			return nil, fmt.Errorf("log in to %s as %q (MM_ADMIN_USERNAME/MM_ADMIN_PASSWORD) failed: %w", siteURL, username, explain(resp, err))
		}
		fmt.Printf("Connected to %s as %s\n", siteURL, username)
		return client, nil
	}

	return nil, fmt.Errorf("MM_SERVICESETTINGS_SITEURL=%s is set but there are no credentials: "+
		"set MM_ADMIN_TOKEN (a system admin's personal access token), or MM_ADMIN_USERNAME and MM_ADMIN_PASSWORD", siteURL)
}

func ping(ctx context.Context, client *model.Client4) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	status, resp, err := client.GetPingWithOptions(ctx, model.SystemPingOptions{})
	if err != nil {
		return explain(resp, err)
	}
	if s, _ := status["status"].(string); s != model.StatusOk {
		return fmt.Errorf("ping status %q", s)
	}
	return nil
}

func deploy(ctx context.Context, client *model.Client4, id, bundlePath string) error {
	f, err := os.Open(bundlePath)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	defer f.Close()

	fmt.Printf("Uploading %s\n", bundlePath)
	manifest, resp, err := client.UploadPluginForced(ctx, f)
	if err != nil {
		return fmt.Errorf("upload %s: %w", bundlePath, explainUpload(resp, err))
	}
	if manifest != nil && manifest.Id != id {
		return fmt.Errorf("uploaded bundle holds plugin %q, not %q", manifest.Id, id)
	}
	if manifest != nil {
		fmt.Printf("Installed %s %s\n", manifest.Id, manifest.Version)
	}
	return enable(ctx, client, id)
}

func enable(ctx context.Context, client *model.Client4, id string) error {
	if resp, err := client.EnablePlugin(ctx, id); err != nil {
		return fmt.Errorf("enable %s: %w", id, explain(resp, err))
	}
	if err := waitActive(ctx, client, id); err != nil {
		return err
	}
	fmt.Printf("Enabled %s: it is running\n", id)
	return nil
}

func disable(ctx context.Context, client *model.Client4, id string) error {
	if resp, err := client.DisablePlugin(ctx, id); err != nil {
		return fmt.Errorf("disable %s: %w", id, explain(resp, err))
	}
	fmt.Printf("Disabled %s\n", id)
	return nil
}

// waitActive waits until the server lists the plugin as active: enabling only
// records the wish, and a plugin that fails to start is otherwise silent.
func waitActive(ctx context.Context, client *model.Client4, id string) error {
	deadline := time.Now().Add(activeTimeout)
	for {
		plugins, resp, err := client.GetPlugins(ctx)
		if err != nil {
			return fmt.Errorf("list plugins: %w", explain(resp, err))
		}
		if slices.ContainsFunc(plugins.Active, func(p *model.PluginInfo) bool { return p.Id == id }) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is enabled but not running after %s: it probably failed to start; look for %q in the server log", id, activeTimeout, id)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func explainUpload(resp *model.Response, err error) error {
	if resp != nil {
		switch resp.StatusCode {
		case http.StatusNotImplemented:
			return fmt.Errorf("the server refuses plugin uploads: set PluginSettings.Enable=true, "+
				"PluginSettings.EnableUploads=true and PluginSettings.RequirePluginSignature=false "+
				"(environment: MM_PLUGINSETTINGS_ENABLEUPLOADS=true MM_PLUGINSETTINGS_REQUIREPLUGINSIGNATURE=false) and restart it: %w", err)
		case http.StatusRequestEntityTooLarge:
			return fmt.Errorf("the bundle is larger than the server accepts (FileSettings.MaxFileSize): %w", err)
		}
	}
	return explain(resp, err)
}

// explain adds a hint for the HTTP statuses that have an obvious cause.
func explain(resp *model.Response, err error) error {
	if resp == nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("not authenticated (HTTP 401; check the token or password): %w", err)
	case http.StatusForbidden:
		return fmt.Errorf("not allowed (HTTP 403; the user must be a system admin): %w", err)
	case http.StatusNotFound:
		return fmt.Errorf("not found (HTTP 404; is the plugin installed?): %w", err)
	}
	return err
}
