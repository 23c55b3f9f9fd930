//go:build e2e

package e2e

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// TestCAChain: ca.pem is public and holds the issuing CA first, the root
// last; after a renewal the issuing CAs it took over from sit between, each
// signed by the root.
func TestCAChain(t *testing.T) {
	requireBed(t)
	chain := fetchCAChain(t)
	root := chain[len(chain)-1]
	for i, cert := range chain {
		require.True(t, cert.IsCA, "certificate %d (%s) in ca.pem is not a CA", i, cert.Subject)
		if i+1 < len(chain) {
			next := cert.CheckSignatureFrom(chain[i+1])
			require.True(t, next == nil || cert.CheckSignatureFrom(root) == nil, "certificate %d (%s) is signed neither by the next one (%s) nor by the root", i, cert.Subject, chain[i+1].Subject)
		}
	}
	require.NoError(t, root.CheckSignatureFrom(root), "the last certificate in ca.pem must be the self-signed root")
}

// TestDownloadFlow follows the user's path: /cert download, the link from the
// bot's ephemeral reply, the confirmation page, the result page, and then
// proves with OpenSSL (and NSS when installed) that the file is usable.
func TestDownloadFlow(t *testing.T) {
	requireBed(t)
	alice := bed.alice
	_, token := alice.linkViaCommand(t)

	// Viewing the page must not use the link up: previews and scanners GET links.
	for attempt := 1; attempt <= 2; attempt++ {
		page := getIssuePage(t, token, "")
		require.Equal(t, http.StatusOK, page.status, "GET #%d of the link: %s", attempt, page)
		require.Contains(t, page.header.Get("Content-Type"), "text/html")
		require.Contains(t, page.body, alice.name(), "the page must name the user")
		require.Regexp(t, `<form\b[^>]*\bmethod="post"`, page.body)
		requireHiddenTokenInput(t, page.body, token)
	}

	result := submitIssue(t, token, "", "")
	require.Equal(t, http.StatusOK, result.status, "POST of the link: %s", result)
	require.Contains(t, result.header.Get("Content-Type"), "text/html")
	issued := parseIssuedPage(t, result.body)
	require.Equal(t, alice.name()+".p12", issued.filename)
	require.NotEmpty(t, issued.passphrase)

	dir := t.TempDir()
	p12Path := filepath.Join(dir, issued.filename)
	require.NoError(t, os.WriteFile(p12Path, issued.pkcs12, 0o600))
	chain := fetchCAChain(t)
	root := chain[len(chain)-1]
	require.NoError(t, os.WriteFile(filepath.Join(dir, "root.pem"), encodePEM(root), 0o600))
	// Everything below the root is "untrusted": OpenSSL must build the path itself.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "issuing.pem"), encodePEM(chain[:len(chain)-1]...), 0o600))
	passin := "pass:" + issued.passphrase

	t.Run("openssl opens the PKCS#12", func(t *testing.T) {
		dump := runTool(t, dir, "openssl", "pkcs12", "-in", p12Path, "-passin", passin, "-nodes")
		require.Contains(t, dump, "PRIVATE KEY-----", "no private key in the file")
		certs := pemCertificates(t, dump)
		var leaves int
		for _, cert := range certs {
			if cert.IsCA {
				require.True(t, containsCertificate(chain, cert), "the file carries a CA certificate (%s) that is not in ca.pem", cert.Subject)
				continue
			}
			leaves++
		}
		require.Equal(t, 1, leaves, "the file must hold exactly one end-entity certificate")
		require.True(t, containsCertificate(certs, chain[0]), "the file must carry the issuing CA so clients can present the chain")
		t.Logf("the PKCS#12 holds %d certificates (leaf + %d CA)", len(certs), len(certs)-1)
	})

	runTool(t, dir, "openssl", "pkcs12", "-in", p12Path, "-passin", passin, "-clcerts", "-nokeys", "-out", "leaf.pem")
	runTool(t, dir, "openssl", "pkcs12", "-in", p12Path, "-passin", passin, "-nocerts", "-nodes", "-out", "key.pem")

	t.Run("openssl verifies the leaf for client auth", func(t *testing.T) {
		out := runTool(t, dir, "openssl", "verify", "-purpose", "sslclient", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "leaf.pem")
		require.Equal(t, "leaf.pem: OK", strings.TrimSpace(out))
	})

	t.Run("the key belongs to the leaf", func(t *testing.T) {
		keyPublic := runTool(t, dir, "openssl", "pkey", "-in", "key.pem", "-pubout")
		leafPublic := runTool(t, dir, "openssl", "x509", "-in", "leaf.pem", "-noout", "-pubkey")
		require.Equal(t, leafPublic, keyPublic)
	})

	t.Run("leaf identity", func(t *testing.T) {
		text := runTool(t, dir, "openssl", "x509", "-in", "leaf.pem", "-noout", "-text")
		require.Regexp(t, `Subject:.*\bCN ?= ?`+regexp.QuoteMeta(alice.name())+`\b`, text)
		require.Contains(t, text, "email:"+alice.User.Email)
		require.Contains(t, text, "TLS Web Client Authentication")

		leafPEM, err := os.ReadFile(filepath.Join(dir, "leaf.pem"))
		require.NoError(t, err)
		leaves := pemCertificates(t, string(leafPEM))
		require.Len(t, leaves, 1)
		leaf := leaves[0]
		require.Equal(t, alice.name(), leaf.Subject.CommonName)
		require.Equal(t, []string{alice.User.Email}, leaf.EmailAddresses)
		requireIdentityURI(t, leaf, alice.User.Id)
		require.Contains(t, leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		require.False(t, leaf.IsCA)
	})

	t.Run("NSS imports the PKCS#12", func(t *testing.T) {
		requireNSSTools(t)
		nssDB := "sql:" + filepath.Join(dir, "nssdb")
		require.NoError(t, os.Mkdir(filepath.Join(dir, "nssdb"), 0o700))
		runTool(t, dir, "certutil", "-N", "--empty-password", "-d", nssDB)
		out := runTool(t, dir, "pk12util", "-i", p12Path, "-d", nssDB, "-W", issued.passphrase)
		require.Contains(t, out, "PKCS12 IMPORT SUCCESSFUL")
		keys := runTool(t, dir, "certutil", "-K", "-d", nssDB)
		require.Contains(t, keys, alice.name(), "NSS must hold the private key under the certificate's name")
	})
}

func requireHiddenTokenInput(t *testing.T, page, token string) {
	t.Helper()
	for _, tag := range inputTagPattern.FindAllString(page, -1) {
		name, _ := attribute(tag, "name")
		if name != "token" {
			continue
		}
		kind, _ := attribute(tag, "type")
		value, _ := attribute(tag, "value")
		require.Equal(t, "hidden", kind, "the token input must be hidden: %s", tag)
		require.Equal(t, token, value, "the form must carry the link's token")
		return
	}
	require.Fail(t, "the page has no token input", page)
}

func containsCertificate(certs []*x509.Certificate, wanted *x509.Certificate) bool {
	for _, cert := range certs {
		if cert.Equal(wanted) {
			return true
		}
	}
	return false
}

// TestLinkIsSingleUse: a redeemed link cannot create a second certificate,
// and its page says so.
func TestLinkIsSingleUse(t *testing.T) {
	requireBed(t)
	alice := bed.alice
	_, token := alice.linkViaCommand(t)

	first := submitIssue(t, token, "", "")
	require.Equal(t, http.StatusOK, first.status, "first POST: %s", first)

	replay := submitIssue(t, token, "", "")
	require.Equal(t, http.StatusConflict, replay.status, "replayed POST: %s", replay)
	requireLinkErrorPage(t, replay, "replayed POST")

	page := getIssuePage(t, token, "")
	requireLinkErrorPage(t, page, "GET of a used link")
	require.Regexp(t, `(?i)\bused\b`, page.body, "the page must say the link was used")

	jsonReplay := submitIssue(t, token, "", "application/json")
	require.Equal(t, http.StatusConflict, jsonReplay.status, "replayed POST asking for JSON: %s", jsonReplay)
}

// TestLinkOfAnotherUser: someone signed in as another user cannot view or
// redeem the link, and their attempt does not use it up.
func TestLinkOfAnotherUser(t *testing.T) {
	requireBed(t)
	alice, bob := bed.alice, bed.bob
	_, token := alice.linkViaCommand(t)

	page := getIssuePage(t, token, bob.Token())
	require.Equal(t, http.StatusForbidden, page.status, "GET with bob's session: %s", page)
	require.Contains(t, page.header.Get("Content-Type"), "text/html")

	post := submitIssue(t, token, bob.Token(), "")
	require.Equal(t, http.StatusForbidden, post.status, "POST with bob's session: %s", post)
	require.NotContains(t, post.body, `id="passphrase"`)

	// Alice, signed in as herself, still gets her certificate.
	own := submitIssue(t, token, alice.Token(), "")
	require.Equal(t, http.StatusOK, own.status, "POST with alice's own session after bob's attempts: %s", own)
	issued := parseIssuedPage(t, own.body)
	require.Equal(t, alice.name()+".p12", issued.filename)
}

// TestBadTokens: malformed, altered and foreign tokens get a 4xx page that
// sends the user back to /cert download, and do not burn the genuine link.
func TestBadTokens(t *testing.T) {
	requireBed(t)
	alice, bob := bed.alice, bed.bob
	_, genuine := alice.linkViaAPI(t)
	_, bobs := bob.linkViaAPI(t)

	parts := strings.Split(genuine, ".")
	require.Len(t, parts, 3, "the link token is expected to be a JWT")
	bobParts := strings.Split(bobs, ".")
	require.Len(t, bobParts, 3)

	cases := map[string]string{
		"empty":                "",
		"malformed":            "not-a-token",
		"truncated":            genuine[:len(genuine)/2],
		"signature altered":    parts[0] + "." + parts[1] + "." + alterBase64URL(parts[2]),
		"claims swapped":       parts[0] + "." + bobParts[1] + "." + parts[2],
		"foreign key":          signedWithUnknownKey(t, alice.User.Id, time.Now().Add(time.Hour)),
		"expired, foreign key": signedWithUnknownKey(t, alice.User.Id, time.Now().Add(-time.Hour)),
	}
	for name, token := range cases {
		t.Run(name, func(t *testing.T) {
			requireLinkErrorPage(t, getIssuePage(t, token, ""), "GET")
			requireLinkErrorPage(t, submitIssue(t, token, "", ""), "POST")
		})
	}

	genuineReply := submitIssue(t, genuine, "", "application/json")
	require.Equal(t, http.StatusOK, genuineReply.status, "the genuine link after the forgeries: %s", genuineReply)
}

// alterBase64URL changes one character in the middle of a base64url string
// (the last one may only carry padding bits).
func alterBase64URL(s string) string {
	middle := len(s) / 2
	replacement := byte('A')
	if s[middle] == 'A' {
		replacement = 'B'
	}
	return s[:middle] + string(replacement) + s[middle+1:]
}

// signedWithUnknownKey makes a well-formed JWT for the user that the plugin
// never signed.
func signedWithUnknownKey(t *testing.T, userID string, expires time.Time) string {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": userID,
		"jti": base64.RawURLEncoding.EncodeToString(key[:12]),
		"iat": expires.Add(-15 * time.Minute).Unix(),
		"exp": expires.Unix(),
	}).SignedString(key)
	require.NoError(t, err)
	return token
}

