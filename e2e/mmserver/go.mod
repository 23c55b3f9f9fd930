// Builds the real Mattermost server used by the end-to-end tests and `make run`.
// It is its own module so the plugin's go.mod stays lean.
module github.com/clientcerts/mattermost-plugin-certs/e2e/mmserver

go 1.26

require (
	github.com/mattermost/mattermost/server/public v0.1.22-0.20260113165922-8e4cadbc88ee
	github.com/mattermost/mattermost/server/v8 v8.0.0-20260113162330-9e1d4c2072c0
)

replace github.com/olekukonko/tablewriter => github.com/olekukonko/tablewriter v0.0.5
