//go:build e2e

package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// AddLocalAccount has a system admin (adminToken) add a local account of
// the plugin's portal through its admin API, or reset the one that already
// has the name, and sets its password through the set-password link, as
// its owner does.
func AddLocalAccount(ctx context.Context, client *http.Client, siteURL, adminToken, username, email, password string) error {
	api := strings.TrimRight(siteURL, "/") + "/plugins/certs/api/v1/admin/local-accounts"
	body, err := json.Marshal(map[string]string{"username": username, "email": email})
	if err != nil {
		return err
	}
	answer, status, err := adminPost(ctx, client, adminToken, api, body)
	if err == nil && status == http.StatusConflict {
		answer, status, err = adminPost(ctx, client, adminToken, api+"/"+url.PathEscape(username)+"/reset", nil)
	}
	if err != nil {
		return err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return fmt.Errorf("adding the local account %s: %d %s", username, status, answer)
	}
	var account struct {
		SetPasswordURL string `json:"set_password_url"`
	}
	if err := json.Unmarshal(answer, &account); err != nil {
		return err
	}
	link, err := url.Parse(account.SetPasswordURL)
	if err != nil {
		return err
	}
	form := url.Values{"token": {link.Query().Get("token")}, "password": {password}, "confirm": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(siteURL, "/")+"/plugins/certs/portal/password", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("setting the password of the local account %s: %s", username, resp.Status)
	}
	return nil
}

func adminPost(ctx context.Context, client *http.Client, token, target string, body []byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return data, resp.StatusCode, err
}
