package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// MediaLimits bound the files customers send that the AI reads, by message
// type (audio, image, document), in bytes, and say how long they are kept.
type MediaLimits struct {
	Audio     int64
	Image     int64
	Document  int64
	Retention time.Duration
}

// limit is the largest file of a message type the AI reads.
func (l MediaLimits) limit(typ string) int64 {
	switch typ {
	case "audio":
		return l.Audio
	case "image":
		return l.Image
	}
	return l.Document
}

// burstMedia reports whether the customer's unanswered messages up to msg
// hold media the AI reads (the answer then costs the media price).
func burstMedia(burst []db.Message) bool {
	for _, m := range burst {
		if ai.IsMedia(m.Type) && ai.Readable(m.Type, m.MediaType) {
			return true
		}
	}
	return false
}

// readMedia makes sure every readable file of the burst is downloaded and
// stored, and returns them for the model by message id. refusal is set when
// a file cannot be read (too large, not what it claims to be, gone from the
// gateway, the gateway cannot hand files over): the chat then goes to a
// person with that reason. An error is one worth retrying.
func (w *Worker) readMedia(ctx context.Context, ts *db.TenantStore, prov whatsapp.Provider, inst *db.Instance, burst []db.Message) (map[int64]*ai.Media, string, error) {
	out := map[int64]*ai.Media{}
	for i := range burst {
		m := &burst[i]
		if !ai.IsMedia(m.Type) || !ai.Readable(m.Type, m.MediaType) {
			continue
		}
		if m.MediaID == nil {
			f, why, err := w.downloadMedia(ctx, ts, prov, inst, m)
			if err != nil || why != "" {
				return nil, why, err
			}
			out[m.ID] = &ai.Media{Kind: m.Type, Mime: f.Mime, Data: f.Bytes}
			continue
		}
		f, err := ts.Media(ctx, *m.MediaID)
		if errors.Is(err, db.ErrNotFound) {
			continue // expired meanwhile: the transcript stands for it
		}
		if err != nil {
			return nil, "", err
		}
		out[m.ID] = &ai.Media{Kind: m.Type, Mime: f.Mime, Data: f.Bytes}
	}
	return out, "", nil
}

// downloadMedia fetches one message's file from the gateway, checks its
// size and type, stores it with the message (m.MediaID is set) and returns
// it with its bytes, so they are not read back; a file the message had
// already (a retry stored it) is returned instead.
func (w *Worker) downloadMedia(ctx context.Context, ts *db.TenantStore, prov whatsapp.Provider, inst *db.Instance, m *db.Message) (*db.Media, string, error) {
	fetcher, ok := prov.(whatsapp.MediaFetcher)
	if !ok {
		return nil, ai.MediaRefusal(m.Type, "this WhatsApp server cannot hand files over"), nil
	}
	limit := w.opts.Media.limit(m.Type)
	f, err := fetcher.FetchMedia(ctx, inst.SessionName, whatsapp.MediaRef{MessageID: m.ProviderID, URL: m.MediaURL}, limit)
	switch {
	case errors.Is(err, whatsapp.ErrTooLarge):
		w.metrics.Count("media_too_large")
		w.log.InfoContext(ctx, "customer media over the limit", "tenant_id", ts.TenantID(), "message_id", m.ID, "type", m.Type, "limit", limit)
		return nil, ai.MediaRefusal(m.Type, fmt.Sprintf("larger than %s", byteSize(limit))), nil
	case errors.Is(err, whatsapp.ErrMediaGone), errors.Is(err, whatsapp.ErrBadRequest):
		w.log.InfoContext(ctx, "customer media not downloadable", "tenant_id", ts.TenantID(), "message_id", m.ID, "err", err)
		return nil, ai.MediaRefusal(m.Type, "the file could not be downloaded"), nil
	case err != nil:
		// The client has retried already; the customer is waiting, so a
		// person takes over rather than the answer waiting for the gateway.
		w.log.WarnContext(ctx, "customer media not downloadable", "tenant_id", ts.TenantID(), "message_id", m.ID, "err", err)
		return nil, ai.MediaRefusal(m.Type, "the WhatsApp server did not hand the file over"), nil
	}
	mime, ok := ai.SniffMime(m.Type, f.Mime, f.Data)
	if !ok {
		w.metrics.Count("media_wrong_type")
		w.log.InfoContext(ctx, "customer media of an unreadable type", "tenant_id", ts.TenantID(), "message_id", m.ID,
			"claimed", f.Mime, "sniffed", http.DetectContentType(f.Data))
		return nil, ai.MediaRefusal(m.Type, "not a file type the AI reads"), nil
	}
	saved, err := ts.SaveReceivedMedia(ctx, m.ID, mime, mediaFileName(f.Name), f.Data, time.Now().Add(w.opts.Media.Retention))
	if err != nil {
		return nil, "", err
	}
	if saved.Bytes == nil { // kept apart, and the file just downloaded
		saved.Bytes = f.Data
	}
	m.MediaID = &saved.ID
	w.metrics.Count("media_stored")
	w.publish(ctx, ts.TenantID(), live.MessageUpdated, map[string]int64{"contact_id": m.ContactID, "message_id": m.ID})
	return saved, "", nil
}

