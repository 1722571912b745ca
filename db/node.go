package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Node is a WhatsApp gateway server (WAHA or Evolution API) that holds
// WhatsApp sessions. Nodes belong to the platform, not to a tenant; only
// platform owners manage them. Each provider has at most one default node,
// from the environment (WAHA_API_URL, EVOLUTION_API_URL), with no stored
// key (the environment's key is used).
type Node struct {
	bun.BaseModel `bun:"table:gateway_nodes,alias:n"`

	ID   int64  `bun:"id,pk,autoincrement"`
	Name string `bun:"name,notnull"`
	// Provider is the kind of gateway: "waha" or "evolution".
	Provider  string  `bun:"provider,notnull"`
	URL       string  `bun:"url,notnull"`
	APIKey    *string `bun:"api_key"`
	Capacity  int     `bun:"capacity,notnull"`
	Enabled   bool    `bun:"enabled,notnull"`
	IsDefault bool    `bun:"is_default,notnull"`
	// MonthlyCost is what the server costs a month, in US dollars.
	MonthlyCost float64   `bun:"monthly_cost,notnull"`
	CreatedAt   time.Time `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt   time.Time `bun:"updated_at,notnull,default:current_timestamp"`

	// Used is the number of instances on the node (filled by NodesWithUse).
	Used int `bun:"used,scanonly"`
}

// Free is the room left on the node.
func (n *Node) Free() int { return n.Capacity - n.Used }

// EnsureDefaultNode records a provider's node configured by the
// environment, creating or re-pointing its default row, and returns it.
func (s *Store) EnsureDefaultNode(ctx context.Context, provider, url string, capacity int) (*Node, error) {
	name := "Default"
	if provider != "waha" {
		name = "Default (" + provider + ")"
	}
	n := &Node{Name: name, Provider: provider, URL: url, Capacity: capacity, Enabled: true, IsDefault: true}
	_, err := s.db.NewInsert().Model(n).
		On("CONFLICT (provider) WHERE is_default DO UPDATE").
		Set("url = EXCLUDED.url").Set("updated_at = now()").
		Returning("*").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("ensure default node: %w", mapErr(err))
	}
	return n, nil
}

// NodesWithUse lists every node with the number of instances on it.
func (s *Store) NodesWithUse(ctx context.Context) ([]Node, error) {
	var ns []Node
	err := s.db.NewSelect().Model(&ns).
		ColumnExpr("n.*").
		ColumnExpr("(SELECT count(*) FROM instances i WHERE i.node_id = n.id) AS used").
		OrderExpr("n.is_default DESC, n.id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	return ns, nil
}

// Node returns one node.
func (s *Store) Node(ctx context.Context, id int64) (*Node, error) {
	n := new(Node)
	if err := s.db.NewSelect().Model(n).Where("n.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("node %d: %w", id, mapErr(err))
	}
	return n, nil
}

// CreateNode adds a node; a URL already registered gives ErrConflict.
func (s *Store) CreateNode(ctx context.Context, n *Node) error {
	n.IsDefault = false
	if n.Provider == "" {
		n.Provider = "waha"
	}
	if _, err := s.db.NewInsert().Model(n).Returning("*").Exec(ctx); err != nil {
		return fmt.Errorf("create node: %w", mapErr(err))
	}
	return nil
}

// NodeChange is what the owner edits on a node.
type NodeChange struct {
	Name        string
	Capacity    int
	Enabled     bool
	MonthlyCost float64
	// APIKey replaces the stored key; empty keeps it.
	APIKey string
}

// UpdateNode changes a node's name, capacity, whether it takes new
// instances and its monthly cost.
func (s *Store) UpdateNode(ctx context.Context, id int64, ch NodeChange) error {
	q := s.db.NewUpdate().Model((*Node)(nil)).
		Set("name = ?", ch.Name).Set("capacity = ?", ch.Capacity).Set("enabled = ?", ch.Enabled).
		Set("monthly_cost = ?", ch.MonthlyCost).Set("updated_at = now()").
		Where("id = ?", id)
	if ch.APIKey != "" {
		q = q.Set("api_key = ?", ch.APIKey)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return fmt.Errorf("update node: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update node %d: %w", id, ErrNotFound)
	}
	return nil
}

// ErrNodeInUse is returned when deleting a node that still holds instances.
var ErrNodeInUse = errors.New("the server still holds WhatsApp numbers")

// DeleteNode removes a node without instances. The default node cannot be
// deleted (it comes from configuration).
func (s *Store) DeleteNode(ctx context.Context, id int64) error {
	return s.RunInTx(ctx, func(ctx context.Context, tx *TxStore) error {
		n := new(Node)
		if err := tx.tx.NewSelect().Model(n).Where("n.id = ?", id).For("UPDATE").Scan(ctx); err != nil {
			return fmt.Errorf("delete node %d: %w", id, mapErr(err))
		}
		if n.IsDefault {
			return fmt.Errorf("delete node: %w: it is a default node from the environment", ErrConflict)
		}
		used, err := tx.tx.NewSelect().Table("instances").Where("node_id = ?", id).Count(ctx)
		if err != nil {
			return err
		}
		if used > 0 {
			return ErrNodeInUse
		}
		_, err = tx.tx.NewDelete().Model((*Node)(nil)).Where("id = ?", id).Exec(ctx)
		return err
	})
}

// ErrNoCapacity is returned when no enabled node has room for a session.
var ErrNoCapacity = errors.New("no WhatsApp server has room for another number")

// NodeNumbers is how many numbers (instances) one tenant holds on one node.
type NodeNumbers struct {
	NodeID     int64  `bun:"node_id"`
	TenantID   int64  `bun:"tenant_id"`
	TenantName string `bun:"tenant_name"`
	Numbers    int    `bun:"numbers"`
}

// NodeNumbersAllTenants counts every tenant's numbers on every node, for
// sharing the nodes' cost out.
func (s *Store) NodeNumbersAllTenants(ctx context.Context) ([]NodeNumbers, error) {
	var out []NodeNumbers
	err := s.db.NewSelect().TableExpr("instances AS i").Join("JOIN tenants AS t ON t.id = i.tenant_id").
		ColumnExpr("i.node_id, i.tenant_id, t.name AS tenant_name, count(*) AS numbers").
		Where("i.node_id IS NOT NULL").GroupExpr("i.node_id, i.tenant_id, t.name").OrderExpr("i.node_id, i.tenant_id").Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("numbers per node: %w", err)
	}
	return out, nil
}
