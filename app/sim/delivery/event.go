package delivery

import (
	"slices"
	"time"
)

// maxEvents bounds an event log; the oldest events go first.
const maxEvents = 10000

// Event is an event a stand-in emitted, with its deliveries.
type Event struct {
	// ID names the event: WAHA's event id ("evt_…", the same in every
	// delivery and retry), or the Evolution stand-in's own name ("evo_1",
	// not in the body: Evolution's events have no id).
	ID string
	// Type is the event as the body names it ("message.any",
	// "messages.upsert").
	Type    string
	Session string
	Time    time.Time
	// Body is the JSON posted, byte for byte.
	Body []byte
	// Deliveries has one entry per post of the event to a webhook.
	Deliveries []Delivery
}

// Delivery is the delivery of an event to one webhook.
type Delivery struct {
	URL string
	// RequestID is WAHA's X-Webhook-Request-Id, the same on every try;
	// empty for Evolution.
	RequestID string
	// Attempts counts the tries made so far.
	Attempts int
	// Status is the HTTP status of the last try, 0 when it got no answer.
	Status int
	// Err is the network error of the last try, if any, or why the
	// delivery ended.
	Err string
	// Delivered: a try got a 2xx answer. GaveUp: the delivery ended
	// without.
	Delivered bool
	GaveUp    bool
}

// Update takes a job's Result.
func (d *Delivery) Update(r Result) {
	d.Attempts, d.Status, d.Err, d.Delivered, d.GaveUp = r.Attempts, r.Status, r.Err, r.Delivered, r.GaveUp
}

// Record is an Event being delivered; the stand-in's lock guards it and
// its deliveries.
type Record struct {
	Event
	deliveries []*Delivery
}

// NewRecord returns the record of an event.
func NewRecord(e Event) *Record {
	return &Record{Event: e}
}

// Add adds a delivery to the event and returns it, for the job's Report
// to update.
func (r *Record) Add(url, requestID string) *Delivery {
	d := &Delivery{URL: url, RequestID: requestID}
	r.deliveries = append(r.deliveries, d)
	return d
}

// Log is a stand-in's events, oldest first; the stand-in's lock guards it.
type Log struct {
	records []*Record
}

// Add appends a record, dropping the oldest beyond 10000.
func (l *Log) Add(r *Record) {
	l.records = append(l.records, r)
	if len(l.records) > maxEvents {
		l.records = slices.Clone(l.records[len(l.records)-maxEvents:])
	}
}

// Find returns the record of the event id, nil when there is none.
func (l *Log) Find(id string) *Record {
	i := slices.IndexFunc(l.records, func(r *Record) bool { return r.ID == id })
	if i < 0 {
		return nil
	}
	return l.records[i]
}

// Events returns copies of the events with their deliveries.
func (l *Log) Events() []Event {
	out := make([]Event, len(l.records))
	for i, r := range l.records {
		out[i] = r.Event
		out[i].Body = slices.Clone(r.Body)
		out[i].Deliveries = make([]Delivery, len(r.deliveries))
		for j, d := range r.deliveries {
			out[i].Deliveries[j] = *d
		}
	}
	return out
}
