package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/uptrace/bun"
	"golang.org/x/text/unicode/norm"
)

// Knowledge gap statuses.
const (
	GapOpen      = "open"
	GapAnswered  = "answered"
	GapDismissed = "dismissed"
)

// KnowledgeGap is a question customers asked that the AI could not answer
// from the business knowledge; similar questions are one gap, counted.
type KnowledgeGap struct {
	bun.BaseModel `bun:"table:knowledge_gaps,alias:kg"`

	ID            int64      `bun:"id,pk,autoincrement"`
	TenantID      int64      `bun:"tenant_id,notnull"`
	Question      string     `bun:"question,notnull"`
	Words         []string   `bun:"words,array,notnull"`
	TimesAsked    int        `bun:"times_asked,notnull"`
	FirstAsked    time.Time  `bun:"first_asked,notnull"`
	LastAsked     time.Time  `bun:"last_asked,notnull"`
	LastContactID *int64     `bun:"last_contact_id"`
	Status        string     `bun:"status,notnull"`
	EntryID       *int64     `bun:"entry_id"`
	ResolvedAt    *time.Time `bun:"resolved_at"`
}

// MaxGapQuestion bounds a recorded question, in characters.
const MaxGapQuestion = 300

// SameGap is how alike two questions' words must be (Jaccard index) to be
// one gap.
const SameGap = 0.5

// gapStopWords are words that say nothing about what was asked, in the
// languages the product serves most.
var gapStopWords = map[string]bool{
	"the": true, "and": true, "you": true, "your": true, "are": true, "have": true, "has": true, "can": true, "for": true,
	"what": true, "how": true, "does": true, "with": true, "this": true, "that": true, "there": true, "any": true, "was": true,
	"que": true, "los": true, "las": true, "una": true, "por": true, "para": true, "con": true, "del": true, "como": true,
	"vocês": true, "voces": true, "vos": true, "tem": true, "tiene": true, "tienen": true, "uma": true, "dos": true, "das": true,
	"les": true, "des": true, "est": true, "une": true, "pour": true, "vous": true, "avez": true,
}

// GapWords are the words of a question that say what it is about:
// lowercased, accents removed, at least three letters, no stop words,
// sorted and once each.
func GapWords(question string) []string {
	folded := norm.NFD.String(strings.ToLower(question))
	var b strings.Builder
	for _, r := range folded {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteRune(' ')
		}
	}
	var out []string
	for _, w := range strings.Fields(b.String()) {
		if len([]rune(w)) >= 3 && !gapStopWords[w] && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

// Similarity is the Jaccard index of two sorted word sets.
func Similarity(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	common := 0
	for _, w := range a {
		if _, ok := slices.BinarySearch(b, w); ok {
			common++
		}
	}
	return float64(common) / float64(len(a)+len(b)-common)
}

// ClosestGap is the index of the open gap most like words, at least SameGap
// alike, or -1.
func ClosestGap(words []string, gaps []KnowledgeGap) int {
	best, bestScore := -1, SameGap
	for i, g := range gaps {
		if s := Similarity(words, g.Words); s >= bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// RecordGap records a question the AI could not answer: it joins the open
// gap most like it (counted once more), or opens a new one. Gaps of a
// tenant are recorded one at a time, so two alike questions at once make
// one gap.
func (ts *TenantStore) RecordGap(ctx context.Context, question string, contactID int64, at time.Time) (*KnowledgeGap, error) {
	question = strings.Join(strings.Fields(question), " ")
	if r := []rune(question); len(r) > MaxGapQuestion {
		question = string(r[:MaxGapQuestion]) + "…"
	}
	if question == "" {
		return nil, errors.New("record gap: no question")
	}
	words := GapWords(question)
	var out *KnowledgeGap
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		if _, err := tx.db.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?, ?)", gapLockKey, ts.tenantID); err != nil {
			return err
		}
		var open []KnowledgeGap
		if err := tx.db.NewSelect().Model(&open).ApplyQueryBuilder(tx.scope).Where("kg.status = 'open'").
			OrderExpr("kg.last_asked DESC").Limit(500).Scan(ctx); err != nil {
			return err
		}
		if i := ClosestGap(words, open); i >= 0 {
			g := &open[i]
			_, err := tx.db.NewUpdate().Model(g).ApplyQueryBuilder(tx.scope).Set("times_asked = times_asked + 1").
				Set("last_asked = GREATEST(last_asked, ?)", at).Set("last_contact_id = ?", contactID).
				Where("kg.id = ?", g.ID).Returning("*").Exec(ctx)
			out = g
			return err
		}
		g := &KnowledgeGap{TenantID: ts.tenantID, Question: question, Words: words, TimesAsked: 1, FirstAsked: at,
			LastAsked: at, LastContactID: &contactID, Status: GapOpen}
		_, err := tx.db.NewInsert().Model(g).Returning("*").Exec(ctx)
		out = g
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record gap: %w", mapErr(err))
	}
	return out, nil
}

