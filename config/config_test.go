package config

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func valid() map[string]string {
	return map[string]string{
		"DATABASE_URL":   "postgres://postgres:hunter2@127.0.0.1:5432/aibud?sslmode=disable",
		"REDIS_URL":      "redis://127.0.0.1:6379/0",
		"APP_BASE_URL":   "https://app.example.com/",
		"SESSION_SECRET": strings.Repeat("s", 40),
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(valid()))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"port", c.HTTP.Port, 8080},
		{"base url trimmed", c.HTTP.BaseURL.String(), "https://app.example.com"},
		{"secure", c.HTTP.Secure(), true},
		{"default credits", c.Credits.Default, int64(400)},
		{"ai reply cost", c.Credits.AIReply, int64(1)},
		{"message cost", c.Credits.Message, int64(1)},
		{"model", c.AI.Model, "gemini-2.5-flash"},
		{"input token budget", c.AI.InputTokenBudget, 50_000},
		{"input price", c.AI.PriceInputPerMTok, 0.30},
		{"output price", c.AI.PriceOutputPerMTok, 2.50},
		{"audio input price", c.AI.PriceAudioInputPerMTok, 1.00},
		{"billing off", c.Billing.Enabled(), false},
		{"grace period", c.Billing.GracePeriod, 7 * 24 * time.Hour},
		{"low balance", c.Billing.LowBalance, int64(50)},
		{"log level", c.Log.Level, slog.LevelInfo},
		{"no worker health listener", c.Jobs.HealthAddr, ""},
		{"schedule minute", c.Jobs.ScheduleMinute, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(m map[string]string)
		wants []string
	}{
		{"missing database", func(m map[string]string) { delete(m, "DATABASE_URL") }, []string{"DATABASE_URL is required"}},
		{"every missing variable named at once", func(m map[string]string) {
			delete(m, "DATABASE_URL")
			delete(m, "REDIS_URL")
			delete(m, "SESSION_SECRET")
			delete(m, "APP_BASE_URL")
		}, []string{"DATABASE_URL is required", "REDIS_URL is required", "SESSION_SECRET is required", "APP_BASE_URL is required"}},
		{"bad port", func(m map[string]string) { m["PORT"] = "eighty" }, []string{"PORT must be a whole number"}},
		{"port out of range", func(m map[string]string) { m["PORT"] = "70000" }, []string{"PORT must be a whole number from 1 to 65535"}},
		{"wrong database scheme", func(m map[string]string) { m["DATABASE_URL"] = "mysql://x@h/db" }, []string{"DATABASE_URL must start with postgres://"}},
		{"short session secret", func(m map[string]string) { m["SESSION_SECRET"] = "short" }, []string{"SESSION_SECRET must be at least 32 characters"}},
		{"bad base url", func(m map[string]string) { m["APP_BASE_URL"] = "app.example.com" }, []string{"APP_BASE_URL must be an http(s) URL"}},
		{"unknown provider", func(m map[string]string) { m["WHATSAPP_PROVIDER"] = "twilio" }, []string{"WHATSAPP_PROVIDER must be waha, evolution"}},
		{"evolution without webhook secret", func(m map[string]string) { m["WHATSAPP_PROVIDER"] = "evolution" }, []string{"EVOLUTION_WEBHOOK_SECRET"}},
		{"evolution without key", func(m map[string]string) {
			m["EVOLUTION_API_URL"], m["EVOLUTION_WEBHOOK_SECRET"] = "http://evo:8080", "0123456789abcdef0"
		}, []string{"EVOLUTION_API_KEY is required"}},
		{"waha without webhook secret", func(m map[string]string) { m["WAHA_API_URL"] = "http://127.0.0.1:3000" }, []string{"WAHA_WEBHOOK_SECRET is required"}},
		{"bad worker health address", func(m map[string]string) { m["WORKER_HEALTH_ADDR"] = "9090" }, []string{"WORKER_HEALTH_ADDR must be host:port"}},
		{"schedule minute too short", func(m map[string]string) { m["SCHEDULE_MINUTE"] = "100ms" }, []string{"SCHEDULE_MINUTE must be from 1s to 1m"}},
		{"schedule minute too long", func(m map[string]string) { m["SCHEDULE_MINUTE"] = "2m" }, []string{"SCHEDULE_MINUTE must be from 1s to 1m"}},
		{"negative price", func(m map[string]string) { m["GEMINI_PRICE_INPUT_PER_MTOK"] = "-1" }, []string{"GEMINI_PRICE_INPUT_PER_MTOK must be a decimal"}},
		{"price not a number", func(m map[string]string) { m["GEMINI_PRICE_OUTPUT_PER_MTOK"] = "2,50" }, []string{"GEMINI_PRICE_OUTPUT_PER_MTOK must be a decimal"}},
		{"disk media without a directory", func(m map[string]string) { m["MEDIA_STORAGE"] = "disk" }, []string{"MEDIA_DIR is required with MEDIA_STORAGE=disk"}},
		{"unknown media storage", func(m map[string]string) { m["MEDIA_STORAGE"] = "s3" }, []string{"MEDIA_STORAGE must be one of postgres, disk"}},
		{"audio price not a number", func(m map[string]string) { m["GEMINI_PRICE_AUDIO_INPUT_PER_MTOK"] = "one" }, []string{"GEMINI_PRICE_AUDIO_INPUT_PER_MTOK must be a decimal"}},
		{"negative credits", func(m map[string]string) { m["DEFAULT_CREDITS"] = "-5" }, []string{"DEFAULT_CREDITS must be a whole number"}},
		{"bad admin email", func(m map[string]string) { m["ADMIN_EMAILS"] = "owner@example.com, not-an-email" }, []string{`ADMIN_EMAILS has an invalid email address "not-an-email"`}},
		{"stripe key without webhook secret", func(m map[string]string) { m["STRIPE_SECRET_KEY"] = "sk_test_x" }, []string{"STRIPE_WEBHOOK_SECRET is required"}},
		{"bad stripe base", func(m map[string]string) { m["STRIPE_API_BASE"] = "localhost" }, []string{"STRIPE_API_BASE must be an http(s) URL"}},
		{"bad grace", func(m map[string]string) { m["BILLING_GRACE_PERIOD"] = "week" }, []string{"BILLING_GRACE_PERIOD must be a positive duration"}},
		{"bad log level", func(m map[string]string) { m["LOG_LEVEL"] = "loud" }, []string{"LOG_LEVEL must be"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid()
			tt.edit(m)
			_, err := Load(env(m))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			for _, w := range tt.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error leaks a secret: %q", msg)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	m := valid()
	m["PORT"] = "9090"
	m["GEMINI_API_KEY"] = "k-gemini"
	m["ADMIN_EMAILS"] = "Owner@Example.com,two@example.com"
	m["PLAN_INSTANCE_LIMITS"] = "pro=5"
	m["CREDIT_COST_AI_REPLY"] = "2"
	m["WORKER_HEALTH_ADDR"] = ":9090"
	m["SCHEDULE_MINUTE"] = "2s"
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Port != 9090 || c.AI.APIKey.Reveal() != "k-gemini" || c.Credits.AIReply != 2 ||
		c.Jobs.HealthAddr != ":9090" || c.Jobs.ScheduleMinute != 2*time.Second {
		t.Errorf("overrides not applied: %+v", c)
	}
	if !c.Admin.IsOwner("owner@example.com") || c.Admin.IsOwner("else@example.com") {
		t.Errorf("IsOwner wrong for %v", c.Admin.Emails)
	}
	if len(c.Retired) != 1 || c.Retired[0] != "PLAN_INSTANCE_LIMITS" {
		t.Errorf("retired = %v, want PLAN_INSTANCE_LIMITS", c.Retired)
	}
	m["GOOGLE_GENERATIVE_AI_API_KEY"] = "k-google"
	c, _ = Load(env(m))
	if c.AI.APIKey.Reveal() != "k-google" {
		t.Errorf("GOOGLE_GENERATIVE_AI_API_KEY should win over GEMINI_API_KEY")
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c, err := Load(env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c.DB), fmt.Sprint(c.Session.Secret)} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, strings.Repeat("s", 40)) {
			t.Errorf("secret printed: %s", out)
		}
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("cfg", "db", c.DB.URL, "secret", c.Session.Secret)
	if strings.Contains(b.String(), "hunter2") {
		t.Errorf("secret logged: %s", b.String())
	}
}

func TestStripe(t *testing.T) {
	m := valid()
	m["STRIPE_SECRET_KEY"] = "sk_test_hunter2"
	m["STRIPE_WEBHOOK_SECRET"] = "whsec_hunter2"
	m["STRIPE_API_BASE"] = "http://127.0.0.1:12111/"
	m["LOW_BALANCE_CREDITS"] = "0"
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Billing.Enabled() || c.Billing.APIBase != "http://127.0.0.1:12111" || c.Billing.LowBalance != 0 {
		t.Errorf("billing = %+v", c.Billing)
	}
	if s := fmt.Sprintf("%v %+v", c.Billing, c.Billing); strings.Contains(s, "hunter2") {
		t.Errorf("secret printed: %s", s)
	}
}

func TestMail(t *testing.T) {
	tests := []struct {
		name, url, from string
		want            Mail
		wantErr         string
	}{
		{name: "off", want: Mail{From: "My Aibud <no-reply@app.example.com>"}},
		{name: "submission with STARTTLS", url: "smtp://mailer:hunter2@smtp.example.com",
			want: Mail{Host: "smtp.example.com", Port: 587, Username: "mailer", Password: "hunter2", TLS: "starttls", From: "My Aibud <no-reply@app.example.com>"}},
		{name: "implicit TLS", url: "smtps://mailer:hunter2@smtp.example.com", from: "Shop <hi@example.com>",
			want: Mail{Host: "smtp.example.com", Port: 465, Username: "mailer", Password: "hunter2", TLS: "implicit", From: "Shop <hi@example.com>"}},
		{name: "local stand-in without TLS", url: "smtp://127.0.0.1:1025?starttls=off",
			want: Mail{Host: "127.0.0.1", Port: 1025, TLS: "off", From: "My Aibud <no-reply@app.example.com>"}},
		{name: "opportunistic", url: "smtp://h.example.com:2525?starttls=opportunistic",
			want: Mail{Host: "h.example.com", Port: 2525, TLS: "opportunistic", From: "My Aibud <no-reply@app.example.com>"}},
		{name: "wrong scheme", url: "https://user:hunter2@smtp.example.com", wantErr: "SMTP_URL must look like"},
		{name: "bad port", url: "smtp://user:hunter2@smtp.example.com:99999", wantErr: "SMTP_URL has an invalid port"},
		{name: "bad starttls", url: "smtp://user:hunter2@smtp.example.com?starttls=maybe", wantErr: "starttls must be"},
		{name: "bad from", from: "nobody", wantErr: "SMTP_FROM must be an address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid()
			m["SMTP_URL"], m["SMTP_FROM"] = tt.url, tt.from
			c, err := Load(env(m))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("err = %v, want %q without the password", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Mail != tt.want {
				t.Errorf("got %+v, want %+v", c.Mail, tt.want)
			}
			if out := fmt.Sprintf("%v %+v %#v", c, c.Mail, c.Mail); strings.Contains(out, "hunter2") {
				t.Errorf("the SMTP password printed: %s", out)
			}
		})
	}
}
