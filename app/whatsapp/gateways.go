package whatsapp

import (
	"strings"
	"sync"
)

// Gateways hands out one Provider per gateway node and reuses it, so
// connections to a node are pooled. Nodes are added at run time by the
// platform owner, so clients are made on first use.
type Gateways struct {
	defaultKey string
	connect    func(url, apiKey string) Provider

	mu      sync.Mutex
	clients map[string]Provider
}

// NewGateways returns a pool. connect builds the client of one node;
// defaultKey is the API key of nodes that store none (the default node).
func NewGateways(defaultKey string, connect func(url, apiKey string) Provider) *Gateways {
	return &Gateways{defaultKey: defaultKey, connect: connect, clients: make(map[string]Provider)}
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
