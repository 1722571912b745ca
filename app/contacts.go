package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

const contactsPerPage = 30

func contactFilter(c echo.Context) (views.ContactFilter, int) {
	f := views.ContactFilter{
		Query: strings.TrimSpace(c.QueryParam("q")), Tag: c.QueryParam("tag"),
		Mode: c.QueryParam("mode"), OptedOut: c.QueryParam("opted_out"),
	}
	switch f.Mode {
	case db.ModeAI, db.ModeHuman, db.ModeOff:
	default:
		f.Mode = ""
	}
	if f.OptedOut != "yes" && f.OptedOut != "no" {
		f.OptedOut = ""
	}
	page, _ := strconv.Atoi(c.QueryParam("page"))
	return f, page
}

func (h *handler) listContacts(c echo.Context) error {
	ctx := c.Request().Context()
	ts, loc := tenantStore(c), mustPrincipal(c).tenant.Location()
	f, page := contactFilter(c)
	pg := db.Page{Number: page, PerPage: contactsPerPage}.Normalize()
	rows, total, err := ts.Contacts(ctx, db.ContactFilter{Query: f.Query, Tag: f.Tag, Mode: f.Mode, OptedOut: f.OptedOut, Page: pg})
	if err != nil {
		return err
	}
	tags, err := ts.ContactTags(ctx)
	if err != nil {
		return err
	}
	vm := views.Contacts{Filter: f, Tags: tags, Location: loc, Pager: views.Pager{
		Page: pg.Number, Pages: (total + pg.PerPage - 1) / pg.PerPage, Total: total, Target: views.IDContactList,
		URL: func(n int) string { return views.ContactsPagePath(f, n) },
	}}
	for _, r := range rows {
		vm.Rows = append(vm.Rows, views.ContactRow{
			ID: r.ID, Name: r.DisplayName(), Phone: deref(r.Phone), Tags: r.Tags, Mode: r.AIMode, OptedOut: r.OptedOutAt != nil,
			LastBody: r.LastBody, LastSender: r.LastSender, LastAt: r.LastMessageAt, HandoffReason: r.HandoffReason,
		})
	}
	return render(c, http.StatusOK, views.ContactsPage(h.shell(c, "Contacts", views.NavContacts), vm), views.ContactList(vm))
}

func (h *handler) loadContact(c echo.Context) (*db.Contact, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	return tenantStore(c).Contact(c.Request().Context(), id)
}

func headerView(ct *db.Contact, loc *time.Location) views.ConversationHeader {
	return views.ConversationHeader{
		ID: ct.ID, Name: ct.DisplayName(), Phone: deref(ct.Phone), LID: deref(ct.LID), Kind: ct.Kind, Mode: ct.AIMode,
		HumanUntil: ct.HumanUntil, HandoffReason: ct.HandoffReason, OptedOut: ct.OptedOutAt != nil, Tags: ct.Tags, Location: loc,
	}
}

func (h *handler) messageRows(c echo.Context, contactID int64) ([]views.MessageRow, error) {
	ms, err := tenantStore(c).Messages(c.Request().Context(), contactID, 200)
	if err != nil {
		return nil, err
	}
	rows := make([]views.MessageRow, len(ms))
	for i, m := range ms {
		rows[i] = views.MessageRow{
			ID: m.ID, Outgoing: m.Direction == db.DirectionOut, Sender: m.Sender, Author: m.Author, Body: m.Body,
			Type: m.Type, Status: m.Status, Error: m.Error, At: m.SentAt, MediaType: m.MediaType,
		}
		if m.Poll != nil {
			rows[i].PollOptions = m.Poll.Options
		}
		rows[i].Transcript = m.Transcript
		switch {
		case m.MediaID == nil:
		case m.Type == "audio":
			rows[i].AudioURL = views.MediaPath(*m.MediaID)
		case m.Type == "document":
			rows[i].FileURL = views.MediaPath(*m.MediaID)
		default:
			rows[i].ImageURL = views.MediaPath(*m.MediaID)
		}
	}
	return rows, nil
}

func (h *handler) showContact(c echo.Context) error {
	ct, err := h.loadContact(c)
	if err != nil {
		return err
	}
	msgs, err := h.messageRows(c, ct.ID)
	if err != nil {
		return err
	}
	loc := mustPrincipal(c).tenant.Location()
	reply, err := h.replyForm(c, ct, views.ReplyForm{})
	if err != nil {
		return err
	}
	vm := views.Conversation{Header: headerView(ct, loc), Messages: msgs, Reply: reply, Location: loc}
	return render(c, http.StatusOK, views.ContactPage(h.shell(c, ct.DisplayName(), views.NavContacts), vm), nil)
}