func mediaFileName(names ...string) string {
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			return whatsapp.CleanText(n)
		}
	}
	return ""
}

// byteSize writes a size the way the tenant reads it.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// refuseMedia hands the chat to a person because the AI could not read a
// file, tells the customer (the handoff acknowledgement, as for any
// handoff), and ends the reply with its credits refunded.
func (w *Worker) refuseMedia(ctx context.Context, ts *db.TenantStore, s *db.AISettings, c *db.Contact, trigger *db.Message, r *db.AIReply, why string) error {
	if err := w.handOff(ctx, ts, c, s, why); err != nil {
		return err
	}
	text, err := w.handoffReply(ctx, ts, s, c, trigger)
	if err != nil {
		return err
	}
	if err := w.autoReply(ctx, ts, c, trigger, ai.ReplyHandoff, text); err != nil {
		return err
	}
	return w.giveUp(ctx, ts, c, r, why+". The chat is waiting for you; the credits were refunded.", true)
}

// replyNotes is what an answer teaches beyond its text: what the model
// heard or saw in the customer's media (Note, recorded on the latest file's
// message, NoteOn), and the question the knowledge did not answer.
type replyNotes struct {
	NoteOn   int64
	Note     string
	Question string
}

// notesOf reads the notes of the model's answer out to burst, whose files
// are media.
func notesOf(burst []db.Message, media map[int64]*ai.Media, out ai.Reply) replyNotes {
	var n replyNotes
	if note := whatsapp.CleanText(out.MediaNote); note != "" {
		for i := len(burst) - 1; i >= 0; i-- {
			if media[burst[i].ID] != nil {
				n.NoteOn, n.Note = burst[i].ID, note
				break
			}
		}
	}
	n.Question = whatsapp.CleanText(out.Question)
	if n.Question == "" && out.Confidence < ai.LowConfidence && len(burst) > 0 {
		n.Question = whatsapp.CleanText(burst[len(burst)-1].Body)
	}
	return n
}

// saveGenerated stores the model's answer (reserved → generated) with its
// notes in one transaction: a worker that dies after it leaves nothing to
// do again, and one that dies before it leaves the whole answer to do again
// (an answer stored without its transcript was never retried for it).
func (w *Worker) saveGenerated(ctx context.Context, ts *db.TenantStore, c *db.Contact, r *db.AIReply, n replyNotes) error {
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *db.TenantStore) error {
		if err := tx.UpdateReply(ctx, r); err != nil {
			return err
		}
		if n.Note != "" {
			if err := tx.SetTranscript(ctx, n.NoteOn, n.Note); err != nil {
				return err
			}
		}
		if n.Question != "" {
			if _, err := tx.RecordGap(ctx, n.Question, c.ID, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n.Note != "" {
		w.publish(ctx, ts.TenantID(), live.MessageUpdated, map[string]int64{"contact_id": c.ID, "message_id": n.NoteOn})
	}
	if n.Question != "" {
		w.metrics.Count("knowledge_gap")
		w.publish(ctx, ts.TenantID(), live.QuestionsUpdated, nil)
	}
	return nil
}
