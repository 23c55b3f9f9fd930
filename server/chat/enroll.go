package chat

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// `/cert enroll` asks, in a dialog, what `/cert download` and `/cert csr`
// take as words: the profile, who makes the key, and email delivery. It is
// the way for clients that run no webapp plugin (the mobile app); the
// dialog's answer is a command of those two, run as the user typed it.

// Keys the dialog offers.
const (
	enrollKeyServer = "server"
	enrollKeyCSR    = "csr"
)

func (d *Door) commandEnroll(_ context.Context, args *model.CommandArgs, _ []string) (string, error) {
	s, requester, err := d.commandRequester(args.UserId)
	if err != nil {
		return "", err
	}
	profiles := s.Core.UsableProfiles(requester)
	if len(profiles) == 0 {
		return "", errors.New("no certificate profile is offered to your account. Ask a system admin.")
	}
	options := make([]*model.PostActionOptions, 0, len(profiles))
	chosen := profiles[0].Name
	for _, prof := range profiles {
		text := prof.Name
		if prof.Description != "" {
			text += ": " + prof.Description
		}
		options = append(options, &model.PostActionOptions{Text: text, Value: prof.Name})
		if prof.Name == s.Catalog.DefaultProfile {
			chosen = prof.Name
		}
	}
	elements := []model.DialogElement{
		{DisplayName: "Profile", Name: "profile", Type: "select", Options: options, Default: chosen},
		{DisplayName: "Key", Name: "key", Type: "radio", Default: enrollKeyServer, Options: []*model.PostActionOptions{
			{Text: "Create it for me (a PKCS#12 file, its passphrase shown once)", Value: enrollKeyServer},
			{Text: "Use my own key (upload a certificate signing request)", Value: enrollKeyCSR},
		}},
	}
	if s.Config.EmailDelivery != config.EmailDeliveryOff {
		elements = append(elements, model.DialogElement{DisplayName: "Email", Name: "email", Type: "bool", Optional: true,
			Placeholder: "Also email me the file (when the server makes the key)", Default: strconv.FormatBool(s.Config.EmailDelivery == config.EmailDeliveryDefault)})
	}
	appErr := d.API.OpenInteractiveDialog(model.OpenDialogRequest{
		TriggerId: args.TriggerId,
		URL:       d.site().URL + d.pluginPath(mattermost.DialogEnrollSubmit),
		Dialog: model.Dialog{
			CallbackId: "enroll", Title: "Get a certificate", SubmitLabel: "Continue", Elements: elements,
		},
	})
	if appErr != nil {
		d.API.LogWarn("Could not open the enroll dialog", "user_id", args.UserId, "error", appErr.Error())
		return "The dialog could not be opened; use `/cert download [profile]` or `/cert csr [profile]`.", nil
	}
	return "", nil
}

// handleEnrollDialog runs the dialog's answer as the command it stands
// for, and answers in the channel the dialog was opened from.
func (d *Door) handleEnrollDialog(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	var submission model.SubmitDialogRequest
	if err := web.DecodeOptionalJSON(r, &submission); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, model.SubmitDialogResponse{})
	if submission.Cancelled {
		return nil
	}
	profile, _ := submission.Submission["profile"].(string)
	key, _ := submission.Submission["key"].(string)
	email, _ := submission.Submission["email"].(bool)
	params := []string{}
	command := d.commandDownload
	switch {
	case key == enrollKeyCSR:
		command = d.commandCSR
	case email:
		params = append(params, "--email")
	}
	if profile != "" {
		params = append(params, profile)
	}
	// The user the server vouches for, never the one the body names.
	args := &model.CommandArgs{UserId: caller.MattermostUserID(), ChannelId: submission.ChannelId}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	reply, err := command(ctx, args, params)
	if err != nil {
		reply = "⚠️ " + err.Error()
	}
	d.postEphemeral(args, reply)
	return nil
}