func (h *handler) contactHeader(c echo.Context) error {
	ct, err := h.loadContact(c)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.ConversationHeaderView(headerView(ct, mustPrincipal(c).tenant.Location())))
}

func (h *handler) contactMessages(c echo.Context) error {
	ct, err := h.loadContact(c)
	if err != nil {
		return err
	}
	msgs, err := h.messageRows(c, ct.ID)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.MessageList(ct.ID, ct.DisplayName(), msgs, mustPrincipal(c).tenant.Location()))
}

// replyInstance picks the number to answer from: the one the conversation
// last used, else any connected one.
func (h *handler) replyInstance(c echo.Context, ct *db.Contact) (*db.Instance, error) {
	ctx := c.Request().Context()
	ts := tenantStore(c)
	ms, err := ts.Messages(ctx, ct.ID, 20)
	if err != nil {
		return nil, err
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if id := ms[i].InstanceID; id != nil {
			inst, err := ts.Instance(ctx, *id)
			if err == nil && inst.Status == db.InstanceConnected {
				return inst, nil
			}
		}
	}
	insts, err := ts.Instances(ctx)
	if err != nil {
		return nil, err
	}
	for i := range insts {
		if insts[i].Status == db.InstanceConnected {
			return &insts[i], nil
		}
	}
	return nil, nil
}

func (h *handler) replyForm(c echo.Context, ct *db.Contact, f views.ReplyForm) (views.ReplyForm, error) {
	if ct.Kind == db.ContactStatus || ct.Kind == db.ContactChannel {
		f.Disabled = "You cannot reply to status or channel messages."
		return f, nil
	}
	inst, err := h.replyInstance(c, ct)
	if err != nil {
		return f, err
	}
	switch {
	case inst == nil:
		f.Disabled = "Connect a WhatsApp number to reply."
	case !mustPrincipal(c).tenant.May(db.ActSend):
		f.Disabled = "This account is suspended, so no message can be sent."
	case inst.PausedAt != nil:
		f.Disabled = "This number is paused: your plan allows fewer numbers. Upgrade on the Billing page to reply from it."
	}
	if !validReplyKey(f.Key) {
		f.Key = newReplyKey()
	}
	f.Cost = h.opts.CostMessage
	return f, nil
}

// replyBody is the manual reply form.
type replyBody struct {
	Body string `form:"body"`
	Key  string `form:"key"`
}

// newReplyKey names one manual reply: the form carries it, so the same form
// sent twice queues one message.
func newReplyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validReplyKey(k string) bool {
	if len(k) != 32 {
		return false
	}
	_, err := hex.DecodeString(k)
	return err == nil
}

func (h *handler) replyToContact(c echo.Context) error {
	ctx := c.Request().Context()
	ct, err := h.loadContact(c)
	if err != nil {
		return err
	}
	var f replyBody
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	f.Body = whatsapp.CleanText(strings.TrimSpace(f.Body))
	if !validReplyKey(f.Key) {
		f.Key = newReplyKey()
	}
	show := func(status int, form views.ReplyForm) error {
		form, err := h.replyForm(c, ct, form)
		if err != nil {
			return err
		}
		return renderComponent(c, status, views.ReplyBox(ct.ID, form))
	}
	switch n := utf8.RuneCountInString(f.Body); {
	case n == 0:
		return show(http.StatusUnprocessableEntity, views.ReplyForm{Error: "Write something first.", Key: f.Key})
	case n > 4096:
		return show(http.StatusUnprocessableEntity, views.ReplyForm{Body: f.Body, Key: f.Key, Error: "WhatsApp messages are at most 4096 characters."})
	}
	inst, err := h.replyInstance(c, ct)
	if err != nil {
		return err
	}
	if inst == nil || ct.Kind == db.ContactStatus || ct.Kind == db.ContactChannel {
		return show(http.StatusUnprocessableEntity, views.ReplyForm{Body: f.Body, Key: f.Key})
	}
	msg, err := h.outbox.Queue(ctx, tenantStore(c), whatsapp.Outgoing{
		Key: "app:" + f.Key, InstanceID: inst.ID, ContactID: ct.ID, ChatKind: ct.Kind, Sender: db.SenderApp,
		Body: f.Body, Cost: h.opts.CostMessage, Reason: "Message sent from the app",
	})
	if errors.Is(err, db.ErrInsufficientCredits) {
		return show(http.StatusPaymentRequired, views.ReplyForm{Body: f.Body, Key: f.Key, Error: "You are out of credits. Top up to send messages."})
	}
	if err != nil {
		return err
	}
	if err := h.takeOver(c, ct); err != nil {
		return err
	}
	h.publish(c, live.MessageCreated, map[string]int64{"contact_id": ct.ID, "message_id": msg.ID})
	h.publish(c, live.CreditsUpdated, nil)
	if !isHTMX(c) {
		return c.Redirect(http.StatusSeeOther, views.ContactPath(ct.ID))
	}
	return show(http.StatusOK, views.ReplyForm{Sent: true})
}

