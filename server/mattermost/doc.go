// Package mattermost is the enrollment core's ports over the Mattermost
// plugin API: who people are, who the admins are, and how they are told
// (the bot's direct messages).
package mattermost
