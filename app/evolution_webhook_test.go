package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// evolutionNumber records a number of a tenant on the Evolution node, as if
// it had been created (no gateway call).
func evolutionNumber(t *testing.T, a *testApp, tenantID int64) *db.Instance {
	t.Helper()
	ctx := context.Background()
	inst, err := a.store.Tenant(tenantID).CreateInstance(ctx, db.NewInstance{Name: "Evolution number",
		Providers: []string{whatsapp.ProviderEvolution}, Limit: 100, SessionName: whatsapp.SessionName})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Provider != whatsapp.ProviderEvolution {
		t.Fatalf("placed on %s", inst.Provider)
	}
	return inst
}

// postEvolution posts a webhook body with a secret header (none when empty).
func postEvolution(t *testing.T, baseURL string, body []byte, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/api/webhooks/evolution", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(whatsapp.EvolutionSecretHeader, secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func evolutionText(instance, id, phone, text string) []byte {
	return fmt.Appendf(nil, `{"event":"messages.upsert","instance":%q,"date_time":%q,"data":{"key":{"remoteJid":"%s@s.whatsapp.net","fromMe":false,"id":%q},"pushName":"Ana","message":{"conversation":%q},"messageType":"conversation","messageTimestamp":%d}}`,
		instance, time.Now().UTC().Format(time.RFC3339Nano), phone, id, text, time.Now().Unix())
}

// storedEvents counts the webhook events stored for an instance.
func storedEvents(t *testing.T, a *testApp, inst *db.Instance) int {
	t.Helper()
	n, err := a.store.DB().NewSelect().Table("webhook_events").Where("instance_id = ?", inst.ID).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestEvolutionWebhookRefusesWhatItCannotTrust: Evolution does not sign its
// webhooks; a request is taken only with the secret of the instance its
// body names. Refusals are 401 (Evolution does not retry them) and store
// nothing; a body that is not an event is 400; an event aibud does not use
// is 200.
func TestEvolutionWebhookRefusesWhatItCannotTrust(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, tenantA := a.tenantOf(t, "Evo A")
	_, tenantB := a.tenantOf(t, "Evo B")
	instA, instB := evolutionNumber(t, a, tenantA), evolutionNumber(t, a, tenantB)
	secretA := whatsapp.EvolutionInstanceSecret(evolutionSecret, instA.SessionName)
	lead := newLead()

	for _, tc := range []struct {
		name   string
		body   []byte
		secret string
		want   int
	}{
		{"no secret", evolutionText(instA.SessionName, "NOSECRET", lead, "hi"), "", http.StatusUnauthorized},
		{"a wrong secret", evolutionText(instA.SessionName, "WRONG", lead, "hi"), "not-the-secret", http.StatusUnauthorized},
		{"A's secret for B's instance", evolutionText(instB.SessionName, "CROSS", lead, "hi"), secretA, http.StatusUnauthorized},
		{"malformed JSON", []byte(`{"event":"messages.upsert","instance":`), secretA, http.StatusBadRequest},
		{"an event aibud does not use", fmt.Appendf(nil, `{"event":"chats.upsert","instance":%q,"data":[]}`, instA.SessionName), secretA, http.StatusOK},
	} {
		if got := postEvolution(t, a.URL, tc.body, tc.secret); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if n := storedEvents(t, a, instA) + storedEvents(t, a, instB); n != 0 {
		t.Errorf("%d events stored from refused or unused webhooks", n)
	}

	// The same message delivered five times (Evolution retries, and has no
	// event id) is stored once.
	body := evolutionText(instA.SessionName, "3A5FDUP"+lead, lead, "do you deliver on Sundays?")
	for range 5 {
		if got := postEvolution(t, a.URL, body, secretA); got != http.StatusOK {
			t.Fatalf("delivery: status %d", got)
		}
	}
	waitFor(t, 10*time.Second, "the message", func() bool {
		_, err := a.store.Tenant(tenantA).MessageByWaID(context.Background(), instA.ID, "3A5FDUP"+lead)
		return err == nil
	})
	if n := storedEvents(t, a, instA); n != 1 {
		t.Errorf("%d events stored for five deliveries, want 1", n)
	}
	if _, err := a.store.Tenant(tenantB).MessageByWaID(context.Background(), instA.ID, "3A5FDUP"+lead); err == nil {
		t.Error("the message is visible to another tenant")
	}
}
