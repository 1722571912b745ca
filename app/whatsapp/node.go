package whatsapp

import (
	"context"
	"errors"
	"fmt"

	"github.com/myaibud/aibud/db"
)

// ErrNoNode is returned for an instance whose gateway node is gone.
var ErrNoNode = errors.New("the number has no WhatsApp server")

// ProviderFor returns the gateway client of the node an instance lives on.
func ProviderFor(ctx context.Context, store *db.Store, gw *Gateways, inst *db.Instance) (Provider, error) {
	if inst.NodeID == nil {
		return nil, ErrNoNode
	}
	return gw.ForNode(*inst.NodeID, func() (NodeAddress, error) {
		n, err := store.Node(ctx, *inst.NodeID)
		if err != nil {
			return NodeAddress{}, fmt.Errorf("node of instance %d: %w", inst.ID, err)
		}
		a := NodeAddress{Kind: n.Provider, URL: n.URL}
		if n.APIKey != nil {
			a.APIKey = *n.APIKey
		}
		return a, nil
	})
}
