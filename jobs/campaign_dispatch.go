package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// TypeDispatchCampaign sends a number's next campaign message, at the pace
// kept per number across its tenant's campaigns, then asks for the next
// dispatch at the time the pace allows. One task per number is waiting at a
// time, so a 100,000-recipient campaign holds a few tasks in Redis, not
// 100,000.
const TypeDispatchCampaign = "campaign:dispatch"

// DispatchCampaignPayload names the number.
type DispatchCampaignPayload struct {
	TenantID   int64 `json:"tenant_id"`
	InstanceID int64 `json:"instance_id"`
}

// NewDispatchCampaignTask returns the number's dispatch due at at: one task
// per number and time, so the sweeper and the chain of dispatches asking
// for the same one make one task.
func NewDispatchCampaignTask(p DispatchCampaignPayload, at time.Time) (*asynq.Task, error) {
	id := "dispatch:" + strconv.FormatInt(p.InstanceID, 10) + ":" + strconv.FormatInt(at.UnixMilli(), 10)
	return newTask(TypeDispatchCampaign, p, asynq.TaskID(id), asynq.Queue(QueueDefault), asynq.MaxRetry(3),
		asynq.Timeout(2*time.Minute), asynq.ProcessAt(at))
}

// dispatched is what one dispatch did.
type dispatched struct {
	// sent is the message handed to the outbox, nil for none.
	sent *db.Message
	// campaignID is the campaign of the recipient looked at, if any.
	campaignID int64
	// next is when the number may send again; zero: nothing left to send.
	next time.Time
	// skipped: a recipient was left out (opted out); look again at once.
	skipped bool
}

