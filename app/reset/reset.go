// Package reset makes password reset links: the token, what of it is
// stored, and the email that carries it.
//
// A token is 32 random bytes, base64url-encoded (43 characters) into the
// link. Only its SHA-256 is stored, so a copy of the database resets no one's
// password, and a link is found by hashing what the browser brings.
package reset

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/myaibud/aibud/app/mailer"
)

// TTL is how long a link works.
const TTL = time.Hour

// tokenLen is the length of an encoded token.
const tokenLen = 43

// NewToken returns a new token and the hash to store.
func NewToken() (token string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails (Go 1.24+)
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, Hash(token)
}

// Hash returns the stored form of a token.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// WellFormed reports whether s could be a token, so that anything else is
// refused before it reaches the database.
func WellFormed(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// Email is the message that carries a link, in plain text and HTML.
func Email(to, link string, ttl time.Duration) mailer.Message {
	valid := validFor(ttl)
	text := strings.Join([]string{
		"Hello,",
		"",
		"Someone (we hope you) asked to reset the password of your My Aibud account.",
		"Open this link to choose a new password:",
		"",
		link,
		"",
		"The link works once, for " + valid + ". Using it signs you out everywhere else.",
		"If you did not ask for this, ignore this email: your password stays as it is.",
		"",
		"My Aibud",
	}, "\n")
	var b strings.Builder
	_ = emailHTML.Execute(&b, struct{ Link, Valid string }{link, valid})
	return mailer.Message{To: to, Subject: "Reset your My Aibud password", Text: text, HTML: b.String()}
}

func validFor(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		if d == time.Hour {
			return "one hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return fmt.Sprintf("%d minutes", d/time.Minute)
}

var emailHTML = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html lang="en"><body style="font-family:system-ui,sans-serif;color:#222;line-height:1.5">
<p>Hello,</p>
<p>Someone (we hope you) asked to reset the password of your My Aibud account.</p>
<p><a href="{{.Link}}" style="display:inline-block;padding:.6em 1.2em;background:#00895a;color:#fff;border-radius:6px;text-decoration:none">Choose a new password</a></p>
<p style="font-size:90%;color:#555">Or copy this link into your browser:<br>{{.Link}}</p>
<p>The link works once, for {{.Valid}}. Using it signs you out everywhere else.<br>
If you did not ask for this, ignore this email: your password stays as it is.</p>
<p>My Aibud</p>
</body></html>`))
