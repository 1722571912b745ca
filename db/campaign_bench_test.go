package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// BenchmarkCampaignPage100k measures what a 100,000-recipient campaign
// costs its pages: the launch (every recipient made a contact and tagged),
// the live figures (CampaignCounts, asked on every update), a page of the
// table, a filtered page and the whole results walk, half of the campaign
// sent. The baseline is a plain count of the recipients in the same run.
func BenchmarkCampaignPage100k(b *testing.B) {
	ctx := context.Background()
	s := dbtest.Store(b)
	bdb := dbtest.DB(b)
	tenant, _ := dbtest.NewTenant(b, s)
	ts := s.Tenant(tenant.ID)
	inst := dbtest.NewInstance(b, s, tenant.ID)
	c, err := ts.CreateCampaign(ctx, "Big list")
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	rs := make([]db.Recipient, n)
	for i := range rs {
		rs[i] = db.Recipient{RowNumber: i + 2, Phone: fmt.Sprintf("+3460%07d", i), Name: fmt.Sprintf("Lead %d", i)}
	}
	if err := ts.ReplaceRecipients(ctx, c.ID, rs, nil); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := ts.LaunchCampaign(ctx, c.ID, db.Launch{InstanceIDs: []int64{inst.ID}, Pace: []byte("{}"), Price: 1, Tag: "big list"}); err != nil {
		b.Fatal(err)
	}
	launch := time.Since(start)
	b.Logf("launch of %d recipients: %s", n, launch)
	if _, err := bdb.ExecContext(ctx, "ANALYZE campaign_recipients; ANALYZE contacts"); err != nil {
		b.Fatal(err)
	}
	// Half sent: a message per recipient of the first half, a tenth failed.
	_, err = bdb.ExecContext(ctx, `INSERT INTO messages (tenant_id, instance_id, contact_id, wa_id, provider_id, direction, sender, chat_kind, type, body, status, sent_at)
		SELECT cr.tenant_id, ?, cr.contact_id, 'bench-' || cr.id, '', 'out', 'campaign', 'direct', 'text', 'Hi',
		       CASE WHEN cr.row_number % 10 = 0 THEN 'failed' ELSE 'delivered' END, now()
		FROM campaign_recipients AS cr WHERE cr.campaign_id = ? AND cr.row_number < ?`, inst.ID, c.ID, n/2+2)
	if err == nil {
		_, err = bdb.ExecContext(ctx, "ANALYZE messages")
	}
	if err == nil {
		_, err = bdb.ExecContext(ctx, `UPDATE campaign_recipients AS cr SET state = 'queued', message_id = m.id
			FROM messages AS m WHERE m.tenant_id = cr.tenant_id AND m.wa_id = 'bench-' || cr.id AND cr.campaign_id = ?`, c.ID)
	}
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bdb.ExecContext(ctx, "ANALYZE campaign_recipients"); err != nil {
		b.Fatal(err)
	}
	timed := func(f func() error) time.Duration {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var base, counts, page, failed, walk time.Duration
	b.ResetTimer()
	for range b.N {
		base += timed(func() error {
			_, err := bdb.NewSelect().Model((*db.Recipient)(nil)).Where("tenant_id = ? AND campaign_id = ?", tenant.ID, c.ID).Count(ctx)
			return err
		})
		counts += timed(func() error {
			got, err := ts.CampaignCounts(ctx, c.ID)
			if err == nil && (got.Sent != 45_000 || got.Failed != 5_000 || got.Pending != 50_000) {
				err = fmt.Errorf("counts = %+v", got)
			}
			return err
		})
		page += timed(func() error {
			_, _, err := ts.CampaignRecipients(ctx, c.ID, db.RecipientFilter{}, db.Page{Number: 1000, PerPage: 50})
			return err
		})
		failed += timed(func() error {
			_, _, err := ts.CampaignRecipients(ctx, c.ID, db.RecipientFilter{Status: db.StatusFailed}, db.Page{Number: 1, PerPage: 50})
			return err
		})
		walk += timed(func() error {
			for from := 0; ; {
				rows, err := ts.CampaignRecipientsFrom(ctx, c.ID, db.RecipientFilter{FromRow: from}, 5000)
				if err != nil || len(rows) < 5000 {
					return err
				}
				from = rows[len(rows)-1].RowNumber + 1
			}
		})
	}
	per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(b.N) }
	b.ReportMetric(launch.Seconds(), "launch_s")
	b.ReportMetric(per(base), "count_baseline_ms")
	b.ReportMetric(per(counts), "counts_ms")
	b.ReportMetric(per(counts)/max(per(base), 0.01), "counts_vs_baseline")
	b.ReportMetric(per(page), "page_ms")
	b.ReportMetric(per(failed), "failed_page_ms")
	b.ReportMetric(per(walk), "results_walk_ms")
}
