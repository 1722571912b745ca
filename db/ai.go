package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// AI modes of a chat.
const (
	ModeAI    = "ai"    // the AI answers
	ModeHuman = "human" // a person took over, until HumanUntil
	ModeOff   = "off"   // the AI never answers this chat
)

// DayHours is one day's opening time as minutes after midnight; Open < Close.
type DayHours struct {
	Open  int `json:"open"`
	Close int `json:"close"`
}

// AISettings is how a tenant's AI answers. It belongs to the tenant; a
// tenant without a row gets DefaultAISettings.
type AISettings struct {
	bun.BaseModel `bun:"table:ai_settings,alias:ais"`

	TenantID     int64   `bun:"tenant_id,pk"`
	Enabled      bool    `bun:"enabled,notnull"`
	Persona      string  `bun:"persona,notnull"`
	Instructions string  `bun:"instructions,notnull"`
	Model        string  `bun:"model,notnull"`
	Temperature  float32 `bun:"temperature,notnull"`
	HoursEnabled bool    `bun:"hours_enabled,notnull"`
	// Hours holds seven entries, Monday first; nil is closed all day.
	Hours             []*DayHours `bun:"hours,type:jsonb,notnull"`
	AfterHoursReply   string      `bun:"after_hours_reply,notnull"`
	HandoffKeywords   []string    `bun:"handoff_keywords,array,notnull"`
	BurstWaitMS       int         `bun:"burst_wait_ms,notnull"`
	HourlyLimit       int         `bun:"hourly_limit,notnull"`
	AnswerGroups      bool        `bun:"answer_groups,notnull"`
	HumanQuietMinutes int         `bun:"human_quiet_minutes,notnull"`
	OptOutReply       string      `bun:"opt_out_reply,notnull"`
	OptInReply        string      `bun:"opt_in_reply,notnull"`
	// HandoffReply tells the customer a person will answer, when a chat goes
	// to a person because of what the customer wrote or sent.
	HandoffReply string    `bun:"handoff_reply,notnull"`
	UpdatedAt    time.Time `bun:"updated_at,notnull,default:current_timestamp"`
}

// DefaultAISettings are what a new tenant starts with: useful answers at
// once, a short burst wait, a loop guard and a two-hour handoff.
func DefaultAISettings(tenantID int64, businessName string) *AISettings {
	nineToSix := &DayHours{Open: 9 * 60, Close: 18 * 60}
	return &AISettings{
		TenantID: tenantID,
		Enabled:  true,
		Persona: "You are the friendly WhatsApp assistant of " + businessName +
			". You answer customers' questions briefly and warmly, in the customer's language.",
		Instructions: "Answer only from the business knowledge below. If you do not know, say you will check with the team. " +
			"Never make up prices, stock or opening hours. Keep answers short, like a WhatsApp message.",
		Temperature:       0.4,
		Hours:             []*DayHours{nineToSix, nineToSix, nineToSix, nineToSix, nineToSix, nil, nil},
		AfterHoursReply:   "Thanks for your message! We are closed right now and will answer as soon as we open.",
		HandoffKeywords:   []string{"human", "agent", "person", "manager", "humano", "atendente"},
		BurstWaitMS:       4000,
		HourlyLimit:       12,
		HumanQuietMinutes: 120,
		OptOutReply:       "You will not receive more messages from us. Reply START to subscribe again.",
		OptInReply:        "Welcome back! You will receive our messages again.",
		HandoffReply:      "Thanks! A person from our team will answer you here shortly.",
	}
}

// AISettings returns the tenant's settings, or the defaults when none are
// saved.
func (ts *TenantStore) AISettings(ctx context.Context) (*AISettings, error) {
	s := new(AISettings)
	err := ts.db.NewSelect().Model(s).Where("ais.tenant_id = ?", ts.tenantID).Scan(ctx)
	if errors.Is(mapErr(err), ErrNotFound) {
		t, err := ts.Tenant(ctx)
		if err != nil {
			return nil, err
		}
		return DefaultAISettings(ts.tenantID, t.Name), nil
	}
	if err != nil {
		return nil, fmt.Errorf("ai settings: %w", err)
	}
	return s, nil
}

