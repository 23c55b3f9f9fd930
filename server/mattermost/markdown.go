package mattermost

import (
	"fmt"
	"strings"
	"unicode"
)

// MarkdownCell keeps user-influenced text from breaking a Markdown table or
// injecting formatting.
func MarkdownCell(s string) string {
	r := strings.NewReplacer("|", "\\|", "`", "'", "\n", " ", "\r", " ")
	return r.Replace(s)
}

// CodeSpan shows a name from outside Mattermost (a local account's, an
// identity provider's) in a code span, where no mention, link or markup
// is read: without backticks, line breaks or other control characters
// that would end it or hide what it says.
func CodeSpan(name string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '`' || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, name)
	return "`" + clean + "`"
}

// Times says how often: "once", "3 times".
func Times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}