func (w *Worker) dispatchCampaign(ctx context.Context, t *asynq.Task) error {
	var p DispatchCampaignPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ts := w.store.Tenant(p.TenantID)
	if ok, err := w.tenantMay(ctx, ts, db.ActCampaign); !ok {
		return err // the sweeper asks again once the tenant is reinstated
	}
	inst, err := connectedNumber(ctx, ts, p.InstanceID)
	if inst == nil {
		return err // the sweeper asks again once the number is connected (and not paused)
	}
	loc, err := w.tenantLocation(ctx, ts)
	if err != nil {
		return err
	}
	// Opted-out recipients are skipped without waiting, and a next send due
	// within a second is waited for here: a scheduled task is picked up up
	// to a second late, which would slow a fast pace down.
	for range 20 {
		var d dispatched
		err = ts.RunInTx(ctx, func(ctx context.Context, tx *db.TenantStore) error {
			var err error
			d, err = w.dispatchOne(ctx, tx, inst, loc, time.Now())
			return err
		})
		if errors.Is(err, db.ErrInsufficientCredits) {
			return w.pauseForCredits(ctx, ts, d.campaignID)
		}
		if err != nil {
			return err
		}
		if err := w.afterDispatch(ctx, ts, d); err != nil || d.next.IsZero() {
			return err
		}
		wait := time.Until(d.next)
		if wait > waitInTask {
			t, err := NewDispatchCampaignTask(p, d.next)
			return w.enqueue(ctx, t, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	t2, err := NewDispatchCampaignTask(p, time.Now())
	return w.enqueue(ctx, t2, err)
}

// tenantMay reports whether the tenant may do a now (see db.Tenant.May);
// false with no error for a tenant that is gone.
func (w *Worker) tenantMay(ctx context.Context, ts *db.TenantStore, a db.Activity) (bool, error) {
	t, err := ts.Tenant(ctx)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !t.May(a) {
		w.log.DebugContext(ctx, "the tenant is suspended", "tenant_id", ts.TenantID(), "activity", string(a))
	}
	return t.May(a), nil
}

// connectedNumber returns the number if it is connected and not paused
// (beyond the plan's limit); nil (and no error) if it is not, or was
// deleted.
func connectedNumber(ctx context.Context, ts *db.TenantStore, id int64) (*db.Instance, error) {
	inst, err := ts.Instance(ctx, id)
	if errors.Is(err, db.ErrNotFound) || (err == nil && (inst.Status != db.InstanceConnected || inst.PausedAt != nil)) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return inst, nil
}

// afterDispatch makes the first attempt at the message handed to the
// outbox and tells the pages; with nothing left to send, it marks the
// number's finished campaigns done.
func (w *Worker) afterDispatch(ctx context.Context, ts *db.TenantStore, d dispatched) error {
	if d.sent != nil {
		w.publish(ctx, ts.TenantID(), live.CreditsUpdated, nil)
		w.publish(ctx, ts.TenantID(), live.CampaignUpdated, map[string]int64{"campaign_id": d.campaignID})
		res, err := w.outbox.Send(ctx, ts, d.sent.ID, d.sent.Attempt)
		if err != nil {
			w.log.WarnContext(ctx, "first send of a campaign message; the sweeper will retry", "message_id", d.sent.ID, "err", err)
		}
		if m := res.Message; m != nil {
			// Its status, and its echo folded into it (res.MergedID).
			w.publish(ctx, ts.TenantID(), live.MessageUpdated, map[string]int64{"contact_id": m.ContactID, "message_id": m.ID})
		}
	}
	if !d.next.IsZero() {
		return nil
	}
	done, err := ts.FinishCampaigns(ctx)
	for _, id := range done {
		w.publish(ctx, ts.TenantID(), live.CampaignUpdated, map[string]int64{"campaign_id": id})
	}
	return err
}

// waitInTask is the longest a dispatch waits for the number's next send
// itself instead of asking for a task at that time.
const waitInTask = 1500 * time.Millisecond

// dispatchOne, in a transaction, sends the number's next recipient if the
// pace allows: it locks the number's pace, takes the recipient, makes sure
// the contact still wants messages, hands the message to the outbox
// (charged there) and records the send and the pace.
func (w *Worker) dispatchOne(ctx context.Context, tx *db.TenantStore, inst *db.Instance, loc *time.Location, now time.Time) (dispatched, error) {
	pace, err := tx.LockNumberPace(ctx, inst.ID)
	if err != nil {
		return dispatched{}, err
	}
	// The number may have disconnected since the task began: it stops
	// here, and the sweeper asks for it again once it is connected.
	if inst, err = connectedNumber(ctx, tx, inst.ID); inst == nil {
		return dispatched{}, err
	}
	if pace.NextAt.After(now) {
		return dispatched{next: pace.NextAt}, nil
	}
	r, c, err := tx.NextRecipient(ctx, inst.ID)
	if errors.Is(err, db.ErrNotFound) {
		return dispatched{}, nil
	}
	if err != nil {
		return dispatched{}, err
	}
	d := dispatched{campaignID: c.ID}
	plan := campaignPlan(c, inst, now)
	if q, ok := plan.quiet(); ok {
		if at := campaign.NextAllowed(now, q, loc); at.After(now) {
			pace.NextAt = at
			d.next = at
			return d, tx.SaveNumberPace(ctx, pace)
		}
	}
	contact, _, err := tx.UpsertContact(ctx, db.ContactIdentity{Phone: r.Phone, Name: r.Name})
	if err != nil {
		return d, err
	}
	if contact.OptedOutAt != nil {
		d.skipped, d.next = true, now
		return d, tx.SkipRecipient(ctx, r.ID, &contact.ID, "Opted out")
	}
	out, err := campaignMessage(c, r, inst.ID, contact.ID)
	if err != nil {
		d.skipped, d.next = true, now
		return d, tx.SkipRecipient(ctx, r.ID, &contact.ID, err.Error())
	}
	m, err := w.outbox.Queue(ctx, tx, out)
	if err != nil {
		return d, err
	}
	if err := tx.MarkRecipientQueued(ctx, r, contact.ID, inst.ID, m.ID); err != nil {
		return d, err
	}
	d.sent, d.next = m, w.recordPace(pace, plan.pace, sendSlot(pace.NextAt, now), now, loc)
	return d, tx.SaveNumberPace(ctx, pace)
}

// recordPace counts a send made at now, in the slot the pace gave it, in
// the number's pace, and sets when the next may go.
func (w *Worker) recordPace(np *db.NumberPace, p campaign.Pace, slot, now time.Time, loc *time.Location) time.Time {
	st := campaign.NumberState{SentToday: np.SentToday, SentSincePause: np.SentSincePause}
	if np.LastSentAt != nil {
		st.LastSentAt = *np.LastSentAt
	}
	if np.Day != nil {
		st.Day = campaign.DayStart(*np.Day, loc)
	}
	st = st.Record(p, slot, loc)
	next := p.CatchUp(campaign.NextSendAt(p, st, slot, rand.Float64()), now)
	day, last := st.Day, st.LastSentAt
	np.Day, np.SentToday, np.SentSincePause, np.LastSentAt, np.NextAt = &day, st.SentToday, st.SentSincePause, &last, next
	return next
}

// sendSlot is the time a send counts at for the pace: the slot the pace
// gave when the dispatch ran shortly after it (a task is picked up up to a
// second late), so that these delays do not add up and slow the pace down.
func sendSlot(slot, now time.Time) time.Time {
	if late := now.Sub(slot); late >= 0 && late < 2*time.Second {
		return slot
	}
	return now
}

// pauseForCredits pauses a campaign its tenant can no longer pay for.
func (w *Worker) pauseForCredits(ctx context.Context, ts *db.TenantStore, campaignID int64) error {
	if campaignID == 0 {
		return nil
	}
	paused, err := ts.PauseCampaign(ctx, campaignID, "Out of credits: top up, then resume the campaign.")
	if paused {
		w.log.InfoContext(ctx, "campaign paused: out of credits", "tenant_id", ts.TenantID(), "campaign_id", campaignID)
		w.publish(ctx, ts.TenantID(), live.CampaignUpdated, map[string]int64{"campaign_id": campaignID})
	}
	return err
}

// sendPlan is a campaign's sending settings as the pace rules need them.
type sendPlan struct {
	pace       campaign.Pace
	start, end *int
}

func (p sendPlan) quiet() (campaign.QuietHours, bool) {
	if p.start == nil || p.end == nil || *p.start == *p.end {
		return campaign.QuietHours{}, false
	}
	return campaign.QuietHours{Start: *p.start, End: *p.end}, true
}

// campaignPlan reads a campaign's pace (the default when unset or
// unreadable), slowed down for a number connected in the last days.
func campaignPlan(c *db.Campaign, inst *db.Instance, now time.Time) sendPlan {
	p := campaign.DefaultPace()
	if len(c.Pace) > 0 && string(c.Pace) != "{}" {
		var set campaign.Pace
		if json.Unmarshal(c.Pace, &set) == nil && set.Validate() == nil {
			p = set
		}
	}
	return sendPlan{pace: campaign.Ramp(p, inst.StatusChangedAt, now), start: c.QuietStart, end: c.QuietEnd}
}

// campaignMessage is the outbox message of a campaign for one recipient:
// its text (a variant picked for the recipient, the row's values filled
// in), captioning the campaign's image when it has one, or its poll,
// charged at the campaign's price. Its key is the recipient's and its
// attempt's (Retries).
func campaignMessage(c *db.Campaign, r *db.Recipient, instanceID, contactID int64) (whatsapp.Outgoing, error) {
	key := "campaign:" + strconv.FormatInt(r.ID, 10)
	if r.Retries > 0 {
		// A retry is a message of its own, charged once; a redelivered
		// dispatch of the same attempt finds the message it queued.
		key += ":" + strconv.Itoa(r.Retries)
	}
	out := whatsapp.Outgoing{
		Key: key, InstanceID: instanceID, ContactID: contactID,
		Sender: db.SenderCampaign, Cost: c.Price, Reason: "Campaign: " + c.Name, SendNow: true,
	}
	if c.Kind == db.CampaignPoll && c.Poll != nil {
		out.Body, out.Poll = c.Poll.Question, &db.MessagePoll{Options: c.Poll.Options, Multiple: c.Poll.Multiple}
		return out, nil
	}
	texts := append([]string{c.Body}, c.Variants...)
	tpl, err := campaign.ParseTemplate(texts[campaign.PickVariant(r.Phone, len(texts))])
	if err != nil {
		return out, err
	}
	body, err := tpl.RenderRow(r.RowNumber, r.Vars)
	if err != nil {
		return out, err
	}
	out.Body, out.MediaID = body, c.MediaID
	return out, nil
}
