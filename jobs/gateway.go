package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// ErrNoNode is returned for an instance whose node is gone.
var ErrNoNode = errors.New("the instance has no WhatsApp server")

// ProviderFor returns the gateway client of the node an instance lives on.
func ProviderFor(ctx context.Context, store *db.Store, gw *whatsapp.Gateways, inst *db.Instance) (whatsapp.Provider, error) {
	if inst.NodeID == nil {
		return nil, ErrNoNode
	}
	return gw.ForNode(*inst.NodeID, func() (string, string, error) {
		n, err := store.Node(ctx, *inst.NodeID)
		if err != nil {
			return "", "", fmt.Errorf("node of instance %d: %w", inst.ID, err)
		}
		key := ""
		if n.APIKey != nil {
			key = *n.APIKey
		}
		return n.URL, key, nil
	})
}

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
	default: // STOPPED and anything new
		s.Status = db.InstanceDisconnected
		s.Error = "The session stopped on the WhatsApp server."
	}
	if info.Me != nil {
		s.Phone, s.AccountID, s.PushName = info.Me.Phone, info.Me.ID, info.Me.PushName
	}
	return s
}
