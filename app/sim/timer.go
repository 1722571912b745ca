package sim

import (
	"sync"
	"time"
)

// Timer drives the changes of a session that happen by themselves (the
// next QR code, a reconnect): After replaces the pending change, Stop
// cancels it. The stand-in's lock guards it.
type Timer struct {
	t *time.Timer
	// gen makes a stopped timer's late callback a no-op.
	gen int
}

// Stop cancels the pending change.
func (t *Timer) Stop() {
	t.gen++
	if t.t != nil {
		t.t.Stop()
		t.t = nil
	}
}

// After runs f, with mu held, after d, unless Stop or After comes first or
// live (called with mu held) says the session is gone. mu must be held
// when After is called.
func (t *Timer) After(mu sync.Locker, d time.Duration, live func() bool, f func()) {
	t.Stop()
	gen := t.gen
	t.t = time.AfterFunc(d, func() {
		mu.Lock()
		defer mu.Unlock()
		if t.gen != gen || !live() {
			return
		}
		t.t = nil
		f()
	})
}