// SaveAISettings stores the tenant's settings.
func (ts *TenantStore) SaveAISettings(ctx context.Context, s *AISettings) error {
	s.TenantID = ts.tenantID
	if s.HandoffKeywords == nil {
		s.HandoffKeywords = []string{}
	}
	_, err := ts.db.NewInsert().Model(s).On("CONFLICT (tenant_id) DO UPDATE").
		Set("enabled = EXCLUDED.enabled, persona = EXCLUDED.persona, instructions = EXCLUDED.instructions").
		Set("model = EXCLUDED.model, temperature = EXCLUDED.temperature, hours_enabled = EXCLUDED.hours_enabled").
		Set("hours = EXCLUDED.hours, after_hours_reply = EXCLUDED.after_hours_reply, handoff_keywords = EXCLUDED.handoff_keywords").
		Set("burst_wait_ms = EXCLUDED.burst_wait_ms, hourly_limit = EXCLUDED.hourly_limit, answer_groups = EXCLUDED.answer_groups").
		Set("human_quiet_minutes = EXCLUDED.human_quiet_minutes, opt_out_reply = EXCLUDED.opt_out_reply").
		Set("opt_in_reply = EXCLUDED.opt_in_reply, handoff_reply = EXCLUDED.handoff_reply, updated_at = now()").Exec(ctx)
	if err != nil {
		return fmt.Errorf("save ai settings: %w", mapErr(err))
	}
	return nil
}

