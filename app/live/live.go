// Package live carries small "something changed" events from any process to
// the browsers connected to any web process, through Redis pub/sub.
//
// Workers and handlers Publish to a tenant's channel after they commit. Each
// web process runs one Hub: a single Redis connection subscribed to the
// channels its connected browsers need (reference-counted), fanning messages
// out to them. Browsers then re-fetch what changed through the normal,
// tenant-scoped handlers (notify, then refetch).
package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event names. Elements listen with hx-trigger="sse:<name>".
const (
	CreditsUpdated  = "credits-updated"
	InstanceUpdated = "instance-updated" // a number's status changed
	InstanceQR      = "instance-qr"      // a number waiting for a scan has a new QR code
	MessageCreated  = "message-created"  // a message was stored in a conversation
	MessageUpdated  = "message-updated"  // a message's delivery status changed
	ContactUpdated  = "contact-updated"  // a chat's mode, tags or opt-out changed
	CampaignUpdated = "campaign-updated" // a campaign's progress or state changed
	// QuestionsUpdated: a question the AI could not answer was recorded
	// (or asked again), answered or dismissed.
	QuestionsUpdated = "questions-updated"
	// Resync is sent by the stream itself when it cannot tell what a page
	// missed before it opened: every live region re-fetches.
	Resync = "resync"
	// SessionEnded tells every web process that a browser session signed
	// out: its streams end. It is not forwarded to browsers.
	SessionEnded = "session-ended"
)

// Event is one live update.
type Event struct {
	Name string          `json:"name"`
	Data json.RawMessage `json:"data,omitempty"`
}

// TenantChannel is the channel of one tenant's events.
func TenantChannel(namespace string, tenantID int64) string {
	return namespace + ":tenant:" + strconv.FormatInt(tenantID, 10)
}

// Publisher sends events to tenants' channels.
type Publisher struct {
	rdb       redis.UniversalClient
	namespace string
}

// NewPublisher returns a Publisher. The namespace prefixes every channel, so
// several deployments (or test packages) can share one Redis.
func NewPublisher(rdb redis.UniversalClient, namespace string) *Publisher {
	return &Publisher{rdb: rdb, namespace: namespace}
}

// Publish sends an event to every browser of the tenant. Call it after the
// change it announces has committed. data is encoded as JSON; nil sends none.
func (p *Publisher) Publish(ctx context.Context, tenantID int64, name string, data any) error {
	e := Event{Name: name}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("publish %s: %w", name, err)
		}
		e.Data = b
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("publish %s: %w", name, err)
	}
	_, err = p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Publish(ctx, TenantChannel(p.namespace, tenantID), b)
		if name != SessionEnded {
			key := lastKey(p.namespace, tenantID)
			pipe.HSet(ctx, key, name, time.Now().UnixMilli())
			pipe.PExpire(ctx, key, Remembered)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish %s: %w", name, err)
	}
	return nil
}

// Remembered is how long the time of a tenant's last event of each name is
// kept, for streams that open (or reconnect) after their page was rendered.
const Remembered = 10 * time.Minute

// clockSkew covers the time between reading a page's data and stamping it,
// and the clocks of different processes.
const clockSkew = 5 * time.Second

// lastKey is the hash of when each of a tenant's events was last published.
func lastKey(namespace string, tenantID int64) string {
	return namespace + ":live-last:" + strconv.FormatInt(tenantID, 10)
}

// ChangedSince returns the names of the tenant's events published since
// since, so a page whose stream opens late re-fetches only the regions that
// may have missed one. known is false when that cannot be told (since is
// older than what is remembered): then every region should re-fetch.
func (p *Publisher) ChangedSince(ctx context.Context, tenantID int64, since time.Time) (names []string, known bool, err error) {
	if time.Since(since) > Remembered-clockSkew {
		return nil, false, nil
	}
	last, err := p.rdb.HGetAll(ctx, lastKey(p.namespace, tenantID)).Result()
	if err != nil {
		return nil, false, fmt.Errorf("changed since: %w", err)
	}
	from := since.Add(-clockSkew).UnixMilli()
	for name, at := range last {
		if ms, err := strconv.ParseInt(at, 10, 64); err == nil && ms >= from {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, true, nil
}

// Hub fans the messages of one Redis subscription out to local subscribers.
type Hub struct {
	log       *slog.Logger
	namespace string
	ps        *redis.PubSub

	mu       sync.Mutex
	channels map[string]*channelState
	closed   bool
	seq      uint64
}

type channelState struct {
	subs      map[*Subscription]struct{}
	confirmed bool
	waiters   []chan struct{}
}

// oldest returns the channel's longest-open subscription among those match
// accepts.
func (cs *channelState) oldest(match func(*Subscription) bool) (*Subscription, int) {
	var o *Subscription
	n := 0
	for s := range cs.subs {
		if !match(s) {
			continue
		}
		n++
		if o == nil || s.seq < o.seq {
			o = s
		}
	}
	return o, n
}

// NewHub returns a Hub; call Run to start delivering.
func NewHub(rdb redis.UniversalClient, namespace string, log *slog.Logger) *Hub {
	return &Hub{
		log:       log,
		namespace: namespace,
		ps:        rdb.Subscribe(context.Background()),
		channels:  make(map[string]*channelState),
	}
}

// Run delivers messages until ctx ends, then closes the hub.
func (h *Hub) Run(ctx context.Context) {
	msgs := h.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	defer h.close()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				h.onSubscription(m)
			case *redis.Message:
				h.onMessage(m)
			}
		}
	}
}