// TestConcurrentRedemption: of 20 simultaneous POSTs of one link exactly one
// creates a certificate.
func TestConcurrentRedemption(t *testing.T) {
	requireBed(t)
	carol := newTestUser(t, "carol")
	_, token := carol.linkViaAPI(t)

	const attempts = 20
	var (
		start   = make(chan struct{})
		wg      sync.WaitGroup
		mu      sync.Mutex
		counts  = map[int]int{}
		failure error
	)
	for range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			reply, err := doPluginRequest(http.MethodPost, "/issue", map[string][]string{"token": {token}}, "", "application/json")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failure = err
				return
			}
			counts[reply.status]++
		}()
	}
	close(start)
	wg.Wait()
	require.NoError(t, failure)
	require.Equal(t, map[int]int{http.StatusOK: 1, http.StatusConflict: attempts - 1}, counts,
		"statuses of %d concurrent redemptions of one link", attempts)
}

// TestIssuanceNotice: after issuance the bot tells the owner in a DM, with
// the serial and the command that revokes it.
func TestIssuanceNotice(t *testing.T) {
	requireBed(t)
	requireBot(t)
	dave := newTestUser(t, "dave")
	issued, _ := dave.issueJSON(t)

	ctx := t.Context()
	dm, _, err := dave.Client.CreateDirectChannel(ctx, dave.User.Id, bed.botID)
	require.NoError(t, err)

	var notice string
	require.Eventually(t, func() bool {
		posts, _, err := dave.Client.GetPostsForChannel(ctx, dm.Id, 0, 50, "", false, false)
		if err != nil {
			return false
		}
		for _, post := range posts.Posts {
			if post.UserId == bed.botID && strings.Contains(post.Message, issued.serial) {
				notice = post.Message
				return true
			}
		}
		return false
	}, replyTimeout, 250*time.Millisecond, "no DM from the bot mentioning serial %s", issued.serial)
	require.Contains(t, notice, "/cert revoke "+issued.serial)
}

