package jobs

import (
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// SessionState maps what the gateway says about a session to what the
// tenant sees.
func SessionState(info whatsapp.SessionInfo) db.SessionState {
	s := db.SessionState{ProviderStatus: info.Status}
	switch info.Status {
	case whatsapp.StatusWorking:
		s.Status = db.InstanceConnected
	case whatsapp.StatusScanQR:
		s.Status = db.InstanceScanQR
	case whatsapp.StatusStarting:
		s.Status = db.InstanceStarting
	case whatsapp.StatusFailed:
		s.Status = db.InstanceFailed
		s.Error = "WhatsApp did not link: the QR code was not scanned in time, or the phone refused."
		s.ErrorAfterLinked = "The WhatsApp server stopped this number's session after it had been working. Reconnect to start it again; if that does not help, link the phone again."
	case whatsapp.StatusLoggedOut:
		s.Status = db.InstanceLoggedOut
		s.Error = "The phone was unlinked from this number (logged out on the phone, or from WhatsApp). Link it again with a new QR code."
	default: // stopped, and anything new
		s.Status = db.InstanceDisconnected
		s.Error = "The session stopped on the WhatsApp server."
	}
	if info.Me != nil {
		s.Phone, s.AccountID, s.PushName = info.Me.Phone, info.Me.ID, info.Me.PushName
	}
	return s
}
