package sim

import "sync"

// Numbers are the phone numbers a stand-in treats specially: those not on
// WhatsApp and those sends to which are refused. Its methods are safe for
// concurrent use.
type Numbers struct {
	mu      sync.Mutex
	absent  map[string]bool
	refused map[string]bool
}

// NewNumbers returns a Numbers where every number is on WhatsApp.
func NewNumbers() *Numbers {
	return &Numbers{absent: make(map[string]bool), refused: make(map[string]bool)}
}

// SetNumberExists tells whether a phone number (digits, a leading +
// allowed) is on WhatsApp. Every well-formed number is, unless set
// otherwise here.
func (n *Numbers) SetNumberExists(phone string, exists bool) {
	setFlag(&n.mu, n.absent, Digits(phone), !exists)
}

// RefuseSendsTo makes sends to a phone number (digits, a leading +
// allowed) fail without sending anything (refuse), as the gateway does for
// a chat WhatsApp will not deliver to, or sends normally again (!refuse).
func (n *Numbers) RefuseSendsTo(phone string, refuse bool) {
	setFlag(&n.mu, n.refused, Digits(phone), refuse)
}

func setFlag(mu *sync.Mutex, m map[string]bool, key string, on bool) {
	mu.Lock()
	defer mu.Unlock()
	if on {
		m[key] = true
	} else {
		delete(m, key)
	}
}

// Absent tells whether a number (digits) is set as not on WhatsApp; match,
// when not nil, is asked about each such number instead (to compare
// numbers after a rewrite).
func (n *Numbers) Absent(digits string, match func(absent string) bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if match == nil {
		return n.absent[digits]
	}
	for d := range n.absent {
		if match(d) {
			return true
		}
	}
	return false
}

// Refused tells whether sends to a number (digits) are refused.
func (n *Numbers) Refused(digits string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.refused[digits]
}
