package chat

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// The Approve and Deny buttons of approval messages, and the dialog that asks
// for a reason, call these routes. Mattermost calls them in-process with the
// clicker's user id in the header; the context in the body comes from the
// client and is only a request id: who may decide is checked again here.

func (d *Door) handleApproveAction(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	s, action, err := d.readButtonClick(w, r)
	if s == nil || err != nil {
		return err
	}
	approver, err := d.Directory.Lookup(caller)
	if err != nil {
		return err
	}
	decision, err := s.Core.Approve(requestIDOf(action), approver)
	web.WriteJSON(w, http.StatusOK, model.PostActionIntegrationResponse{EphemeralText: d.approvalReply(decision, err)})
	return nil
}

// readButtonClick decodes a button click. When the plugin cannot serve it
// (misconfigured) it answers the clicker itself and returns nil services.
func (d *Door) readButtonClick(w http.ResponseWriter, r *http.Request) (*app.Snapshot, model.PostActionIntegrationRequest, error) {
	var action model.PostActionIntegrationRequest
	if err := web.DecodeOptionalJSON(r, &action); err != nil {
		return nil, action, err
	}
	s, err := d.Current.Get()
	if err != nil {
		web.WriteJSON(w, http.StatusOK, model.PostActionIntegrationResponse{EphemeralText: err.Error()})
		return nil, action, nil
	}
	return s, action, nil
}

// requestIDOf is the request a button names; only an id, checked later.
func requestIDOf(action model.PostActionIntegrationRequest) string {
	id, _ := action.Context["request_id"].(string)
	return id
}

// handleDenyAction opens a dialog that asks for the reason the requester
// will be given.
func (d *Door) handleDenyAction(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	s, action, err := d.readButtonClick(w, r)
	if s == nil || err != nil {
		return err
	}
	requestID := requestIDOf(action)
	approver, err := d.Directory.Lookup(caller)
	if err != nil {
		return err
	}
	if _, _, err := s.Core.RequestForDecision(requestID, approver); err != nil {
		web.WriteJSON(w, http.StatusOK, model.PostActionIntegrationResponse{EphemeralText: d.decisionReply(err, "")})
		return nil
	}
	appErr := d.API.OpenInteractiveDialog(model.OpenDialogRequest{
		TriggerId: action.TriggerId,
		URL:       d.site().URL + d.pluginPath(mattermost.DialogDenySubmit),
		Dialog: model.Dialog{
			CallbackId:  requestID,
			Title:       "Deny certificate request",
			SubmitLabel: "Deny",
			State:       requestID,
			Elements: []model.DialogElement{{
				DisplayName: "Reason", Name: "reason", Type: "textarea", MaxLength: 500,
				HelpText: "The requester sees this.",
			}},
		},
	})
	if appErr != nil {
		d.API.LogWarn("Could not open the deny dialog", "request", requestID, "error", appErr.Error())
		web.WriteJSON(w, http.StatusOK, model.PostActionIntegrationResponse{EphemeralText: "The dialog could not be opened; use `/cert deny " + requestID + " <reason>`."})
		return nil
	}
	web.WriteJSON(w, http.StatusOK, model.PostActionIntegrationResponse{})
	return nil
}

func (d *Door) handleDenyDialog(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	var submission model.SubmitDialogRequest
	if err := web.DecodeOptionalJSON(r, &submission); err != nil {
		return err
	}
	if submission.Cancelled {
		web.WriteJSON(w, http.StatusOK, model.SubmitDialogResponse{})
		return nil
	}
	s, err := d.Current.Get()
	if err != nil {
		web.WriteJSON(w, http.StatusOK, model.SubmitDialogResponse{Error: err.Error()})
		return nil
	}
	reason, _ := submission.Submission["reason"].(string)
	approver, err := d.Directory.Lookup(caller)
	if err != nil {
		return err
	}
	if _, err := s.Core.Deny(submission.State, approver, reason); err != nil {
		web.WriteJSON(w, http.StatusOK, model.SubmitDialogResponse{Error: d.decisionReply(err, "")})
		return nil
	}
	web.WriteJSON(w, http.StatusOK, model.SubmitDialogResponse{})
	return nil
}

// approvalReply is what an approver is told after saying yes.
func (d *Door) approvalReply(decision *enroll.Decision, err error) string {
	if err == nil && !decision.Final {
		return fmt.Sprintf("Your approval is recorded; the request needs %d more approver(s).", decision.Remaining)
	}
	return d.decisionReply(err, "approved")
}

// decisionReply is what the approver is told after a click.
func (d *Door) decisionReply(err error, done string) string {
	var te *records.ErrTransition
	switch {
	case err == nil:
		return "Request " + done + "."
	case errors.As(err, &te):
		return fmt.Sprintf("This request is already %s.", te.From)
	case enroll.AsError(err) != nil && enroll.AsError(err).Code != enroll.CodeInternal:
		return enroll.AsError(err).Message
	}
	d.API.LogError("Could not record a decision on a certificate request", "error", err.Error())
	return "The decision could not be recorded; please try again."
}

// handleRenewAction is the Renew button of an expiry reminder: a new link
// for the same profile, for the certificate's owner only (checked here:
// the button's context is only a serial). The web app also opens its
// enroll modal on the renewal (or, for a request that waits, on My
// certificates); other clients have the link.
func (d *Door) handleRenewAction(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	s, action, err := d.readButtonClick(w, r)
	if s == nil || err != nil {
		return err
	}
	owner, err := d.Directory.Lookup(caller)
	if err != nil {
		return err
	}
	serial, _ := action.Context["serial"].(string)
	reply, renewal := d.renewReply(s, owner, serial)
	switch {
	case renewal == nil:
	case renewal.Request != nil:
		d.openEnrollModal(caller, map[string]any{"tab": "certificates"})
	default:
		d.openEnrollModal(caller, map[string]any{"tab": "enroll", "renews": serial})
	}
	web.WriteJSON(w, http.StatusOK, model.PostActionIntegrationResponse{EphemeralText: reply})
	return nil
}

// openEnrollModal asks the user's web app to open the enroll modal on
// what data says; clients without the webapp plugin ignore it.
func (d *Door) openEnrollModal(caller records.Principal, data map[string]any) {
	d.API.PublishWebSocketEvent(mattermost.EventOpenEnroll, data, &model.WebsocketBroadcast{UserId: caller.MattermostUserID()})
}
