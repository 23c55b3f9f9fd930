package web

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
)

//go:embed templates/*.html
var kitTemplates embed.FS

// Pages renders a door's HTML pages in the kit's layout. html/template
// escapes every value.
type Pages struct {
	templates *template.Template
	log       Logger
	// Next words the steps refusals leave, in the door's terms; a step
	// with no words here is told in the core's (the refusal's Hint).
	Next map[enroll.Next]string
	// Door is where the pages send people to act on their certificates.
	Door Door
}

// Door is where a door's pages send its people: chat's commands, or the
// portal's own pages (Home is their address).
type Door struct {
	Home string
}

// Chat reports whether the pages' people act through chat's commands.
func (d Door) Chat() bool { return d.Home == "" }

// NewPages parses the kit's layout and error page with a door's own
// templates (patterns in fsys); it panics on a template that does not
// parse, as the templates are part of the program.
func NewPages(log Logger, fsys fs.FS, patterns ...string) *Pages {
	t := template.Must(template.ParseFS(kitTemplates, "templates/*.html"))
	if fsys != nil {
		t = template.Must(t.ParseFS(fsys, patterns...))
	}
	return &Pages{templates: t, log: log}
}

// pageData is what the layout sees: the page's own data, and the nonce that
// lets exactly our inline style and script run under the CSP.
type pageData struct {
	Nonce string
	Page  any
	Door  Door
}

// Render writes a full HTML page. It renders to a buffer first so a
// template error never leaves half a page.
func (p *Pages) Render(w http.ResponseWriter, status int, name string, page any) error {
	nonce, err := newNonce()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := p.templates.ExecuteTemplate(&buf, name, pageData{Nonce: nonce, Page: page, Door: p.Door}); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+"'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	WriteStatus(w, status)
	_, err = w.Write(buf.Bytes())
	return err
}

type errorPage struct {
	Status  int
	Title   string
	Message string
	Hint    string
}

// RenderError writes an error page; if even that fails, plain text.
func (p *Pages) RenderError(w http.ResponseWriter, status int, message, hint string) {
	err := p.Render(w, status, "error", errorPage{Status: status, Title: errorTitle(status), Message: message, Hint: hint})
	if err != nil {
		p.log.LogError("Could not render the error page", "error", err.Error())
		http.Error(w, message, status)
	}
}

// errorTitle heads an error page in words, not an HTTP status name.
func errorTitle(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "This link cannot be used"
	case http.StatusForbidden:
		return "Not for this account"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusConflict:
		return "Link already used"
	case http.StatusGone:
		return "Link expired"
	case http.StatusUnprocessableEntity:
		return "The certificate was not created"
	case http.StatusServiceUnavailable:
		return "Please try again shortly"
	}
	if status >= http.StatusInternalServerError {
		return "Something went wrong"
	}
	return http.StatusText(status)
}

func newNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// RenderMessage writes a page that only tells something (a request that
// waits), in the error page's layout with a title of its own.
func (p *Pages) RenderMessage(w http.ResponseWriter, status int, title, message, hint string) error {
	return p.Render(w, status, "error", errorPage{Status: status, Title: title, Message: message, Hint: hint})
}

// Hint is what an error page says to do next.
func (p *Pages) Hint(he *Error) string {
	if he == nil {
		return ""
	}
	if next, ok := p.Next[he.Next]; ok {
		return next
	}
	return he.Hint
}
