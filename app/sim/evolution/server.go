// Package evolution is a stand-in for an Evolution API server (version
// 2.3.7, Baileys engine; see shared/evolution/README.md), for local
// development and tests. The app's Evolution client talks to it over HTTP;
// nothing here reaches WhatsApp.
//
// It serves the part of Evolution's API that aibud uses, in its shapes:
// instance create (integration WHATSAPP-BAILEYS only, with the nested
// webhook object, our own token, qrcode:true and a pairing number),
// connect, connectionState, fetchInstances, restart, logout and delete;
// webhook set and find; sendText, sendPoll and sendMedia; whatsappNumbers,
// markMessageAsRead, findMessages and getBase64FromMediaMessage. Requests
// authenticate with the apikey header: the global Options.APIKey, or for
// routes that name an instance that instance's token. Errors come in
// Evolution's shape {status, error, response:{message}}, with its guard
// order (an unknown instance is a 404 before the key is checked).
//
// Instances post their events to their webhook, in Evolution's envelope
// {event, instance, data, destination, date_time, sender, server_url,
// apikey}, with the webhook's custom headers sent verbatim (a jwt_key
// header becomes Authorization: Bearer <HS256 JWT>, as Evolution does), to
// the events of its list only (an empty list takes all). A failed delivery
// is retried with exponential backoff from Timing.RetryBase, capped at
// Timing.MaxRetryDelay, with ±20% jitter, up to Timing.RetryAttempts tries,
// and never after a 400, 401, 403, 404 or 422. Events: qrcode.updated,
// connection.update, status.instance, logout.instance, remove.instance,
// instance.create, instance.delete, messages.upsert, send.message and
// messages.update.
//
// An instance's life follows Evolution's: create (or connect) opens the
// socket: connecting, then a QR code every Timing.NextQR; at
// Timing.QRLimit codes nobody scanned, qrcode.updated says the limit is
// reached, connection.update says refused, and the instance is close
// again. A scan (Scan, or the phone page's button) makes it open.
//
// The traps of Evolution API it reproduces, for the app's client to cope
// with:
//   - connect and restart answer errors with HTTP 200 {"error":true,
//     "message":…} (FailNext on their paths gives that, with Evolution's
//     useless "[object Object]"), and connect or create answer {"count":0}
//     when no QR came in time (SlowQR);
//   - create without webhook.events fails with 400, as Evolution's
//     unguarded events.length does; lowercase event names are stored and
//     never match;
//   - no webhook signature and no event id; duplicate deliveries
//     (Options.Duplicates, Redeliver) and out-of-order ones (DelayNext);
//   - a number not on WhatsApp fails the send with 400 and the check
//     result [{jid, exists:false, number}] as the message; sending while
//     not connected gives 400 ["Error: Connection Closed"];
//   - Brazilian numbers lose the ninth digit in the JID (55 + DDD ≥ 31 +
//     9 + 8 digits starting 7–9), Mexican and Argentinian 13-digit numbers
//     their third digit, both ways: sends and inbound messages;
//   - @lid senders: LeadSaysAsLID without a phone gives remoteJid …@lid and
//     no remoteJidAlt; with one, remoteJid is the phone's JID and
//     remoteJidAlt the lid, as 2.3.7 rewrites it; markMessageAsRead drops
//     @lid keys;
//   - poll votes arrive as messages.upsert pollUpdateMessage, each the
//     voter's whole selection ([] when withdrawn), with pollUpdates; an
//     undecryptable vote (LeadVoteFails) has no pollUpdates and opaque
//     selectedOptions;
//   - logout of a closed instance is 400 "not connected"; a terminal drop
//     (DropSession, logout) emits status.instance, connection.update close
//     401 and logout.instance; a non-terminal one (DropConnection) only
//     connecting and then open.
//
// Tests and the phone page drive the other side of WhatsApp through methods
// of Server, named as the WAHA stand-in's (app/sim/waha) so that one
// contract test can drive both: Scan, SetAccount, LeadSays, LeadSaysAsLID,
// LeadSendsMedia, OwnerSaysFromPhone, LeadVotes, LeadVoteFails, Read,
// RotateQR, DropSession, DropConnection; they read what happened through
// Sent, Sessions, Session, Events and Calls, wait for webhooks with Flush,
// post an event again with Redeliver, delay one with DelayNext, and inject
// faults with FailNext, Delay, Hold, Mute, SlowQR, SetNumberExists and
// RefuseSendsTo.
//
// GET /phone is the phone page of package phone, for a person using make
// dev. It needs no API key: bind the stand-in to loopback.
package evolution

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/myaibud/aibud/app/sim"
	"github.com/myaibud/aibud/app/sim/delivery"
	"github.com/myaibud/aibud/app/sim/phone"
)

