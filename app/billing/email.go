package billing

import (
	"html/template"
	"strconv"
	"strings"

	"github.com/myaibud/aibud/app/mailer"
)

var lowBalanceHTML = template.Must(template.New("low").Parse(`<p>Hello,</p>
<p>Your My Aibud account <strong>{{.Tenant}}</strong> has <strong>{{.Balance}}</strong> credits left.
When they run out, AI replies and campaign messages stop.</p>
<p><a href="{{.Link}}">Top up or change your plan</a></p>
<p>My Aibud</p>`))

// LowBalanceEmail tells a tenant's owner that its credits are running low,
// with a link to the billing page.
func LowBalanceEmail(to, tenant string, balance int64, link string) mailer.Message {
	bal := strconv.FormatInt(balance, 10)
	text := strings.Join([]string{
		"Hello,",
		"",
		"Your My Aibud account " + tenant + " has " + bal + " credits left.",
		"When they run out, AI replies and campaign messages stop.",
		"",
		"Top up or change your plan: " + link,
		"",
		"My Aibud",
	}, "\n")
	var b strings.Builder
	_ = lowBalanceHTML.Execute(&b, struct{ Tenant, Balance, Link string }{tenant, bal, link})
	return mailer.Message{To: to, Subject: "Your My Aibud credits are running low", Text: text, HTML: b.String()}
}