// KnowledgeEntry is a titled text the AI may rely on. It belongs to its tenant.
type KnowledgeEntry struct {
	bun.BaseModel `bun:"table:knowledge_entries,alias:k"`

	ID        int64     `bun:"id,pk,autoincrement"`
	TenantID  int64     `bun:"tenant_id,notnull"`
	Title     string    `bun:"title,notnull"`
	Body      string    `bun:"body,notnull"`
	Position  int       `bun:"position,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt time.Time `bun:"updated_at,notnull,default:current_timestamp"`
}

// Knowledge lists the tenant's entries in order.
func (ts *TenantStore) Knowledge(ctx context.Context) ([]KnowledgeEntry, error) {
	var ks []KnowledgeEntry
	if err := ts.db.NewSelect().Model(&ks).ApplyQueryBuilder(ts.scope).Order("k.position", "k.id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("knowledge: %w", err)
	}
	return ks, nil
}

// KnowledgeEntry returns one entry.
func (ts *TenantStore) KnowledgeEntry(ctx context.Context, id int64) (*KnowledgeEntry, error) {
	k := new(KnowledgeEntry)
	if err := ts.db.NewSelect().Model(k).ApplyQueryBuilder(ts.scope).Where("k.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("knowledge entry %d: %w", id, mapErr(err))
	}
	return k, nil
}

// SaveKnowledgeEntry creates the entry (ID 0) or updates it, within the
// knowledge caps: a *KnowledgeLimitError says which one it would break.
// The check and the write are one transaction with the tenant's knowledge
// locked, so concurrent writes cannot together pass a cap.
func (ts *TenantStore) SaveKnowledgeEntry(ctx context.Context, k *KnowledgeEntry) error {
	k.TenantID = ts.tenantID
	if err := checkEntrySize(k); err != nil {
		return err
	}
	return ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		if err := tx.lockKnowledge(ctx); err != nil {
			return err
		}
		if err := tx.checkKnowledgeRoom(ctx, k); err != nil {
			return err
		}
		return tx.writeKnowledgeEntry(ctx, k)
	})
}

func (ts *TenantStore) writeKnowledgeEntry(ctx context.Context, k *KnowledgeEntry) error {
	if k.ID == 0 {
		_, err := ts.db.NewInsert().Model(k).
			Value("position", "(SELECT coalesce(max(position), 0) + 1 FROM knowledge_entries WHERE tenant_id = ?)", ts.tenantID).
			Returning("*").Exec(ctx)
		if err != nil {
			return fmt.Errorf("create knowledge entry: %w", mapErr(err))
		}
		return nil
	}
	res, err := ts.db.NewUpdate().Model((*KnowledgeEntry)(nil)).ApplyQueryBuilder(ts.scope).
		Set("title = ?", k.Title).Set("body = ?", k.Body).Set("updated_at = now()").Where("k.id = ?", k.ID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("update knowledge entry: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update knowledge entry %d: %w", k.ID, ErrNotFound)
	}
	return nil
}

// DeleteKnowledgeEntry removes an entry.
func (ts *TenantStore) DeleteKnowledgeEntry(ctx context.Context, id int64) error {
	res, err := ts.db.NewDelete().Model((*KnowledgeEntry)(nil)).ApplyQueryBuilder(ts.scope).Where("k.id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete knowledge entry: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete knowledge entry %d: %w", id, ErrNotFound)
	}
	return nil
}

// SetChatMode switches who answers a chat. For ModeHuman, until is when the
// AI may take over again and reason says why it was handed over.
func (ts *TenantStore) SetChatMode(ctx context.Context, contactID int64, mode string, until *time.Time, reason string) (*Contact, error) {
	c := new(Contact)
	q := ts.db.NewUpdate().Model(c).ApplyQueryBuilder(ts.scope).
		Set("ai_mode = ?", mode).Set("human_until = ?", until).Set("updated_at = now()").Where("c.id = ?", contactID)
	if mode == ModeHuman {
		q = q.Set("handoff_reason = ?", reason).Set("handoff_at = now()")
	} else {
		q = q.Set("handoff_reason = ''").Set("handoff_at = NULL")
	}
	res, err := q.Returning("*").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("set chat mode: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("set chat mode of contact %d: %w", contactID, ErrNotFound)
	}
	return c, nil
}

// ExtendHumanMode pushes the end of a person's takeover to until, e.g. when
// the person writes again; chats not in human mode are put in it.
func (ts *TenantStore) ExtendHumanMode(ctx context.Context, contactID int64, until time.Time, reason string) (*Contact, bool, error) {
	c, err := ts.Contact(ctx, contactID)
	if err != nil {
		return nil, false, err
	}
	if c.AIMode == ModeOff {
		return c, false, nil
	}
	wasHuman := c.AIMode == ModeHuman
	if wasHuman {
		_, err = ts.db.NewUpdate().Model((*Contact)(nil)).ApplyQueryBuilder(ts.scope).
			Set("human_until = GREATEST(c.human_until, ?)", until).Where("c.id = ?", contactID).Exec(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("extend human mode: %w", err)
		}
		c, err = ts.Contact(ctx, contactID)
		return c, false, err
	}
	c, err = ts.SetChatMode(ctx, contactID, ModeHuman, &until, reason)
	return c, err == nil, err
}

// ReturnExpiredHandoffsAllTenants gives chats whose takeover ended back to
// the AI and returns them.
func (s *Store) ReturnExpiredHandoffsAllTenants(ctx context.Context, now time.Time) ([]Contact, error) {
	var cs []Contact
	_, err := s.db.NewUpdate().Model(&cs).
		Set("ai_mode = 'ai'").Set("human_until = NULL").Set("handoff_reason = ''").Set("handoff_at = NULL").Set("updated_at = now()").
		Where("c.ai_mode = 'human' AND c.human_until IS NOT NULL AND c.human_until <= ?", now).
		Returning("*").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("return expired handoffs: %w", err)
	}
	return cs, nil
}

// SetOptOut marks the contact opted out (true) or subscribed again, and
// reports whether that changed anything.
func (ts *TenantStore) SetOptOut(ctx context.Context, contactID int64, out bool) (bool, error) {
	q := ts.db.NewUpdate().Model((*Contact)(nil)).ApplyQueryBuilder(ts.scope).Set("updated_at = now()").Where("c.id = ?", contactID)
	if out {
		q = q.Set("opted_out_at = now()").Where("c.opted_out_at IS NULL")
	} else {
		q = q.Set("opted_out_at = NULL").Where("c.opted_out_at IS NOT NULL")
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("set opt-out: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// MarkAfterHoursReplied records that the contact got the after-hours reply,
// once per closed period: it returns false when one was sent since since.
func (ts *TenantStore) MarkAfterHoursReplied(ctx context.Context, contactID int64, since time.Time) (bool, error) {
	res, err := ts.db.NewUpdate().Model((*Contact)(nil)).ApplyQueryBuilder(ts.scope).
		Set("after_hours_replied_at = now()").Where("c.id = ?", contactID).
		Where("c.after_hours_replied_at IS NULL OR c.after_hours_replied_at < ?", since).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("mark after-hours reply: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// AIRepliesSince counts the AI's messages to a contact since t (the loop guard).
func (ts *TenantStore) AIRepliesSince(ctx context.Context, contactID int64, t time.Time) (int, error) {
	n, err := ts.db.NewSelect().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
		Where("m.contact_id = ? AND m.sender = 'ai' AND m.created_at >= ?", contactID, t).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count ai replies: %w", err)
	}
	return int(n), nil
}

// LatestIncoming returns the contact's newest incoming message.
func (ts *TenantStore) LatestIncoming(ctx context.Context, contactID int64) (*Message, error) {
	m := new(Message)
	err := ts.db.NewSelect().Model(m).ApplyQueryBuilder(ts.scope).Where("m.contact_id = ? AND m.direction = 'in'", contactID).
		Order("m.id DESC").Limit(1).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("latest incoming message: %w", mapErr(err))
	}
	return m, nil
}

// AI reply statuses.
const (
	ReplyReserved  = "reserved"  // credits reserved, nothing generated yet
	ReplyGenerated = "generated" // the model answered; the text is stored
	ReplySending   = "sending"   // a message id is reserved and the send may have happened
	ReplySent      = "sent"
	ReplyFailed    = "failed"
	ReplyRefunded  = "refunded"
)

// AIReply is one AI answer in progress or done, keyed by the message that
// triggered it. It belongs to its tenant.
type AIReply struct {
	bun.BaseModel `bun:"table:ai_replies,alias:ar"`

	ID               int64     `bun:"id,pk,autoincrement"`
	TenantID         int64     `bun:"tenant_id,notnull"`
	ContactID        int64     `bun:"contact_id,notnull"`
	TriggerMessageID int64     `bun:"trigger_message_id,notnull"`
	InstanceID       *int64    `bun:"instance_id"`
	Status           string    `bun:"status,notnull"`
	ChargeRef        string    `bun:"charge_ref,notnull"`
	ReplyText        string    `bun:"reply_text,notnull"`
	Handoff          bool      `bun:"handoff,notnull"`
	WaID             string    `bun:"wa_id,notnull"`
	OutMessageID     *int64    `bun:"out_message_id"`
	Error            string    `bun:"error,notnull"`
	CreatedAt        time.Time `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt        time.Time `bun:"updated_at,notnull,default:current_timestamp"`
}