// TestListAndRevoke: /cert list shows the certificate, only its owner can
// revoke it, and the list then shows it revoked.
func TestListAndRevoke(t *testing.T) {
	requireBed(t)
	alice, bob := bed.alice, bed.bob
	issued, _ := alice.issueJSON(t)
	serial := issued.serial

	requireListedAs(t, alice, serial, "issued")

	bobsList := bob.runCommand(t, "/cert list")
	require.NotContains(t, bobsList.Message, serial, "bob must not see alice's certificate")

	refusal := bob.runCommand(t, "/cert revoke "+serial)
	require.NotEmpty(t, refusal.Message)
	requireListedAs(t, alice, serial, "issued")

	confirmation := alice.runCommand(t, "/cert revoke "+serial)
	require.Contains(t, confirmation.Message, "revoked")
	require.Contains(t, confirmation.Message, serial)
	requireListedAs(t, alice, serial, "revoked")
}

// requireListedAs checks the row of serial in the user's /cert list.
func requireListedAs(t *testing.T, user *testUser, serial, state string) {
	t.Helper()
	list := user.runCommand(t, "/cert list")
	row := tableRowWith(list.Message, serial)
	require.NotEmpty(t, row, "/cert list of %s does not show %s:\n%s", user.name(), serial, list.Message)
	require.Regexp(t, `\b`+state+`\b`, row, "/cert list of %s shows %s in the wrong state", user.name(), serial)
	for _, other := range []string{"issued", "revoked"} {
		if other != state {
			require.NotRegexp(t, `\b`+other+`\b`, row)
		}
	}
}

