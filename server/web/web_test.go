package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// logLines is a Logger that keeps what was logged.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(level, msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+msg+" "+fmt.Sprint(kv...))
}
func (l *logLines) LogWarn(msg string, kv ...any)  { l.add("warn", msg, kv...) }
func (l *logLines) LogError(msg string, kv ...any) { l.add("error", msg, kv...) }
func (l *logLines) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func decodeError(t *testing.T, w *httptest.ResponseRecorder) (string, int) {
	t.Helper()
	var body struct {
		Error      string `json:"error"`
		StatusCode int    `json:"status_code"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
	return body.Error, body.StatusCode
}

func TestEveryRefusalOfTheCoreHasAStatus(t *testing.T) {
	for code := enroll.CodeInternal; code <= enroll.CodeBadGateway; code++ {
		status, ok := StatusOf[code]
		assert.True(t, ok, "code %d", code)
		assert.GreaterOrEqual(t, status, 400, "code %d", code)
	}
	e := AsError(fmt.Errorf("wrapped: %w", &enroll.Error{Code: enroll.CodeGone, Message: "expired", Hint: "get another"}))
	require.NotNil(t, e)
	assert.Equal(t, http.StatusGone, e.Status)
	assert.Equal(t, "expired", e.Message)
	assert.Equal(t, "get another", e.Hint)
	assert.Nil(t, AsError(errors.New("a bug")))
}

func TestDescribeHidesWhatIsOursAndLogsIt(t *testing.T) {
	log := &logLines{}
	r := httptest.NewRequest(http.MethodGet, "/x", nil)

	w := httptest.NewRecorder()
	status, message := Describe(log, w, r, errors.New("pq: password authentication failed"))
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.NotContains(t, message, "password", "the cause stays in the log")
	assert.Contains(t, log.all(), "pq: password authentication failed")

	w = httptest.NewRecorder()
	status, _ = Describe(log, w, r, &enroll.Error{Code: enroll.CodeBusy, Message: "busy", RetryAfter: 1500 * time.Millisecond})
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "2", w.Header().Get("Retry-After"))

	before := log.all()
	status, message = Describe(log, httptest.NewRecorder(), r, &Error{Status: http.StatusForbidden, Message: "not yours"})
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, "not yours", message)
	assert.Equal(t, before, log.all(), "a refusal is not an error of ours")
}

func TestAPINeedsACallerAndBoundsTheBody(t *testing.T) {
	log := &logLines{}
	var got records.Principal
	h := API(log, MattermostSession, func(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
		got = caller
		var body map[string]any
		if err := DecodeOptionalJSON(r, &body); err != nil {
			return err
		}
		WriteJSON(w, http.StatusCreated, body)
		return nil
	})

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`)))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	_, code := decodeError(t, w)
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Empty(t, got, "the handler never ran")

	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"a":1}`))
	r.Header.Set(MattermostUserHeader, "u1")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusCreated, w.Code)
	assert.Equal(t, records.MattermostUser("u1"), got)

	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"a":"`+strings.Repeat("x", MaxBodyBytes)+`"}`))
	r.Header.Set(MattermostUserHeader, "u1")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)

	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"a":`))
	r.Header.Set(MattermostUserHeader, "u1")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	message, _ := decodeError(t, w)
	assert.Contains(t, message, "not valid JSON")
}

var cspNonce = regexp.MustCompile(`script-src 'nonce-([^']+)'`)

func TestPagesRunOnlyTheirOwnScriptAndEscapeValues(t *testing.T) {
	door := fstest.MapFS{"door/hello.html": {Data: []byte(
		`{{define "hello"}}{{template "header" "Hello"}}{{template "style" .Nonce}}<p>{{.Page}}</p><script nonce="{{.Nonce}}">1</script>{{template "footer"}}{{end}}`)}}
	pages := NewPages(&logLines{}, door, "door/*.html")

	w := httptest.NewRecorder()
	require.NoError(t, pages.Render(w, http.StatusOK, "hello", `<script>alert(1)</script>`))
	csp := w.Header().Get("Content-Security-Policy")
	m := cspNonce.FindStringSubmatch(csp)
	require.NotNil(t, m, csp)
	body := w.Body.String()
	// The attribute may escape the nonce's base64 (+ as &#43;): browsers
	// read it unescaped.
	assert.Contains(t, html.UnescapeString(body), `<script nonce="`+m[1]+`">1</script>`)
	assert.NotContains(t, body, "<script>alert(1)</script>")
	assert.Contains(t, body, "&lt;script&gt;")
	assert.Contains(t, csp, "frame-ancestors 'none'")

	w2 := httptest.NewRecorder()
	require.NoError(t, pages.Render(w2, http.StatusOK, "hello", "again"))
	assert.NotEqual(t, csp, w2.Header().Get("Content-Security-Policy"), "a nonce per page")
}

func TestPageErrorsArePagesOrJSONForScripts(t *testing.T) {
	log := &logLines{}
	pages := NewPages(log, nil)
	h := Page(log, pages, 8, func(http.ResponseWriter, *http.Request) error {
		return &enroll.Error{Code: enroll.CodeConflict, Message: "This link was used.", Hint: "Ask for a new one."}
	})

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Contains(t, w.Header().Get("Content-Type"), "text/html")
	assert.Contains(t, w.Body.String(), "This link was used.")
	assert.Contains(t, w.Body.String(), "Ask for a new one.")

	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Accept", "application/json")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusConflict, w.Code)
	message, _ := decodeError(t, w)
	assert.Equal(t, "This link was used.", message)
}

func TestRouterRecoversAndSecures(t *testing.T) {
	log := &logLines{}
	r := NewRouter(log)
	r.HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { panic("a bug") }).Methods(http.MethodGet)

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Contains(t, log.all(), "a bug")
	for header, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		assert.Equal(t, want, w.Header().Get(header), header)
	}

	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/boom", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/nothing", nil))
	assert.Equal(t, http.StatusNotFound, w.Code)
	_, code := decodeError(t, w)
	assert.Equal(t, http.StatusNotFound, code)
}

func TestNotModifiedComparesTagsWeakly(t *testing.T) {
	for header, want := range map[string]bool{
		`"7"`: true, `W/"7"`: true, `"6", "7"`: true, `*`: true,
		`"6"`: false, ``: false, `"7-pem"`: false,
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			r.Header.Set("If-None-Match", header)
		}
		assert.Equal(t, want, NotModified(r, `"7"`), header)
	}
}

// Every step a refusal of the core may leave has a name in the API.
func TestEveryNextStepHasAnAPIName(t *testing.T) {
	names := map[string]bool{}
	for next := enroll.NextNone + 1; next <= enroll.NextAskAdmin; next++ {
		name, ok := apiNext[next]
		require.True(t, ok, "step %d has no API name", next)
		assert.False(t, names[name], "%s names two steps", name)
		names[name] = true
	}
	assert.NotContains(t, apiNext, enroll.NextNone)
}

// A plugin that cannot serve now (settings an admin must fix) is a 503
// with the reason, from whichever door asked for the services.
func TestNoServicesIsA503(t *testing.T) {
	_, err := (&app.Current{}).Get()
	he := AsError(fmt.Errorf("wrapped: %w", err))
	require.NotNil(t, he)
	assert.Equal(t, http.StatusServiceUnavailable, he.Status)
	assert.Contains(t, he.Message, "the plugin is starting")
}