// ReplyFor returns the reply of a trigger message, ErrNotFound when none.
func (ts *TenantStore) ReplyFor(ctx context.Context, triggerMessageID int64) (*AIReply, error) {
	r := new(AIReply)
	err := ts.db.NewSelect().Model(r).ApplyQueryBuilder(ts.scope).Where("ar.trigger_message_id = ?", triggerMessageID).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("ai reply for message %d: %w", triggerMessageID, mapErr(err))
	}
	return r, nil
}

// StartReply reserves the credits of an AI reply and records it, in one
// transaction: either both happen or neither. It returns the existing reply
// when the trigger already has one, and ErrInsufficientCredits when the
// balance cannot cover cost.
func (ts *TenantStore) StartReply(ctx context.Context, r *AIReply, cost int64, reason string) (*AIReply, error) {
	r.TenantID = ts.tenantID
	r.Status = ReplyReserved
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		// Checked before the tenant's lock, which every reservation waits
		// for; a concurrent start is caught by the unique key below.
		if existing, err := tx.ReplyFor(ctx, r.TriggerMessageID); err == nil {
			*r = *existing
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		balance, err := tx.lockTenant(ctx)
		if err != nil {
			return err
		}
		if cost > 0 {
			if _, err := tx.writeEntry(ctx, balance, LedgerCharge, -cost, reason, r.ChargeRef); err != nil {
				return err
			}
		}
		res, err := tx.db.NewInsert().Model(r).On("CONFLICT (tenant_id, trigger_message_id) DO NOTHING").Returning("*").Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			existing, err := tx.ReplyFor(ctx, r.TriggerMessageID)
			if err != nil {
				return err
			}
			*r = *existing
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("start ai reply: %w", err)
	}
	return r, nil
}

