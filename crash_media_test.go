package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/sim/samples"
	wahasim "github.com/myaibud/aibud/app/sim/waha"
	"github.com/myaibud/aibud/db/dbtest"
)

// crashMediaLeads is how many leads send a voice note at once in the media
// crash test.
const crashMediaLeads = 12

// TestKilledWorkerMidMediaLosesAndDoublesNothing: leads send voice notes at
// once, each downloaded from the gateway (slowly: the stand-in's file route
// answers after 300 ms), stored, and given to the model; the worker is
// killed with SIGKILL while files are downloaded, while the model hears
// them, or while the answers are sent, and a fresh worker finishes the work. Every lead gets one answer,
// charged once at the media price (CREDIT_COST_AI_MEDIA_REPLY, 2, and the
// message, 1), every file is stored once, and every message keeps what the
// AI heard.
func TestKilledWorkerMidMediaLosesAndDoublesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	e := newCrashEnv(t)
	e.sim.Delay("/api/files/{session}/{file}", 300*time.Millisecond)
	for _, tt := range []struct {
		name string
		when func(stored int, p crashProgress) bool
	}{
		{"while files are downloaded", func(stored int, p crashProgress) bool { return e.downloads.Load() >= 2 }},
		{"while the model hears them", func(stored int, p crashProgress) bool { return stored >= 2 }},
		{"while the answers are sent", func(stored int, p crashProgress) bool { return p.answered >= 3 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts, inst := e.shop(t)
			w := e.startWorker(t)
			leads := e.leadsSendVoiceNotes(t, inst.SessionName, crashMediaLeads)
			stored := func() int {
				var n int
				_ = dbtest.DB(t).QueryRowContext(context.Background(),
					"SELECT count(*) FROM media WHERE tenant_id = ? AND contact_id IS NOT NULL", ts.TenantID()).Scan(&n)
				return n
			}
			var atKill crashProgress
			deadline := time.Now().Add(20 * time.Second)
			for atKill = e.progress(t, ts, inst.SessionName, leads); !tt.when(stored(), atKill); atKill = e.progress(t, ts, inst.SessionName, leads) {
				if time.Now().After(deadline) {
					t.Fatalf("the point never came: %s, %d files stored\n%s", atKill, stored(), tails([]*child{w}, 2000))
				}
				time.Sleep(5 * time.Millisecond)
			}
			downloading := e.downloads.Load()
			w.kill()
			storedAtKill := stored()
			w = e.startWorker(t)
			e.waitQuiet(t, ts, leads, inst.SessionName, w)
			e.checkExactlyOnceAt(t, ts, leads, inst.SessionName, 3)

			if n := stored(); n != len(leads) {
				t.Errorf("%d files stored, want one per lead (%d)", n, len(leads))
			}
			var heard int
			_ = dbtest.DB(t).QueryRowContext(context.Background(),
				"SELECT count(*) FROM messages WHERE tenant_id = ? AND direction = 'in' AND transcript = ?",
				ts.TenantID(), samples.VoiceNoteTranscript).Scan(&heard)
			if heard != len(leads) {
				t.Errorf("%d voice notes keep the transcript, want %d", heard, len(leads))
			}
			t.Logf("killed with %d downloads under way, %d files stored and %s; every lead answered once after the restart",
				downloading, storedAtKill, atKill)
		})
	}
}

// leadsSendVoiceNotes has n new leads send the sample voice note at once
// and returns their phone numbers.
func (e *crashEnv) leadsSendVoiceNotes(t *testing.T, session string, n int) []string {
	t.Helper()
	leads := newLeadPhones(n)
	var wg sync.WaitGroup
	for _, lead := range leads {
		wg.Go(func() {
			m := wahasim.Media{Type: "audio", Mimetype: samples.VoiceNoteMime, Data: samples.VoiceNote()}
			if _, err := e.sim.LeadSendsMedia(session, lead, "Lead", m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return leads
}
