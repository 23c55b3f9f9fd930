package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// ParsedMessage is a received message taken apart.
type ParsedMessage struct {
	// Header holds the top-level headers as sent (not decoded).
	Header mail.Header
	// Subject is the decoded Subject header.
	Subject string
	From    *mail.Address
	To      []*mail.Address
	// Text is the first text/plain part that is not an attachment,
	// decoded, with line endings turned into "\n".
	Text        string
	Attachments []ParsedAttachment
}

// ParsedAttachment is a decoded attachment.
type ParsedAttachment struct {
	Filename string
	// ContentType is the media type without parameters.
	ContentType string
	Data        []byte
}

// Parse takes the raw message apart with the standard library: headers,
// the plain-text body and the attachments. Other parts, such as HTML
// alternatives, are skipped.
func (r Received) Parse() (*ParsedMessage, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		return nil, fmt.Errorf("smtptest: read message: %w", err)
	}
	var decoder mime.WordDecoder
	subject, err := decoder.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return nil, fmt.Errorf("smtptest: decode Subject: %w", err)
	}
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil {
		return nil, fmt.Errorf("smtptest: parse From: %w", err)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil {
		return nil, fmt.Errorf("smtptest: parse To: %w", err)
	}

	parsed := &ParsedMessage{Header: msg.Header, Subject: subject, From: from, To: to}
	if err := parsed.readPart(textproto.MIMEHeader(msg.Header), msg.Body); err != nil {
		return nil, err
	}
	return parsed, nil
}

// readPart reads one MIME entity, descending into multipart ones.
func (p *ParsedMessage) readPart(header textproto.MIMEHeader, body io.Reader) error {
	contentType := header.Get("Content-Type")
	if contentType == "" {
		contentType = "text/plain; charset=us-ascii" // RFC 2045's default
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("smtptest: parse Content-Type %q: %w", contentType, err)
	}

	if strings.HasPrefix(mediaType, "multipart/") {
		parts := multipart.NewReader(body, params["boundary"])
		for {
			// Raw parts, because NextPart decodes quoted-printable on its
			// own but not base64; decode uniformly below.
			part, err := parts.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("smtptest: read %s part: %w", mediaType, err)
			}
			if err := p.readPart(part.Header, part); err != nil {
				return err
			}
		}
	}

	data, err := decodeBody(header.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return err
	}
	filename, isAttachment, err := attachmentName(header, params)
	if err != nil {
		return err
	}
	switch {
	case isAttachment:
		p.Attachments = append(p.Attachments, ParsedAttachment{Filename: filename, ContentType: mediaType, Data: data})
	case mediaType == "text/plain" && p.Text == "":
		if charset := strings.ToLower(params["charset"]); charset != "" && charset != "utf-8" && charset != "us-ascii" {
			return fmt.Errorf("smtptest: text in charset %q is not supported", charset)
		}
		p.Text = strings.ReplaceAll(string(data), "\r\n", "\n")
	}
	return nil
}

func decodeBody(transferEncoding string, body io.Reader) ([]byte, error) {
	switch strings.ToLower(transferEncoding) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // ignores line breaks
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "", "7bit", "8bit", "binary":
	default:
		return nil, fmt.Errorf("smtptest: unknown Content-Transfer-Encoding %q", transferEncoding)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("smtptest: decode %s body: %w", transferEncoding, err)
	}
	return data, nil
}

// attachmentName finds a part's file name in Content-Disposition, else in
// the Content-Type's name parameter. A part is an attachment when its
// disposition says so or it has a file name.
func attachmentName(header textproto.MIMEHeader, contentTypeParams map[string]string) (string, bool, error) {
	var disposition string
	filename := contentTypeParams["name"]
	if value := header.Get("Content-Disposition"); value != "" {
		var params map[string]string
		var err error
		disposition, params, err = mime.ParseMediaType(value)
		if err != nil {
			return "", false, fmt.Errorf("smtptest: parse Content-Disposition %q: %w", value, err)
		}
		if params["filename"] != "" {
			filename = params["filename"]
		}
	}
	// Some writers (go-mail among them) put RFC 2047 encoded words inside
	// the quoted file name; mime.ParseMediaType only decodes RFC 2231.
	var decoder mime.WordDecoder
	filename, err := decoder.DecodeHeader(filename)
	if err != nil {
		return "", false, fmt.Errorf("smtptest: decode file name %q: %w", filename, err)
	}
	return filename, disposition == "attachment" || filename != "", nil
}