// UpdateReply saves a reply's progress.
func (ts *TenantStore) UpdateReply(ctx context.Context, r *AIReply) error {
	_, err := ts.db.NewUpdate().Model(r).ApplyQueryBuilder(ts.scope).
		Column("status", "reply_text", "handoff", "wa_id", "out_message_id", "error", "instance_id").
		Set("updated_at = now()").Where("ar.id = ?", r.ID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("update ai reply %d: %w", r.ID, err)
	}
	return nil
}

// HandReplyToOutbox records that the reply's answer is queued as message m
// (generated → sending), which ends the AI work on its trigger message. The message is locked first, as everything
// that settles a message does, so a message that was settled meanwhile (it
// can be sent before this runs) settles the reply here, and one settled
// later finds the reply sending and settles it then.
func (ts *TenantStore) HandReplyToOutbox(ctx context.Context, r *AIReply, m *Message) error {
	// One statement: the CTE locks the message (waiting for a settlement in
	// progress, then reading its outcome) before the reply is written.
	// The AI work on the trigger message ends with it.
	err := ts.db.NewRaw(`
		WITH msg AS (SELECT status FROM messages WHERE tenant_id = ? AND id = ? FOR UPDATE),
		trigger AS (UPDATE messages SET due_at = NULL WHERE tenant_id = ? AND id = ? AND due_at IS NOT NULL)
		UPDATE ai_replies AS ar SET out_message_id = ?, wa_id = ?, updated_at = now(),
			status = CASE WHEN msg.status IN ('sent', 'delivered', 'read', 'played') THEN 'sent'
			              WHEN msg.status = 'failed' THEN 'refunded' ELSE 'sending' END
		FROM msg WHERE ar.tenant_id = ? AND ar.id = ?
		RETURNING ar.status`, ts.tenantID, m.ID, ts.tenantID, r.TriggerMessageID, m.ID, m.WaID, ts.tenantID, r.ID).Scan(ctx, &r.Status)
	if err != nil {
		return fmt.Errorf("hand reply %d to the outbox: %w", r.ID, mapErr(err))
	}
	r.OutMessageID, r.WaID = &m.ID, m.WaID
	return nil
}

// FailReply marks the reply failed and refunds its reservation in one
// transaction. Refunding twice refunds once.
func (ts *TenantStore) FailReply(ctx context.Context, r *AIReply, why string, refund bool) error {
	return ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		r.Status, r.Error = ReplyFailed, why
		if refund {
			if _, err := tx.Refund(ctx, r.ChargeRef, "Refund: "+why); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			r.Status = ReplyRefunded
		}
		return tx.UpdateReply(ctx, r)
	})
}

// AIRun is one model call, for cost tracking. It belongs to its tenant.
type AIRun struct {
	bun.BaseModel `bun:"table:ai_runs,alias:run"`

	ID          int64  `bun:"id,pk,autoincrement"`
	TenantID    int64  `bun:"tenant_id,notnull"`
	ContactID   *int64 `bun:"contact_id"`
	ReplyID     *int64 `bun:"reply_id"`
	Model       string `bun:"model,notnull"`
	InputTokens int    `bun:"input_tokens,notnull"`
	// AudioInputTokens are the input tokens of audio (part of
	// InputTokens), priced apart.
	AudioInputTokens int       `bun:"audio_input_tokens,notnull"`
	OutputTokens     int       `bun:"output_tokens,notnull"`
	LatencyMS        int       `bun:"latency_ms,notnull"`
	Outcome          string    `bun:"outcome,notnull"`
	Error            string    `bun:"error,notnull"`
	CreatedAt        time.Time `bun:"created_at,notnull,default:current_timestamp"`
}

// RecordAIRun stores a model call.
func (ts *TenantStore) RecordAIRun(ctx context.Context, r *AIRun) error {
	r.TenantID = ts.tenantID
	if _, err := ts.db.NewInsert().Model(r).Exec(ctx); err != nil {
		return fmt.Errorf("record ai run: %w", err)
	}
	return nil
}

// AIRuns lists the tenant's latest model calls.
func (ts *TenantStore) AIRuns(ctx context.Context, limit int) ([]AIRun, error) {
	var rs []AIRun
	if err := ts.db.NewSelect().Model(&rs).ApplyQueryBuilder(ts.scope).Order("run.id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("ai runs: %w", err)
	}
	return rs, nil
}

