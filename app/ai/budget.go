package ai

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// DefaultInputTokenBudget bounds the estimated input of one model call when
// the server sets no other budget: room for the largest knowledge the caps
// allow in Latin script, the persona, the instructions and the recent
// conversation.
const DefaultInputTokenBudget = 50_000

// Estimated fixed costs, in tokens, of what the request carries besides the
// texts: generation config, response schema and JSON framing; each turn's
// and each knowledge entry's markup.
const (
	requestOverheadTokens = 400
	turnOverheadTokens    = 8
	entryOverheadTokens   = 6
)

// EstimateTokens is a conservative estimate of what text costs the model:
// a token per three bytes of UTF-8. Gemini averages about four characters a
// token in English; scripts with more bytes a character cost more tokens,
// and more here too, so the estimate stays above the count.
func EstimateTokens(text string) int { return (len(text) + 2) / 3 }

// Fitted says what Fit left out.
type Fitted struct {
	// Tokens is the estimated input of the fitted request.
	Tokens         int
	DroppedTurns   int
	DroppedEntries int
	// Truncated says the customer's latest message alone was over the
	// budget and only its beginning is sent.
	Truncated bool
}

// Fit trims req so that its estimated input (system prompt, knowledge and
// conversation) stays within budget tokens. The customer's latest message
// is always kept (cut, only if it alone exceeds the budget). Knowledge gets
// the room first, the entries most related to the customer's latest
// messages first (the earlier entry on a tie); the conversation gets the
// rest, at most historyTokenBudget, newest first, so the oldest turns go
// first.
func Fit(req Request, budget int) (Request, Fitted) {
	var f Fitted
	bare := req
	bare.Knowledge, bare.Turns = nil, nil
	fixed := requestOverheadTokens + EstimateTokens(SystemPrompt(bare))
	turns := make([]Turn, 0, len(req.Turns))
	for _, t := range req.Turns {
		if strings.TrimSpace(t.Text) != "" {
			turns = append(turns, t)
		}
	}
	latest := lastCustomerTurn(turns)
	if latest < 0 {
		req.Knowledge, f.DroppedEntries = nil, len(req.Knowledge)
		req.Turns, f.DroppedTurns = nil, len(turns)
		f.Tokens = fixed
		return req, f
	}
	room := budget - fixed - turnCost(turns[latest])
	if room < 0 {
		turns[latest].Text = cutToTokens(turns[latest].Text, budget-fixed-turnOverheadTokens)
		f.Truncated, room = true, 0
	}
	entries := len(req.Knowledge)
	var used, histUsed int
	req.Knowledge, used = pickKnowledge(req.Knowledge, queryText(turns, latest), room)
	f.DroppedEntries = entries - len(req.Knowledge)
	req.Turns, histUsed = pickTurns(turns, latest, min(room-used, historyTokenBudget))
	f.DroppedTurns = len(turns) - len(req.Turns)
	f.Tokens = fixed + turnCost(turns[latest]) + used + histUsed
	return req, f
}

func turnCost(t Turn) int { return EstimateTokens(t.Text) + MediaTokens(t.Media) + turnOverheadTokens }

// MediaTokens estimates what a file costs the model: Gemini counts 32
// tokens a second of audio (a voice note is about 2 KB a second), 258 an
// image, and 258 a page of a PDF (taken as 3 KB a page here).
func MediaTokens(m *Media) int {
	if m == nil {
		return 0
	}
	switch m.Kind {
	case "audio":
		return max(len(m.Data)/62, 32)
	case "image":
		return 258
	}
	return max(len(m.Data)/3000, 1) * 258
}

func entryCost(e Entry) int {
	return EstimateTokens(e.Title) + EstimateTokens(e.Body) + entryOverheadTokens
}

// lastCustomerTurn is the index of the customer's latest message, or -1.
func lastCustomerTurn(turns []Turn) int {
	for i := len(turns) - 1; i >= 0; i-- {
		if turns[i].FromCustomer {
			return i
		}
	}
	return -1
}

// queryText is what the customer wrote lately: the latest message and the
// customer's messages just before it.
func queryText(turns []Turn, latest int) string {
	var parts []string
	for i := latest; i >= 0 && turns[i].FromCustomer; i-- {
		parts = append(parts, turns[i].Text)
	}
	return strings.Join(parts, " ")
}

// cutToTokens keeps the beginning of text that fits tokens, on a rune
// boundary.
func cutToTokens(text string, tokens int) string {
	limit := max(tokens, 0) * 3
	if len(text) <= limit {
		return text
	}
	text = text[:limit]
	for len(text) > 0 && !utf8.ValidString(text) {
		text = text[:len(text)-1]
	}
	return text
}

// pickKnowledge keeps the entries that fit room, the most relevant to query
// first, in their original order, and returns their cost.
func pickKnowledge(entries []Entry, query string, room int) ([]Entry, int) {
	total := 0
	for _, e := range entries {
		total += entryCost(e)
	}
	if total <= room {
		return entries, total
	}
	order := make([]int, len(entries))
	scores := make([]int, len(entries))
	words := queryWords(query)
	for i, e := range entries {
		order[i], scores[i] = i, relevance(e, words)
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	keep := make([]bool, len(entries))
	used := 0
	for _, i := range order {
		if c := entryCost(entries[i]); used+c <= room {
			keep[i], used = true, used+c
		}
	}
	var out []Entry
	for i, e := range entries {
		if keep[i] {
			out = append(out, e)
		}
	}
	return out, used
}

// queryWords are the distinct words of three letters or more of text,
// folded.
func queryWords(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.Fields(fold(text)) {
		if utf8.RuneCountInString(w) >= 3 && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// relevance scores an entry for the query's words: two for each in the
// title, one for each in the text.
func relevance(e Entry, words []string) int {
	title := " " + fold(e.Title) + " "
	body := " " + fold(e.Body) + " "
	score := 0
	for _, w := range words {
		if strings.Contains(title, " "+w+" ") {
			score += 2
		}
		if strings.Contains(body, " "+w+" ") {
			score++
		}
	}
	return score
}

// pickTurns keeps the latest customer message and, newest first, the other
// turns that fit room; it returns them in order with their cost besides
// the latest message's.
func pickTurns(turns []Turn, latest, room int) ([]Turn, int) {
	keep := make([]bool, len(turns))
	keep[latest] = true
	used := 0
	for i := len(turns) - 1; i >= 0; i-- {
		if i == latest {
			continue
		}
		c := turnCost(turns[i])
		if used+c > room {
			break
		}
		keep[i], used = true, used+c
	}
	var out []Turn
	for i, t := range turns {
		if keep[i] {
			out = append(out, t)
		}
	}
	return out, used
}