// TestHelpAndUnknownCommand: help names every subcommand; an unknown one
// gets guidance rather than an error dump.
func TestHelpAndUnknownCommand(t *testing.T) {
	requireBed(t)
	user := bed.bob

	help := user.runCommand(t, "/cert help")
	for _, sub := range []string{"/cert download", "/cert list", "/cert revoke"} {
		require.Contains(t, help.Message, sub)
	}

	unknown := user.runCommand(t, "/cert bogus")
	require.Contains(t, unknown.Message, "bogus", "the reply should name what it did not understand")
	require.Contains(t, unknown.Message, "/cert download", "the reply should show what works")
	for _, leak := range []string{"panic", "goroutine", ".go:"} {
		require.NotContains(t, unknown.Message, leak)
	}
}

// TestLinkAPI: only a signed-in user can ask for a link.
func TestLinkAPI(t *testing.T) {
	requireBed(t)
	anonymous := pluginRequest(t, http.MethodPost, "/api/v1/links", nil, "", "application/json")
	require.GreaterOrEqual(t, anonymous.status, 400, "POST /api/v1/links without a session: %s", anonymous)
	require.Less(t, anonymous.status, 500, "POST /api/v1/links without a session: %s", anonymous)
	require.True(t, json.Valid([]byte(anonymous.body)), "API errors are JSON: %s", anonymous.body)

	_, token := bed.bob.linkViaAPI(t)
	page := getIssuePage(t, token, "")
	require.Equal(t, http.StatusOK, page.status, "GET of an API-made link: %s", page)
	require.Contains(t, page.body, bed.bob.name())
}

// TestEnrollmentsAPIThroughTheServer: the one JSON enrollment route (the
// enroll modal's, and automation's) issues for the signed-in user without a
// link, and refuses what the profile does not allow.
func TestEnrollmentsAPIThroughTheServer(t *testing.T) {
	requireBed(t)
	reply := pluginJSON(t, "/api/v1/enrollments", bed.alice.Token(), map[string]any{"format": "modern"})
	require.Equal(t, http.StatusCreated, reply.status, reply.String())
	file, leaf := bed.alice.openIssueAnswer(t, reply)
	requireIdentityURI(t, leaf, bed.alice.User.Id)
	list := pluginRequest(t, http.MethodGet, "/api/v1/certificates", nil, bed.alice.Token(), "")
	require.Contains(t, list.body, file.serial, "the certificate is in the owner's list")

	unknown := pluginJSON(t, "/api/v1/enrollments", bed.alice.Token(), map[string]any{"profile": "no-such-profile"})
	require.Equal(t, http.StatusForbidden, unknown.status, unknown.String())
	require.Contains(t, unknown.header.Get("Content-Type"), "application/json")

	noSession := pluginJSON(t, "/api/v1/enrollments", "", map[string]any{})
	require.Equal(t, http.StatusUnauthorized, noSession.status, noSession.String())
}