// AIUsage is one tenant's model use over a period, for the owner's cost view.
type AIUsage struct {
	TenantID         int64   `bun:"tenant_id"`
	TenantName       string  `bun:"tenant_name"`
	Calls            int     `bun:"calls"`
	Errors           int     `bun:"errors"`
	Handoffs         int     `bun:"handoffs"`
	InputTokens      int64   `bun:"input_tokens"`
	AudioInputTokens int64   `bun:"audio_input_tokens"`
	OutputTokens     int64   `bun:"output_tokens"`
	AvgLatencyMS     float64 `bun:"avg_latency_ms"`
	P95LatencyMS     float64 `bun:"p95_latency_ms"`
}

// AIUsageAllTenants sums every tenant's model calls since t, the heaviest
// users first.
func (s *Store) AIUsageAllTenants(ctx context.Context, since time.Time) ([]AIUsage, error) {
	var out []AIUsage
	err := s.db.NewRaw(`
		SELECT r.tenant_id, t.name AS tenant_name, count(*) AS calls,
		       count(*) FILTER (WHERE r.outcome = 'error') AS errors,
		       count(*) FILTER (WHERE r.outcome = 'handoff') AS handoffs,
		       coalesce(sum(r.input_tokens), 0) AS input_tokens, coalesce(sum(r.audio_input_tokens), 0) AS audio_input_tokens,
		       coalesce(sum(r.output_tokens), 0) AS output_tokens,
		       coalesce(avg(r.latency_ms), 0) AS avg_latency_ms,
		       coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY r.latency_ms), 0) AS p95_latency_ms
		FROM ai_runs r JOIN tenants t ON t.id = r.tenant_id
		WHERE r.created_at >= ?
		GROUP BY r.tenant_id, t.name
		ORDER BY coalesce(sum(r.input_tokens + r.output_tokens), 0) DESC, r.tenant_id`, since).Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("ai usage: %w", err)
	}
	return out, nil
}

// AIRunsAllTenants lists the latest model calls of every tenant.
func (s *Store) AIRunsAllTenants(ctx context.Context, limit int) ([]AIRun, error) {
	var rs []AIRun
	if err := s.db.NewSelect().Model(&rs).Order("run.id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("ai runs of all tenants: %w", err)
	}
	return rs, nil
}

// AIDay is the model tokens of one day, every tenant together.
type AIDay struct {
	Day              time.Time `bun:"day"`
	InputTokens      int64     `bun:"input_tokens"`
	AudioInputTokens int64     `bun:"audio_input_tokens"`
	OutputTokens     int64     `bun:"output_tokens"`
}

// AITokensByDayAllTenants sums every tenant's model tokens per day (in
// loc) from since's day to until's, one row per day, days without a call
// included.
func (s *Store) AITokensByDayAllTenants(ctx context.Context, since, until time.Time, loc *time.Location) ([]AIDay, error) {
	var rows []AIDay
	err := s.db.NewSelect().Model((*AIRun)(nil)).
		ColumnExpr("date_trunc('day', run.created_at AT TIME ZONE ?) AS day", loc.String()).
		ColumnExpr("coalesce(sum(run.input_tokens), 0) AS input_tokens").
		ColumnExpr("coalesce(sum(run.audio_input_tokens), 0) AS audio_input_tokens").
		ColumnExpr("coalesce(sum(run.output_tokens), 0) AS output_tokens").
		Where("run.created_at >= ?", startOfDay(since, loc)).
		Where("run.created_at < ?", startOfDay(until, loc).AddDate(0, 0, 1)).
		GroupExpr("day").OrderExpr("day").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("ai tokens by day: %w", err)
	}
	byDay := make(map[string]AIDay, len(rows))
	for _, r := range rows {
		byDay[r.Day.Format(time.DateOnly)] = r
	}
	var out []AIDay
	for d := startOfDay(since, loc); !d.After(startOfDay(until, loc)); d = d.AddDate(0, 0, 1) {
		r := byDay[d.Format(time.DateOnly)]
		r.Day = d
		out = append(out, r)
	}
	return out, nil
}