// Version is the Evolution API version the stand-in speaks.
const Version = "2.3.7"

// The control methods' errors, to be checked with errors.Is, are package
// sim's: ErrUnknownSession (no instance of that name), ErrWrongStatus (the
// instance is not in a state that allows the call), ErrUnknownMessage and
// ErrInvalid (an argument is empty or malformed).
var ErrUnknownSession, ErrWrongStatus, ErrUnknownMessage, ErrInvalid = sim.ErrUnknownSession, sim.ErrWrongStatus, sim.ErrUnknownMessage, sim.ErrInvalid

// Connection states, as Evolution (Baileys) names them.
const (
	StateClose      = "close"
	StateConnecting = "connecting"
	StateOpen       = "open"
)

// Timing sets how long things take. A zero field takes Evolution's value
// (or the stand-in's, where Evolution has none); use a small positive
// value, not zero, to make something fast.
type Timing struct {
	// FirstQR is the time from opening the socket to the first QR code,
	// or to open for a paired instance (default 1 s).
	FirstQR time.Duration
	// QRWait is how long connect and create with qrcode:true wait for a QR
	// code before they answer {"count":0} (default 2 s; create waits 5 s
	// in Evolution).
	QRWait time.Duration
	// NextQR is how long each QR code lives (Baileys' qrTimeout, 45 s).
	NextQR time.Duration
	// QRLimit is how many QR codes an attempt offers before it is refused
	// (QRCODE_LIMIT, default 30).
	QRLimit int
	// Reconnect is how long a non-terminal drop or a restart stays
	// connecting before it is open again (default 1 s).
	Reconnect time.Duration
	// DeliveryAck is the time between the SERVER_ACK and DELIVERY_ACK of a
	// sent message (default 1 s).
	DeliveryAck time.Duration
	// RetryBase is the wait before the first webhook retry, doubled for
	// each later one (default 5 s); MaxRetryDelay caps it (300 s).
	RetryBase     time.Duration
	MaxRetryDelay time.Duration
	// RetryAttempts is how many tries a webhook delivery gets
	// (WEBHOOK_RETRY_MAX_ATTEMPTS, default 10).
	RetryAttempts int
	// WebhookTimeout bounds one webhook request (default 30 s); it applies
	// when Options.HTTPClient is nil.
	WebhookTimeout time.Duration
}

// DefaultTiming returns Evolution's timings.
func DefaultTiming() Timing {
	return Timing{
		FirstQR:        time.Second,
		QRWait:         2 * time.Second,
		NextQR:         45 * time.Second,
		QRLimit:        30,
		Reconnect:      time.Second,
		DeliveryAck:    time.Second,
		RetryBase:      5 * time.Second,
		MaxRetryDelay:  300 * time.Second,
		RetryAttempts:  10,
		WebhookTimeout: 30 * time.Second,
	}
}

// FastTiming returns timings for tests: the socket, acks, reconnects and
// webhook retries take milliseconds and QR waits a fraction of a second.
// QR codes keep Evolution's lifetime, so that they do not rotate in the
// middle of a test; use RotateQR, or set NextQR, to test rotation.
func FastTiming() Timing {
	const ms = time.Millisecond
	t := DefaultTiming()
	t.FirstQR, t.QRWait, t.Reconnect, t.DeliveryAck = 5*ms, 300*ms, 5*ms, 5*ms
	t.RetryBase, t.MaxRetryDelay, t.WebhookTimeout = 5*ms, 50*ms, 5*time.Second
	return t
}

// Options configure a Server. Only APIKey matters to most callers.
type Options struct {
	// APIKey is AUTHENTICATION_API_KEY, the global key callers send in
	// the apikey header; instance tokens are accepted beside it. Empty:
	// no key is checked.
	APIKey string
	// Timing: zero fields take Evolution's values (DefaultTiming); tests
	// start from FastTiming.
	Timing Timing
	// Logger gets instance lifecycle and webhook lines, never message
	// texts at Info; nil discards them.
	Logger *slog.Logger
	// HTTPClient posts the webhooks; nil means a client that gives up
	// after Timing.WebhookTimeout.
	HTTPClient *http.Client
	// ServerURL is the envelopes' server_url (SERVER_URL); default
	// http://localhost:8080.
	ServerURL string
	// Duplicates posts every webhook delivery 1+Duplicates times, as
	// Evolution's retries after a lost answer, or a global webhook beside
	// the instance's, do.
	Duplicates int
}