// gapLockKey is the first half of the advisory lock that orders a tenant's
// gap records.
const gapLockKey = 0x676170

// OpenGaps lists the open gaps, the most asked first.
func (ts *TenantStore) OpenGaps(ctx context.Context, limit int) ([]KnowledgeGap, error) {
	var gs []KnowledgeGap
	err := ts.db.NewSelect().Model(&gs).ApplyQueryBuilder(ts.scope).Where("kg.status = 'open'").
		OrderExpr("kg.times_asked DESC, kg.last_asked DESC, kg.id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("open gaps: %w", err)
	}
	return gs, nil
}

// AnswerGap turns an open gap into a knowledge entry, titled with the
// question, with the tenant's answer (within the knowledge caps), and closes
// it, in one transaction. An answered or dismissed gap, or another
// tenant's, is ErrNotFound.
func (ts *TenantStore) AnswerGap(ctx context.Context, id int64, answer string) (*KnowledgeEntry, error) {
	k := &KnowledgeEntry{TenantID: ts.tenantID, Body: answer}
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		g := new(KnowledgeGap)
		if err := tx.db.NewSelect().Model(g).ApplyQueryBuilder(tx.scope).Where("kg.id = ? AND kg.status = 'open'", id).
			For("UPDATE").Scan(ctx); err != nil {
			return mapErr(err)
		}
		k.Title = gapTitle(g.Question)
		if err := checkEntrySize(k); err != nil {
			return err
		}
		if err := tx.lockKnowledge(ctx); err != nil {
			return err
		}
		if err := tx.checkKnowledgeRoom(ctx, k); err != nil {
			return err
		}
		if err := tx.writeKnowledgeEntry(ctx, k); err != nil {
			return err
		}
		_, err := tx.db.NewUpdate().Model(g).ApplyQueryBuilder(tx.scope).Set("status = 'answered'").Set("entry_id = ?", k.ID).
			Set("resolved_at = now()").Where("kg.id = ?", id).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("answer gap %d: %w", id, err)
	}
	return k, nil
}

// gapTitle is a knowledge entry's title from a question, cut to a title's
// length.
func gapTitle(q string) string {
	if r := []rune(q); len(r) > 120 {
		return string(r[:119]) + "…"
	}
	return q
}

// DismissGap closes an open gap without an answer.
func (ts *TenantStore) DismissGap(ctx context.Context, id int64) error {
	res, err := ts.db.NewUpdate().Model((*KnowledgeGap)(nil)).ApplyQueryBuilder(ts.scope).Set("status = 'dismissed'").
		Set("resolved_at = now()").Where("kg.id = ? AND kg.status = 'open'", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("dismiss gap %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("dismiss gap %d: %w", id, ErrNotFound)
	}
	return nil
}

// WeekSummary is what the dashboard says about the past week's questions.
type WeekSummary struct {
	// TopQuestions are the questions asked most in the period (gaps asked
	// in it, open or not), the most asked first.
	TopQuestions []KnowledgeGap
	// OpenGaps counts the unanswered topics.
	OpenGaps int
	// Handoffs are the reasons of the chats handed to a person in the
	// period (and still with one), the most frequent first.
	Handoffs []ReasonCount
}

// ReasonCount is how often a reason came up.
type ReasonCount struct {
	Reason string `bun:"reason"`
	Count  int    `bun:"count"`
}

// WeekSummary sums up the questions and hand-overs since since.
func (ts *TenantStore) WeekSummary(ctx context.Context, since time.Time) (WeekSummary, error) {
	var s WeekSummary
	err := ts.db.NewSelect().Model(&s.TopQuestions).ApplyQueryBuilder(ts.scope).Where("kg.last_asked >= ?", since).
		Where("kg.status <> 'dismissed'").OrderExpr("kg.times_asked DESC, kg.last_asked DESC").Limit(5).Scan(ctx)
	if err != nil {
		return s, fmt.Errorf("week summary: %w", err)
	}
	n, err := ts.db.NewSelect().Model((*KnowledgeGap)(nil)).ApplyQueryBuilder(ts.scope).Where("kg.status = 'open'").Count(ctx)
	if err != nil {
		return s, fmt.Errorf("week summary: %w", err)
	}
	s.OpenGaps = int(n)
	err = ts.db.NewSelect().Model((*Contact)(nil)).ApplyQueryBuilder(ts.scope).
		ColumnExpr("c.handoff_reason AS reason, count(*) AS count").
		Where("c.handoff_at >= ? AND c.handoff_reason <> ''", since).
		GroupExpr("c.handoff_reason").OrderExpr("count DESC, reason").Limit(5).Scan(ctx, &s.Handoffs)
	if err != nil {
		return s, fmt.Errorf("week summary: %w", err)
	}
	return s, nil
}
