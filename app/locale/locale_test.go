package locale

import (
	"testing"
	"time"
	_ "time/tzdata" // as in main: zones load without the system's zoneinfo

	"github.com/nyaruka/phonenumbers"
)

func TestEveryZoneLoads(t *testing.T) {
	l := Load()
	if n := len(l.Zones()); n < 400 {
		t.Fatalf("%d zones, want the ~419 of zone.tab", n)
	}
	if l.Zones()[0].Name != UTC {
		t.Errorf("first zone %q, want UTC", l.Zones()[0].Name)
	}
	for _, z := range l.Zones() {
		if _, err := time.LoadLocation(z.Name); err != nil || z.loc == nil {
			t.Errorf("zone %s: %v", z.Name, err)
		}
		if z.Name != UTC && len(z.Country) != 2 {
			t.Errorf("zone %s is in country %q", z.Name, z.Country)
		}
	}
	for from, to := range l.links {
		if _, ok := l.zoneIndex[to]; !ok {
			t.Errorf("link %s → %s: not a listed zone", from, to)
		}
	}
}

func TestCountriesAreThePhoneRegions(t *testing.T) {
	l := Load()
	regions := phonenumbers.GetSupportedRegions()
	if len(l.Countries()) != len(regions) {
		t.Errorf("%d countries, phonenumbers reads %d regions", len(l.Countries()), len(regions))
	}
	for _, c := range l.Countries() {
		if !regions[c.Code] {
			t.Errorf("country %s (%s): phonenumbers has no metadata", c.Code, c.Name)
		}
	}
	for r := range regions {
		if l.CountryName(r) == "" {
			t.Errorf("region %s has no name", r)
		}
	}
}

func TestTimezone(t *testing.T) {
	l := Load()
	tests := []struct {
		name   string
		in     string
		want   string
		wantOK bool
	}{
		{"listed", "Europe/Madrid", "Europe/Madrid", true},
		{"UTC", "UTC", "UTC", true},
		{"browser's old name for India", "Asia/Calcutta", "Asia/Kolkata", true},
		{"old name for Kyiv", "Europe/Kiev", "Europe/Kyiv", true},
		{"Etc/UTC", "Etc/UTC", "UTC", true},
		{"spaces around", " Europe/Oslo ", "Europe/Oslo", true},
		{"empty", "", "", false},
		{"unknown", "Mars/Olympus_Mons", "", false},
		{"a path", "../../etc/passwd", "", false},
		{"lowercase is not the name", "europe/madrid", "", false},
		{"Local is not a zone", "Local", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := l.Timezone(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Timezone(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestKnownCountry(t *testing.T) {
	l := Load()
	for _, tt := range []struct {
		code string
		want bool
	}{{"ES", true}, {"BR", true}, {"XK", true}, {"es", false}, {"", false}, {"ZZ", false}, {"AQ", false}} {
		if got := l.KnownCountry(tt.code); got != tt.want {
			t.Errorf("KnownCountry(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
	if got := l.CountryName("GB"); got != "United Kingdom" {
		t.Errorf("GB is %q", got)
	}
}

func TestZoneLabel(t *testing.T) {
	winter := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	summer := time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)
	l := Load()
	zone := func(name string) Zone { return l.zones[l.zoneIndex[name]] }
	tests := []struct {
		zone Zone
		at   time.Time
		want string
	}{
		{zone("UTC"), winter, "UTC (UTC+00:00)"},
		{zone("Europe/Madrid"), winter, "Europe/Madrid (UTC+01:00)"},
		{zone("Europe/Madrid"), summer, "Europe/Madrid (UTC+02:00)"},
		{zone("America/Sao_Paulo"), winter, "America/Sao Paulo (UTC−03:00)"},
		{zone("Asia/Kolkata"), winter, "Asia/Kolkata (UTC+05:30)"},
		{Zone{Name: "Nowhere/Else"}, winter, "Nowhere/Else"},
	}
	for _, tt := range tests {
		if got := tt.zone.Label(tt.at); got != tt.want {
			t.Errorf("%s at %s = %q, want %q", tt.zone.Name, tt.at.Format("Jan"), got, tt.want)
		}
	}
}
