package jobs

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/whatsapp"
)

func TestOverdue(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	at := func(ago time.Duration, id string) whatsapp.ListedEvent {
		ev := whatsapp.ListedEvent{Event: whatsapp.Event{ID: id}}
		if ago >= 0 {
			ev.Event.Timestamp = now.Add(-ago)
		}
		return ev
	}
	ids := func(evs []whatsapp.ListedEvent) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Event.ID)
		}
		return out
	}
	tests := []struct {
		name string
		in   []whatsapp.ListedEvent
		want []string
	}{
		{"nothing listed", nil, nil},
		{"a message just in may still have its webhook coming", []whatsapp.ListedEvent{at(5*time.Second, "new")}, nil},
		{"at the grace it is overdue", []whatsapp.ListedEvent{at(30*time.Second, "edge")}, []string{"edge"}},
		{"older ones are", []whatsapp.ListedEvent{at(time.Second, "new"), at(2*time.Minute, "old"), at(9*time.Minute, "older")},
			[]string{"old", "older"}},
		{"one without a time is left to its webhook", []whatsapp.ListedEvent{at(-1, "untimed")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ids(overdue(tt.in, now, 30*time.Second))); diff != "" {
				t.Errorf("overdue (-want +got):\n%s", diff)
			}
		})
	}
}
