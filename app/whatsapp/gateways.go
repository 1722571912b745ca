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
	defaultKey string
	connect    func(url, apiKey string) Provider

	mu      sync.Mutex
	clients map[string]Provider
	nodes   map[int64]nodeEntry
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
// defaultKey is the API key of nodes that store none (the default node).
func NewGateways(defaultKey string, connect func(url, apiKey string) Provider) *Gateways {
	return &Gateways{defaultKey: defaultKey, connect: connect, clients: make(map[string]Provider), nodes: make(map[int64]nodeEntry)}
}

// ForNode returns the client of a node by id; load reads the node's address
// and key when they are not known or were read more than 30 s ago.
func (g *Gateways) ForNode(id int64, load func() (url, apiKey string, err error)) (Provider, error) {
	g.mu.Lock()
	e, ok := g.nodes[id]
	g.mu.Unlock()
	if ok && time.Now().Before(e.expires) {
		return e.p, nil
	}
	url, key, err := load()
	if err != nil {
		return nil, err
	}
	p := g.For(url, key)
	g.mu.Lock()
	g.nodes[id] = nodeEntry{p: p, expires: time.Now().Add(nodeTTL)}
	g.mu.Unlock()
	return p, nil
}

// For returns the client of the node at url; an empty apiKey means the
// default key.
func (g *Gateways) For(url, apiKey string) Provider {
	if apiKey == "" {
		apiKey = g.defaultKey
	}
	key := strings.TrimRight(url, "/") + "\x00" + apiKey
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.clients[key]
	if !ok {
		p = g.connect(strings.TrimRight(url, "/"), apiKey)
		g.clients[key] = p
	}
	return p
}