// maxBody bounds request bodies; media bodies may be larger.
const (
	maxBody  = 1 << 20
	maxMedia = 16 << 20
)

// Server is the Evolution API stand-in. Its methods are safe for concurrent
// use. Call Close to stop its timers and webhook deliveries.
type Server struct {
	apiKey     string
	timing     Timing
	log        *slog.Logger
	serverURL  string
	duplicates int
	poster     *delivery.Poster
	handler    http.Handler
	// API serves Evolution's routes and holds the injected faults:
	// FailNext, Delay, Hold and Calls.
	*sim.API
	// Numbers holds the numbers not on WhatsApp (SetNumberExists) and
	// those sends to which are refused (RefuseSendsTo, which answers 400
	// ["Error: not-acceptable"]).
	*sim.Numbers

	mu        sync.Mutex
	closed    bool
	instances map[string]*instance
	// accounts are the accounts set with SetAccount, by instance.
	accounts *sim.Accounts
	// slowQR delays the first QR code of an instance's attempts (SlowQR).
	slowQR map[string]time.Duration
	// delayNext holds the next event of a type back (DelayNext), by
	// instance and event.
	delayNext map[string]time.Duration
	events    delivery.Log
	seq       int
	// changes counts what the phone page shows, to wake its waiting
	// requests.
	changes sim.Changes
}

// Call is one API request the stand-in answered, for tests to inspect.
type Call = sim.Call

// New returns a Server with no instances.
func New(opts Options) *Server {
	timing := sim.WithDefaults(opts.Timing, DefaultTiming())
	log, client := sim.Defaults(opts.Logger, opts.HTTPClient, timing.WebhookTimeout)
	serverURL := opts.ServerURL
	if serverURL == "" {
		serverURL = "http://localhost:8080"
	}
	s := &Server{
		apiKey:     opts.APIKey,
		timing:     timing,
		log:        log,
		serverURL:  serverURL,
		duplicates: max(opts.Duplicates, 0),
		poster:     delivery.New(client),
		instances:  make(map[string]*instance),
		Numbers:    sim.NewNumbers(),
		accounts:   sim.NewAccounts(jidOf),
		slowQR:     make(map[string]time.Duration),
		delayNext:  make(map[string]time.Duration),
	}
	s.API = sim.NewAPI(sim.APIConfig{
		Routes:  s.apiRoutes(),
		Session: func(_ *http.Request, p sim.Params) string { return p["instance"] },
		Check:   s.check,
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "Cannot "+r.Method+" "+r.URL.Path)
		},
		Fail: s.fail,
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.welcome)
	phone.New(phoneSide{s}, phoneLabels, log).Register(mux)
	mux.Handle("/", http.HandlerFunc(s.API.Serve))
	s.handler = mux
	return s
}

// Handler returns the HTTP handler serving Evolution's API and the phone
// page.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Close stops the instance timers and the webhook deliveries, waiting for
// deliveries in flight to end. The handler keeps answering; nothing is sent
// any more.
func (s *Server) Close() {
	if s.stopTimers() {
		s.poster.Close()
	}
}

// stopTimers marks the server closed and stops the instances' timers; it
// returns false when it was closed already.
func (s *Server) stopTimers() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	for _, in := range s.instances {
		in.timer.Stop()
	}
	return true
}

// Run serves a new stand-in on addr until ctx is cancelled, then shuts it
// down. log replaces opts.Logger when not nil; opts.ServerURL defaults to
// the listening address.
func Run(ctx context.Context, addr string, opts Options, log *slog.Logger) error {
	if log != nil {
		opts.Logger = log
	}
	if opts.ServerURL == "" {
		opts.ServerURL = "http://" + addr
	}
	s := New(opts)
	defer s.Close()
	return sim.Serve(ctx, "evolution stand-in", addr, s.handler, s.log, func(addr string) {
		s.log.Info("evolution stand-in listening", "addr", addr, "version", Version,
			"phone_page", "http://"+addr+"/phone", "api_key_required", opts.APIKey != "")
	})
}