// takeOver steps the AI back for the quiet period: the tenant is talking.
func (h *handler) takeOver(c echo.Context, ct *db.Contact) error {
	ts := tenantStore(c)
	ctx := c.Request().Context()
	if ct.AIMode != db.ModeAI && ct.AIMode != db.ModeHuman {
		return nil
	}
	settings, err := ts.AISettings(ctx)
	if err != nil {
		return err
	}
	until := time.Now().Add(time.Duration(settings.HumanQuietMinutes) * time.Minute)
	if _, _, err := ts.ExtendHumanMode(ctx, ct.ID, until, "You replied in the app"); err != nil {
		return err
	}
	h.publish(c, live.ContactUpdated, map[string]int64{"contact_id": ct.ID})
	return nil
}

func (h *handler) setContactMode(c echo.Context) error {
	ctx := c.Request().Context()
	ct, err := h.loadContact(c)
	if err != nil {
		return err
	}
	mode := c.FormValue("mode")
	var until *time.Time
	reason := ""
	switch mode {
	case db.ModeAI, db.ModeOff:
	case db.ModeHuman:
		settings, err := tenantStore(c).AISettings(ctx)
		if err != nil {
			return err
		}
		t := time.Now().Add(time.Duration(settings.HumanQuietMinutes) * time.Minute)
		until, reason = &t, "You took over"
	default:
		return Errorf(EInvalid, "Choose who answers this chat.")
	}
	ct, err = tenantStore(c).SetChatMode(ctx, ct.ID, mode, until, reason)
	if err != nil {
		return err
	}
	h.publish(c, live.ContactUpdated, map[string]int64{"contact_id": ct.ID})
	if !isHTMX(c) {
		return c.Redirect(http.StatusSeeOther, views.ContactPath(ct.ID))
	}
	return renderComponent(c, http.StatusOK, views.ConversationHeaderView(headerView(ct, mustPrincipal(c).tenant.Location())))
}

// parseTags splits, trims and de-duplicates comma-separated tags.
func parseTags(raw string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, t := range strings.Split(raw, ",") {
		t = strings.ToLower(strings.Join(strings.Fields(t), " "))
		if t == "" || seen[t] {
			continue
		}
		if utf8.RuneCountInString(t) > 40 {
			return nil, Errorf(EInvalid, "Tags are at most 40 characters: %q is longer.", t)
		}
		seen[t] = true
		out = append(out, t)
	}
	if len(out) > 20 {
		return nil, Errorf(EInvalid, "A contact can have at most 20 tags.")
	}
	return out, nil
}

func (h *handler) setContactTags(c echo.Context) error {
	ctx := c.Request().Context()
	ct, err := h.loadContact(c)
	if err != nil {
		return err
	}
	tags, err := parseTags(c.FormValue("tags"))
	if err != nil {
		return err
	}
	if err := tenantStore(c).SetContactTags(ctx, ct.ID, tags); err != nil {
		return err
	}
	ct.Tags = tags
	h.publish(c, live.ContactUpdated, map[string]int64{"contact_id": ct.ID})
	if !isHTMX(c) {
		return c.Redirect(http.StatusSeeOther, views.ContactPath(ct.ID))
	}
	return renderComponent(c, http.StatusOK, views.ConversationHeaderView(headerView(ct, mustPrincipal(c).tenant.Location())))
}

// deleteContact deletes a contact with the conversation and the files they
// sent (a customer's request to be forgotten); refused while a message to
// them is still being sent.
func (h *handler) deleteContact(c echo.Context) error {
	ct, err := h.loadContact(c)
	if err != nil {
		return err
	}
	err = tenantStore(c).DeleteContact(c.Request().Context(), ct.ID)
	if errors.Is(err, db.ErrContactBusy) {
		return Errorf(EConflict, "A message to this contact is still being sent. Try again in a minute.")
	}
	if err != nil {
		return err
	}
	h.putFlash(c, "success", "Contact deleted, with the conversation and the files they sent.")
	return redirect(c, views.PathContacts)
}
