package openid

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// testIdP is go-oidc's test provider (discovery and keys) with the one
// endpoint it lacks: a token endpoint that redeems the codes authorize
// hands out, checking the client and the PKCE verifier as a provider does,
// and answers with an ID token signed by the provider's key.
type testIdP struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clientID string
	secret   string
	now      func() time.Time

	// hang is where a slow endpoint waits, closed when the test ends.
	hang chan struct{}

	mu     sync.Mutex
	grants map[string]grant
	// claims changes the ID token's claims before they are signed.
	claims func(map[string]any)
	// signWith signs ID tokens instead of key (a key the provider does not
	// publish).
	signWith *rsa.PrivateKey
	// slow makes the token endpoint, or discovery, never answer.
	slowToken, slowDiscovery bool
	// failDiscovery makes discovery answer 500.
	failDiscovery bool
	// verifiers are the PKCE verifiers the token endpoint was sent.
	verifiers []string
}

type grant struct {
	nonce, challenge, redirectURI string
}

const testKeyID = "test-key"

func newTestIdP(t *testing.T, now func() time.Time) *testIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	idp := &testIdP{key: key, clientID: "certs-portal", secret: "client-secret", now: now, grants: map[string]grant{}, hang: make(chan struct{})}
	discovery := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: testKeyID, Algorithm: oidc.RS256}}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", idp.token)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		idp.mu.Lock()
		slow, fail := idp.slowDiscovery, idp.failDiscovery
		idp.mu.Unlock()
		switch {
		case slow:
			<-idp.hang
		case fail:
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
		default:
			discovery.ServeHTTP(w, r)
		}
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	// Runs before Close, which waits for the handlers a slow provider holds.
	t.Cleanup(func() { close(idp.hang) })
	discovery.SetIssuer(idp.srv.URL)
	return idp
}

func (idp *testIdP) issuer() string { return idp.srv.URL }

func (idp *testIdP) set(change func(*testIdP)) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	change(idp)
}

// authorize is the provider's authorization endpoint and the person
// signing in: it checks the request Begin sent the browser to and returns
// the callback the provider sends the browser back with.
func (idp *testIdP) authorize(t *testing.T, authURL string) *url.URL {
	t.Helper()
	u, err := url.Parse(authURL)
	require.NoError(t, err)
	q := u.Query()
	require.Equal(t, idp.issuer()+"/auth", u.Scheme+"://"+u.Host+u.Path)
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, idp.clientID, q.Get("client_id"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	code := "code-" + rand.Text()
	idp.set(func(idp *testIdP) {
		idp.grants[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri")}
	})
	callback, err := url.Parse(q.Get("redirect_uri"))
	require.NoError(t, err)
	callback.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	return callback
}

func (idp *testIdP) token(w http.ResponseWriter, r *http.Request) {
	idp.mu.Lock()
	slow := idp.slowToken
	idp.mu.Unlock()
	if slow {
		<-idp.hang
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != idp.clientID || secret != idp.secret {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	idp.mu.Lock()
	defer idp.mu.Unlock()
	code := r.PostForm.Get("code")
	g, ok := idp.grants[code]
	delete(idp.grants, code)
	verifier := r.PostForm.Get("code_verifier")
	idp.verifiers = append(idp.verifiers, verifier)
	if !ok || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("redirect_uri") != g.redirectURI ||
		oauth2.S256ChallengeFromVerifier(verifier) != g.challenge {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	now := idp.now()
	claims := map[string]any{
		"iss": idp.issuer(), "aud": idp.clientID, "sub": "user-1", "nonce": g.nonce,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"email": "alice@example.com", "email_verified": true, "preferred_username": "alice",
		"groups": []string{"staff", "certificate-holders"},
	}
	if idp.claims != nil {
		idp.claims(claims)
	}
	raw, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	signer := idp.key
	if idp.signWith != nil {
		signer = idp.signWith
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": "access-" + rand.Text(), "token_type": "Bearer", "expires_in": 3600,
		"id_token": oidctest.SignIDToken(signer, testKeyID, oidc.RS256, string(raw)),
	})
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "refused by the test provider"})
}

// withClaims is a claims change that sets each of set and deletes each of
// drop.
func withClaims(set map[string]any, drop ...string) func(map[string]any) {
	return func(claims map[string]any) {
		maps.Copy(claims, set)
		for _, name := range drop {
			delete(claims, name)
		}
	}
}
