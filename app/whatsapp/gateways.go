package whatsapp

import (
	"strings"
	"sync"
	"time"
)

// Gateways hands out one Provider per gateway node and reuses it, so
// connections to a node are pooled. Nodes are added at run time by the
// platform owner, so clients are made on first use.
type Gateways struct {
	defaultKeys map[string]string
	connect     Connector

	mu      sync.Mutex
	clients map[string]Provider
	nodes   map[int64]nodeEntry
}

// Connector builds the client of one node: its provider kind
// (ProviderWAHA, ProviderEvolution), address and API key.
type Connector func(kind, url, apiKey string) Provider

// NodeAddress is what a client is built from.
type NodeAddress struct {
	Kind   string
	URL    string
	APIKey string
}

// nodeEntry remembers which client a node id uses, for a short while: the
// owner may change a node's address or key.
type nodeEntry struct {
	p       Provider
	expires time.Time
}

// nodeTTL is how long a node's address and key are reused before they are
// read again.
const nodeTTL = 30 * time.Second

// NewGateways returns a pool. connect builds the client of one node;
// defaultKeys are the API keys, by provider kind, of nodes that store none
// (the default nodes from the environment).
func NewGateways(defaultKeys map[string]string, connect Connector) *Gateways {
	return &Gateways{defaultKeys: defaultKeys, connect: connect, clients: make(map[string]Provider), nodes: make(map[int64]nodeEntry)}
}

// ForNode returns the client of a node by id; load reads the node's kind,
// address and key when they are not known or were read more than 30 s ago.
func (g *Gateways) ForNode(id int64, load func() (NodeAddress, error)) (Provider, error) {
	g.mu.Lock()
	e, ok := g.nodes[id]
	g.mu.Unlock()
	if ok && time.Now().Before(e.expires) {
		return e.p, nil
	}
	a, err := load()
	if err != nil {
		return nil, err
	}
	p := g.For(a)
	g.mu.Lock()
	g.nodes[id] = nodeEntry{p: p, expires: time.Now().Add(nodeTTL)}
	g.mu.Unlock()
	return p, nil
}

// For returns the client of the node at an address; an empty APIKey means
// the provider's default key.
func (g *Gateways) For(a NodeAddress) Provider {
	if a.Kind == "" {
		a.Kind = ProviderWAHA
	}
	if a.APIKey == "" {
		a.APIKey = g.defaultKeys[a.Kind]
	}
	url := strings.TrimRight(a.URL, "/")
	key := a.Kind + "\x00" + url + "\x00" + a.APIKey
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.clients[key]
	if !ok {
		p = g.connect(a.Kind, url, a.APIKey)
		g.clients[key] = p
	}
	return p
}
