package mattermost

import (
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/mailer"
)

// serverConfig is a server whose configuration is cfg.
type serverConfig struct{ cfg *model.Config }

func (s serverConfig) GetUnsanitizedConfig() *model.Config { return s.cfg }

func TestMailSettingsComeFromTheServerUnlessOverridden(t *testing.T) {
	serverCfg := &model.Config{}
	serverCfg.SetDefaults()
	es := &serverCfg.EmailSettings
	es.SMTPServer = model.NewPointer("mail.example.com")
	es.SMTPPort = model.NewPointer("587")
	es.ConnectionSecurity = model.NewPointer(model.ConnSecurityStarttls)
	es.EnableSMTPAuth = model.NewPointer(true)
	es.SMTPUsername = model.NewPointer("mattermost")
	es.SMTPPassword = model.NewPointer("server-secret")
	es.FeedbackEmail = model.NewPointer("noreply@example.com")
	es.FeedbackName = model.NewPointer("Example Chat")
	m := &Mailer{API: serverConfig{serverCfg}}
	c := &config.Configuration{}
	c.SetDefaults()
	s, err := m.Settings(c)
	require.NoError(t, err)
	assert.Equal(t, mailer.Settings{Host: "mail.example.com", Port: 587, Security: mailer.SecuritySTARTTLS,
		Username: "mattermost", Password: "server-secret", From: "noreply@example.com", FromName: "Example Chat",
		Timeout: MailTimeout}, s)

	es.EnableSMTPAuth = model.NewPointer(false)
	es.ConnectionSecurity = model.NewPointer(model.ConnSecurityNone)
	s, err = m.Settings(c)
	require.NoError(t, err)
	assert.Empty(t, s.Username, "no AUTH when the server sends without it")
	assert.Equal(t, mailer.SecurityNone, s.Security)

	c.SMTPServer = "relay.example.com"
	c.SMTPPort = 465
	c.SMTPConnectionSecurity = "tls"
	c.SMTPFrom = "certificates@example.com"
	s, err = m.Settings(c)
	require.NoError(t, err)
	assert.Equal(t, "relay.example.com", s.Host)
	assert.Equal(t, 465, s.Port)
	assert.Equal(t, mailer.SecurityTLS, s.Security)
	assert.Equal(t, "certificates@example.com", s.From)
	assert.Empty(t, s.Password, "the server's password is not sent to another relay")
}
