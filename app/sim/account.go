package sim

import (
	"fmt"
	"hash/fnv"
)

// Account is a WhatsApp account: the number a session is linked to.
type Account struct {
	// ID is the chat id: 15551234567@c.us for WAHA, the JID
	// 15551234567@s.whatsapp.net for Evolution API.
	ID string
	// LID is the account's linked id, e.g. 201234567890123@lid.
	LID string
	// Phone is the number in E.164, e.g. +15551234567.
	Phone    string
	PushName string
}

// Accounts are the accounts set with a stand-in's SetAccount, by session.
// The stand-in's lock guards it.
type Accounts struct {
	set map[string]Account
	// chatID is the account's chat id of phone digits.
	chatID func(digits string) string
}

// NewAccounts returns an empty set; chatID makes an account's ID of its
// phone digits.
func NewAccounts(chatID func(digits string) string) *Accounts {
	return &Accounts{set: make(map[string]Account), chatID: chatID}
}

// Set sets the account (phone digits, a leading + allowed, and push name)
// that links to the session when it is scanned, and returns it.
func (as *Accounts) Set(session, phone, pushName string) Account {
	a := as.derive(session, Digits(phone), pushName)
	as.set[session] = a
	return a
}

// For is the account a scan of the session links: the one set, else one
// derived from the session's name; a pairing code's number (pairPhone,
// digits) replaces its number.
func (as *Accounts) For(session, pairPhone string) Account {
	a, ok := as.set[session]
	if !ok {
		a = as.derive(session, "", "")
	}
	if pairPhone != "" && Digits(a.Phone) != pairPhone {
		a = as.derive(session, pairPhone, a.PushName)
	}
	return a
}

// derive builds an account; an empty phone becomes a +1 555 number derived
// from the session name, so that each session has its own.
func (as *Accounts) derive(session, phone, pushName string) Account {
	h := fnv.New64a()
	h.Write([]byte(session))
	sum := h.Sum64()
	if phone == "" {
		phone = fmt.Sprintf("1555%07d", sum%10_000_000)
	}
	if pushName == "" {
		pushName = "Sim " + session
	}
	h.Write([]byte(phone))
	lid := fmt.Sprintf("2%014d@lid", h.Sum64()%100_000_000_000_000)
	return Account{ID: as.chatID(phone), LID: lid, Phone: "+" + phone, PushName: pushName}
}
