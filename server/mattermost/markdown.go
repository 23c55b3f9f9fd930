package mattermost

import (
	"fmt"
	"strings"
)

// MarkdownCell keeps user-influenced text from breaking a Markdown table or
// injecting formatting.
func MarkdownCell(s string) string {
	r := strings.NewReplacer("|", "\\|", "`", "'", "\n", " ", "\r", " ")
	return r.Replace(s)
}

// Times says how often: "once", "3 times".
func Times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}
