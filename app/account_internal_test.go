package app

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/locale"
)

func TestPasswordProblem(t *testing.T) {
	tests := []struct {
		name, password, want string
	}{
		{"ok", "password123", ""},
		{"exactly 8", "12345678", ""},
		{"7", "1234567", "at least 8"},
		{"72 plain letters", strings.Repeat("a", 72), ""},
		{"73 plain letters", strings.Repeat("a", 73), "at most 72"},
		{"40 accented letters are 80 bytes", strings.Repeat("é", 40), "accented letters and emoji count double"},
		{"empty", "", "at least 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := passwordProblem(tt.password)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("passwordProblem = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckLocale(t *testing.T) {
	l := locale.Load()
	tests := []struct {
		name, tz, country   string
		wantTZ, wantCountry string
		wantErrs            []string
	}{
		{"listed", "Europe/Madrid", "ES", "Europe/Madrid", "ES", nil},
		{"defaults", "", "", "UTC", "", nil},
		{"old name and lower case", "Europe/Kiev", " ua ", "Europe/Kyiv", "UA", nil},
		{"unknown both", "Moon/Base", "ZZ", "Moon/Base", "ZZ", []string{"country", "timezone"}},
		{"a file path is no zone", "../../../etc/passwd", "", "../../../etc/passwd", "", []string{"timezone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := map[string]string{}
			tz, country := checkLocale(l, tt.tz, tt.country, errs)
			var fields []string
			for _, f := range []string{"country", "timezone"} {
				if errs[f] != "" {
					fields = append(fields, f)
				}
			}
			if len(tt.wantErrs) == 0 && (tz != tt.wantTZ || country != tt.wantCountry) {
				t.Errorf("got %q/%q, want %q/%q", tz, country, tt.wantTZ, tt.wantCountry)
			}
			if diff := cmp.Diff(tt.wantErrs, fields); diff != "" {
				t.Errorf("fields with errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoginFormValidate(t *testing.T) {
	reserved := func(e string) bool { return strings.EqualFold(e, "owner@example.com") }
	const current = "me@example.com"
	tests := []struct {
		name string
		form loginForm
		want []string
	}{
		{"new email", loginForm{Email: "new@example.com", CurrentPassword: "x"}, nil},
		{"new password", loginForm{Email: current, NewPassword: "long enough", CurrentPassword: "x"}, nil},
		{"same email in other case, no password", loginForm{Email: "ME@example.com", CurrentPassword: "x"}, []string{"new_password"}},
		{"no current password", loginForm{Email: "new@example.com"}, []string{"current_password"}},
		{"bad email", loginForm{Email: "nope", CurrentPassword: "x"}, []string{"email"}},
		{"an owner's address", loginForm{Email: "Owner@example.com", CurrentPassword: "x"}, []string{"email"}},
		{"short password, no current", loginForm{Email: current, NewPassword: "short"}, []string{"current_password", "new_password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.form.Validate(current, reserved)
			var fields []string
			for _, f := range []string{"current_password", "email", "new_password"} {
				if errs[f] != "" {
					fields = append(fields, f)
				}
			}
			if diff := cmp.Diff(tt.want, fields); diff != "" {
				t.Errorf("fields with errors (-want +got):\n%s", diff)
			}
		})
	}
}
