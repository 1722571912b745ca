package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
)

// TestMediaRouteServesOnlyTheTenantsFiles: a customer's file is served from
// our storage to its tenant only (another tenant's id is a 404, as is an
// unknown one), never sniffed, images and audio inline with range requests
// for seeking, anything else as a sandboxed download.
func TestMediaRouteServesOnlyTheTenantsFiles(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	owner, ownerID := a.tenantOf(t, "Media Owner")
	stranger, _ := a.tenantOf(t, "Media Stranger")
	ts := a.store.Tenant(ownerID)
	inst := instanceRow(t, a.store, ownerID)
	c, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Kind: db.ContactDirect, Phone: "+" + newLead()})
	if err != nil {
		t.Fatal(err)
	}
	save := func(typ, mime, name string, data []byte) int64 {
		t.Helper()
		m, err := ts.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: c.ID, WaID: fmt.Sprintf("MEDIA%d", time.Now().UnixNano()),
			Direction: db.DirectionIn, Sender: db.SenderLead, ChatKind: db.ContactDirect, Type: typ, Status: db.MessageReceived, SentAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		f, err := ts.SaveReceivedMedia(ctx, m.ID, mime, name, data, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return f.ID
	}
	voice := save("audio", "audio/ogg", "voice.ogg", append([]byte("OggS"), make([]byte, 1000)...))
	pdf := save("document", "application/pdf", "prices.pdf", []byte("%PDF-1.4 prices"))

	r := owner.get(fmt.Sprintf("/media/%d", voice))
	wantStatus(t, r, http.StatusOK)
	if r.Header.Get("Content-Type") != "audio/ogg" || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(r.Header.Get("Content-Disposition"), "inline") || len(r.body) != 1004 {
		t.Errorf("voice note: %v, %d bytes", r.Header, len(r.body))
	}
	r = owner.get(fmt.Sprintf("/media/%d", voice), "Range", "bytes=0-3")
	if r.StatusCode != http.StatusPartialContent || r.body != "OggS" {
		t.Errorf("a range of the voice note: %d %q", r.StatusCode, r.body)
	}
	r = owner.get(fmt.Sprintf("/media/%d", pdf))
	wantStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("the PDF is not a sandboxed download: %v", r.Header)
	}
	for _, path := range []string{fmt.Sprintf("/media/%d", voice), fmt.Sprintf("/media/%d", pdf)} {
		if r := stranger.get(path); r.StatusCode != http.StatusNotFound || strings.Contains(r.body, "OggS") {
			t.Errorf("another tenant's %s: %d", path, r.StatusCode)
		}
	}
	wantStatus(t, owner.get("/media/999999999"), http.StatusNotFound)

	// Deleting the contact deletes their files; another tenant cannot.
	page := fmt.Sprintf("/contacts/%d", c.ID)
	if r := stranger.post(page+"/delete", url.Values{"_csrf": {stranger.csrf("/contacts")}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("another tenant's delete: %d", r.StatusCode)
	}
	wantRedirect(t, owner.post(page+"/delete", url.Values{"_csrf": {owner.csrf(page)}}), "/contacts")
	wantStatus(t, owner.get(page), http.StatusNotFound)
	wantStatus(t, owner.get(fmt.Sprintf("/media/%d", voice)), http.StatusNotFound)
}