// Mute stops (on) or restarts delivering the instance's events of a type
// (dotted, e.g. "send.message"), as when deliveries are lost; muted events
// are still recorded in Events.
func (s *Server) Mute(name, event string, on bool) {
	_ = s.control("mute", name, func(in *instance) error { // an unknown name has nothing to mute
		in.muted[event] = on
		return nil
	})
}

// SlowQR makes the first QR code of the instance's next connection
// attempts come d after the socket opens, so that create with qrcode:true
// and connect, which wait only Timing.QRWait, answer {"count":0} and the
// code arrives later by qrcode.updated (Evolution #1541). It may be called
// before the instance exists. d <= 0 restores Timing.FirstQR.
func (s *Server) SlowQR(name string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sim.SetDuration(s.slowQR, name, d)
}

// notifyLocked wakes the phone page's waiters; s.mu is held.
func (s *Server) notifyLocked() {
	s.changes.Notify()
}

// welcome is GET /, Evolution's health answer.
func (s *Server) welcome(w http.ResponseWriter, r *http.Request) {
	sim.WriteJSON(w, http.StatusOK, map[string]any{
		"status": 200, "message": "Welcome to the Evolution API, it is working!", "version": Version,
		"clientName": "evolution_exchange", "manager": s.serverURL + "/manager",
		"documentation": "https://doc.evolution-api.com", "whatsappWebVersion": "2.3000.1023204200",
	})
}

// check applies Evolution's guards in its order: the instance exists (404),
// the name is free (create, 403), then the apikey (401): the global key,
// or the instance's token on routes that name it.
func (s *Server) check(w http.ResponseWriter, r *http.Request, rt *sim.Route, p sim.Params) bool {
	if rt == nil {
		return true
	}
	if rt.Pattern == "/instance/create" {
		var body struct {
			InstanceName string `json:"instanceName"`
		}
		sim.PeekJSON(r, &body)
		if name := body.InstanceName; name != "" {
			s.mu.Lock()
			_, used := s.instances[name]
			s.mu.Unlock()
			if used {
				nameInUse(w, name)
				return false
			}
		}
	}
	name, named := p["instance"]
	token := ""
	if named {
		s.mu.Lock()
		in, ok := s.instances[name]
		if ok {
			token = in.token
		}
		s.mu.Unlock()
		if !ok {
			notExists(w, name)
			return false
		}
	}
	if s.apiKey == "" || keyIs(r, s.apiKey) || (token != "" && keyIs(r, token)) {
		return true
	}
	// fetchInstances also takes an instance token, and then lists only the
	// instances with it (see fetchInstances).
	if rt.Pattern == "/instance/fetchInstances" && s.tokenKnown(r.Header.Get("apikey")) {
		return true
	}
	s.log.Warn("evolution stand-in: request without a valid apikey", "method", r.Method, "path", r.URL.Path)
	sim.WriteJSON(w, http.StatusUnauthorized, errorBody(http.StatusUnauthorized, "Unauthorized"))
	return false
}

func keyIs(r *http.Request, key string) bool {
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("apikey")), []byte(key)) == 1
}

// tokenKnown tells an instance token.
func (s *Server) tokenKnown(token string) bool {
	if token == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.instances {
		if subtle.ConstantTimeCompare([]byte(token), []byte(in.token)) == 1 {
			return true
		}
	}
	return false
}

// fail answers a FailNext: connect and restart report errors with HTTP
// 200 {"error":true,"message":"[object Object]"}, as Evolution does; the
// other routes answer the status in Evolution's error shape.
func (s *Server) fail(w http.ResponseWriter, _ *http.Request, pattern string, status int) {
	if pattern == "/instance/connect/{instance}" || pattern == "/instance/restart/{instance}" {
		sim.WriteJSON(w, http.StatusOK, map[string]any{"error": true, "message": "[object Object]"})
		return
	}
	writeError(w, status, "simulated failure")
}

// writeError answers Evolution's error shape; message is a string or a
// list of strings or objects, and a single string is put in a list.
func writeError(w http.ResponseWriter, status int, message any) {
	if m, ok := message.(string); ok {
		message = []string{m}
	}
	sim.WriteJSON(w, status, errorBody(status, message))
}

// badRequest answers 400 with the problems.
func badRequest(w http.ResponseWriter, problems ...string) {
	writeError(w, http.StatusBadRequest, problems)
}

// notExists is the 404 of an unknown instance.
func notExists(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, `The "`+name+`" instance does not exist`)
}
