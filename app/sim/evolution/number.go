package evolution

import (
	"strings"

	"github.com/myaibud/aibud/app/sim"
)

// Evolution's createJid, as the stand-in applies it to a send's number:
//
//   - a full JID (…@s.whatsapp.net, …@g.us, …@lid, …@broadcast) passes
//     through, less a :device suffix;
//   - otherwise spaces, + and brackets are stripped; a number with "-" of
//     24 characters or more, or of 18 digits or more, is a group;
//   - Brazilian numbers (55, DDD ≥ 31, a 9 and 8 digits starting 7–9)
//     lose the 9, Mexican (52) and Argentinian (54) 13-digit numbers
//     their third digit;
//   - the rest is a user: digits@s.whatsapp.net.

// jidFor returns the JID Evolution uses for a send's number, and whether
// the number is one the stand-in can check (digits after stripping).
func jidFor(number string) (string, bool) {
	n := strings.TrimSpace(number)
	if strings.Contains(n, "@") {
		user, server, _ := strings.Cut(n, "@")
		user, _, _ = strings.Cut(user, ":")
		switch server {
		case "s.whatsapp.net", "g.us", "lid", "broadcast", "newsletter":
			return user + "@" + server, user != ""
		}
		return "", false
	}
	n = strings.NewReplacer(" ", "", "+", "", "(", "", ")", "").Replace(n)
	n, _, _ = strings.Cut(n, ":")
	if strings.Contains(n, "-") && len(n) >= 24 {
		return n + "@g.us", true
	}
	if len(n) >= 18 && sim.Digits(n) == n {
		return n + "@g.us", true
	}
	if !sim.ValidPhone(n) || sim.Digits(n) != n {
		return n + "@s.whatsapp.net", false
	}
	return jidOf(n), true
}

// jidOf is the user JID of phone digits, with the country rewrites.
func jidOf(digits string) string {
	return rewrite(digits) + "@s.whatsapp.net"
}

// rewrite applies Evolution's country rewrites to phone digits.
func rewrite(d string) string {
	switch {
	case len(d) == 13 && strings.HasPrefix(d, "55"):
		ddd := int(d[2]-'0')*10 + int(d[3]-'0')
		if ddd >= 31 && d[5] >= '7' {
			return d[:4] + d[5:]
		}
	case len(d) == 13 && (strings.HasPrefix(d, "52") || strings.HasPrefix(d, "54")):
		return d[:2] + d[3:]
	}
	return d
}

// userOf is the user part of a JID (the digits of a phone JID).
func userOf(jid string) string {
	user, _, _ := strings.Cut(jid, "@")
	return user
}

// leadJID reads a lead's phone (digits, + and separators allowed) or JID
// into the JID Evolution shows; "" when it is neither.
func leadJID(phoneOrJID string) string {
	if strings.Contains(phoneOrJID, "@") {
		jid, ok := jidFor(phoneOrJID)
		if !ok {
			return ""
		}
		return jid
	}
	d := sim.CleanPhone(phoneOrJID)
	if d == "" {
		return ""
	}
	return jidOf(d)
}
