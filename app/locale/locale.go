// Package locale holds the time zones and countries a tenant chooses from.
//
// The lists are embedded text files taken from the IANA time zone database
// (tzdata 2025b): zones.tsv is zone.tab (every zone with the country it is
// in, one zone per country at least, so a business in Oslo finds
// Europe/Oslo), links.tsv maps old names that browsers still report
// (Asia/Calcutta, Europe/Kiev, Etc/UTC) to the zone listed, and
// countries.tsv names every region github.com/nyaruka/phonenumbers reads
// numbers for (names from tzdata's iso3166.tab, a few made plainer).
// time.LoadLocation loads every zone listed; main imports time/tzdata so it
// does without the system's zoneinfo.
package locale

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"time"
)

// UTC is the time zone used when none is chosen.
const UTC = "UTC"

// Zone is a time zone offered to tenants.
type Zone struct {
	// Name is the IANA name, e.g. Europe/Madrid.
	Name string
	// Country is the ISO 3166 region the zone is in, "" for UTC.
	Country string
	loc     *time.Location
}

// Label is how the zone shows in a list: its name made readable, with its
// offset from UTC at t, e.g. "America/Sao Paulo (UTC−03:00)".
func (z Zone) Label(t time.Time) string {
	readable := strings.ReplaceAll(z.Name, "_", " ")
	if z.loc == nil {
		return readable
	}
	_, off := t.In(z.loc).Zone()
	return fmt.Sprintf("%s (%s)", readable, offsetText(off))
}

// Country is a region whose phone numbers can be read.
type Country struct {
	// Code is the ISO 3166 alpha-2 code, e.g. ES.
	Code string
	Name string
}

//go:embed zones.tsv
var zonesTSV string

//go:embed links.tsv
var linksTSV string

//go:embed countries.tsv
var countriesTSV string

// Lists are the parsed tables. Parse them once with Load and pass them on.
type Lists struct {
	zones     []Zone
	zoneIndex map[string]int
	links     map[string]string
	countries []Country
	names     map[string]string
}

// Load parses the embedded tables and loads every zone (once: a zone's
// offset is then cheap to show on every page).
func Load() *Lists {
	l := &Lists{zoneIndex: map[string]int{}, links: map[string]string{}, names: map[string]string{}}
	l.zones = append(l.zones, Zone{Name: UTC})
	for _, f := range rows(zonesTSV) {
		l.zones = append(l.zones, Zone{Name: f[0], Country: f[1]})
	}
	sort.Slice(l.zones[1:], func(i, j int) bool { return l.zones[i+1].Name < l.zones[j+1].Name })
	for i, z := range l.zones {
		l.zoneIndex[z.Name] = i
		l.zones[i].loc, _ = time.LoadLocation(z.Name)
	}
	for _, f := range rows(linksTSV) {
		l.links[f[0]] = f[1]
	}
	for _, f := range rows(countriesTSV) {
		l.countries = append(l.countries, Country{Code: f[0], Name: f[1]})
		l.names[f[0]] = f[1]
	}
	sort.Slice(l.countries, func(i, j int) bool { return l.countries[i].Name < l.countries[j].Name })
	return l
}

func rows(tsv string) [][2]string {
	var out [][2]string
	for _, line := range strings.Split(tsv, "\n") {
		a, b, ok := strings.Cut(line, "\t")
		if ok {
			out = append(out, [2]string{a, b})
		}
	}
	return out
}

// Zones lists the time zones, UTC first, then by name.
func (l *Lists) Zones() []Zone { return l.zones }

// Countries lists the countries by name.
func (l *Lists) Countries() []Country { return l.countries }

// Timezone returns the listed zone a name stands for: the name itself, or
// the zone an old name links to. ok is false for anything else.
func (l *Lists) Timezone(name string) (zone string, ok bool) {
	name = strings.TrimSpace(name)
	if to, linked := l.links[name]; linked {
		name = to
	}
	if _, listed := l.zoneIndex[name]; !listed {
		return "", false
	}
	return name, true
}

// CountryName returns the name of a listed country code, "" when unknown.
func (l *Lists) CountryName(code string) string { return l.names[code] }

// KnownCountry reports whether code is a listed country.
func (l *Lists) KnownCountry(code string) bool { return l.names[code] != "" }

// offsetText writes an offset in seconds as UTC±hh:mm, with a true minus.
func offsetText(seconds int) string {
	sign := "+"
	if seconds < 0 {
		sign, seconds = "−", -seconds
	}
	return fmt.Sprintf("UTC%s%02d:%02d", sign, seconds/3600, seconds%3600/60)
}
