package app

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// questionsView lists the open knowledge gaps; sent back is a posted
// answer with its problem, kept in its form.
func (h *handler) questionsView(c echo.Context, sentBack *views.QuestionRow) (views.Questions, error) {
	gs, err := tenantStore(c).OpenGaps(c.Request().Context(), 100)
	if err != nil {
		return views.Questions{}, err
	}
	v := views.Questions{Location: mustPrincipal(c).tenant.Location()}
	for _, g := range gs {
		r := views.QuestionRow{ID: g.ID, Question: g.Question, Times: g.TimesAsked, LastAsked: g.LastAsked}
		if sentBack != nil && sentBack.ID == g.ID {
			r.Answer, r.Error = sentBack.Answer, sentBack.Error
		}
		v.Rows = append(v.Rows, r)
	}
	return v, nil
}

func (h *handler) listQuestions(c echo.Context) error {
	v, err := h.questionsView(c, nil)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.QuestionsPage(h.shell(c, "Unanswered questions", views.NavSettings), v), views.QuestionList(v))
}

// answerQuestion turns an open question into knowledge: the question is the
// entry's title, the tenant's answer its text.
func (h *handler) answerQuestion(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	answer := whatsapp.CleanText(strings.TrimSpace(c.FormValue("answer")))
	sendBack := func(msg string) error {
		v, err := h.questionsView(c, &views.QuestionRow{ID: id, Answer: answer, Error: msg})
		if err != nil {
			return err
		}
		return render(c, http.StatusUnprocessableEntity, views.QuestionsPage(h.shell(c, "Unanswered questions", views.NavSettings), v), nil)
	}
	if answer == "" {
		return sendBack("Write the answer the AI should give.")
	}
	_, err = tenantStore(c).AnswerGap(c.Request().Context(), id, answer)
	var limit *db.KnowledgeLimitError
	switch {
	case errors.As(err, &limit):
		return sendBack(limit.Error())
	case err != nil:
		return err
	}
	h.publish(c, live.QuestionsUpdated, nil)
	h.putFlash(c, "success", "Saved as knowledge. The AI uses it from the next message on.")
	return redirect(c, views.PathQuestions)
}

func (h *handler) dismissQuestion(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := tenantStore(c).DismissGap(c.Request().Context(), id); err != nil {
		return err
	}
	h.publish(c, live.QuestionsUpdated, nil)
	h.putFlash(c, "success", "Dismissed.")
	return redirect(c, views.PathQuestions)
}

// weekView is the dashboard's look back at the past seven days.
func (h *handler) weekView(c echo.Context) (views.WeekSummary, error) {
	s, err := tenantStore(c).WeekSummary(c.Request().Context(), time.Now().AddDate(0, 0, -7))
	if err != nil {
		return views.WeekSummary{}, err
	}
	v := views.WeekSummary{Open: s.OpenGaps}
	for _, g := range s.TopQuestions {
		v.Top = append(v.Top, views.QuestionRow{ID: g.ID, Question: g.Question, Times: g.TimesAsked, LastAsked: g.LastAsked})
	}
	for _, r := range s.Handoffs {
		v.Handoffs = append(v.Handoffs, views.ReasonCount{Reason: r.Reason, Count: r.Count})
	}
	return v, nil
}