func (h *Hub) close() {
	h.mu.Lock()
	h.closed = true
	for _, cs := range h.channels {
		for s := range cs.subs {
			s.closeLocked()
		}
	}
	h.channels = map[string]*channelState{}
	h.mu.Unlock()
	_ = h.ps.Close()
}

func (h *Hub) onSubscription(m *redis.Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := h.channels[m.Channel]
	if cs == nil {
		return
	}
	switch m.Kind {
	case "subscribe":
		cs.confirmed = true
		for _, w := range cs.waiters {
			close(w)
		}
		cs.waiters = nil
	case "unsubscribe":
		cs.confirmed = false
	}
}

func (h *Hub) onMessage(m *redis.Message) {
	var e Event
	if err := json.Unmarshal([]byte(m.Payload), &e); err != nil || e.Name == "" {
		h.log.Warn("live: dropping malformed event", "channel", m.Channel)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := h.channels[m.Channel]
	if cs == nil {
		return
	}
	for s := range cs.subs {
		select {
		case s.c <- e:
		default:
			// A stalled browser must not hold up the others; its next
			// refetch catches up with the state anyway.
			s.dropped++
		}
	}
}

// Subscription receives the events of one tenant until closed.
type Subscription struct {
	hub     *Hub
	channel string
	c       chan Event
	once    sync.Once
	dropped int
	// key names the browser session of a stream ("" for others); seq
	// orders subscriptions by age.
	key string
	seq uint64
}

// Events returns the channel events arrive on. It is closed when the
// subscription or the hub closes.
func (s *Subscription) Events() <-chan Event { return s.c }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	cs := s.hub.channels[s.channel]
	if cs != nil {
		delete(cs.subs, s)
		if len(cs.subs) == 0 {
			delete(s.hub.channels, s.channel)
			// Under the lock, so a new subscriber's SUBSCRIBE cannot
			// overtake this UNSUBSCRIBE. It only writes the command.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.hub.ps.Unsubscribe(ctx, s.channel); err != nil {
				s.hub.log.Warn("live: unsubscribe", "err", err)
			}
		}
	}
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	s.once.Do(func() {
		if s.dropped > 0 {
			s.hub.log.Debug("live: events dropped for a slow subscriber", "channel", s.channel, "dropped", s.dropped)
		}
		close(s.c)
	})
}

// ErrHubClosed is returned by Subscribe after the hub stopped.
var ErrHubClosed = errors.New("live: hub closed")

// SubscribeTenant subscribes to a tenant's events and returns once Redis has
// confirmed the subscription, so nothing published afterwards is missed.
func (h *Hub) SubscribeTenant(ctx context.Context, tenantID int64) (*Subscription, error) {
	return h.subscribe(ctx, tenantID, "", Limits{})
}

// Limits bound the streams a web process keeps open; zero means no bound.
type Limits struct {
	// PerKey is the most streams of one browser session, PerTenant of one
	// tenant. Beyond either, the oldest stream is closed (the browser
	// reconnects it if it is still wanted).
	PerKey, PerTenant int
}

// SubscribeStream subscribes a browser's stream, named by key (its sign-in
// session), to a tenant's events within the limits.
func (h *Hub) SubscribeStream(ctx context.Context, tenantID int64, key string, l Limits) (*Subscription, error) {
	return h.subscribe(ctx, tenantID, key, l)
}

// evictLocked closes the oldest subscriptions of cs beyond the limits, to
// make room for one more.
func (h *Hub) evictLocked(cs *channelState, key string, l Limits) {
	for _, bound := range []struct {
		max   int
		match func(*Subscription) bool
	}{
		{l.PerKey, func(s *Subscription) bool { return key != "" && s.key == key }},
		{l.PerTenant, func(*Subscription) bool { return true }},
	} {
		if bound.max <= 0 {
			continue
		}
		for {
			o, n := cs.oldest(bound.match)
			if o == nil || n < bound.max {
				break
			}
			delete(cs.subs, o)
			o.closeLocked()
		}
	}
}

func (h *Hub) subscribe(ctx context.Context, tenantID int64, key string, l Limits) (*Subscription, error) {
	channel := TenantChannel(h.namespace, tenantID)
	s := &Subscription{hub: h, channel: channel, c: make(chan Event, 64), key: key}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrHubClosed
	}
	cs := h.channels[channel]
	if cs == nil {
		cs = &channelState{subs: make(map[*Subscription]struct{})}
		h.channels[channel] = cs
		// Under the lock, for the ordering Close relies on.
		if err := h.ps.Subscribe(ctx, channel); err != nil {
			delete(h.channels, channel)
			h.mu.Unlock()
			return nil, fmt.Errorf("live: subscribe: %w", err)
		}
	}
	h.evictLocked(cs, key, l)
	h.seq++
	s.seq = h.seq
	cs.subs[s] = struct{}{}
	var wait chan struct{}
	if !cs.confirmed {
		wait = make(chan struct{})
		cs.waiters = append(cs.waiters, wait)
	}
	h.mu.Unlock()

	if wait != nil {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-wait:
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		case <-t.C:
			s.Close()
			return nil, errors.New("live: Redis did not confirm the subscription")
		}
	}
	return s, nil
}
