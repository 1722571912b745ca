package campaign_test

import (
	"testing"

	"github.com/myaibud/aibud/app/campaign"
)

func TestPhone(t *testing.T) {
	tests := []struct {
		name, raw, country string
		want, reason       string
	}{
		{"e164", "+34600112233", "ES", "+34600112233", ""},
		{"spaces", "+34 600 11 22 33", "ES", "+34600112233", ""},
		{"00 prefix", "0034600112233", "ES", "+34600112233", ""},
		{"00 prefix other country", "0034 600-11-22-33", "BR", "+34600112233", ""},
		{"national", "600112233", "ES", "+34600112233", ""},
		{"national dots", "600.11.22.33", "ES", "+34600112233", ""},
		{"no prefix international", "34600112233", "ES", "+34600112233", ""},
		{"no prefix, other country", "5511998765432", "ES", "+5511998765432", ""},
		{"no default country", "34600112233", "", "+34600112233", ""},
		{"apostrophe", "'+34 600112233", "ES", "+34600112233", ""},
		{"apostrophe no plus", "'0034600112233", "", "+34600112233", ""},
		{"brackets", "(11) 99876-5432", "BR", "+5511998765432", ""},
		{"plus in brackets", "(+55) 11 99876 5432", "ES", "+5511998765432", ""},
		{"brazil national trunk", "011 99876-5432", "BR", "+5511998765432", ""},
		{"france national", "06 12 34 56 78", "FR", "+33612345678", ""},
		{"uk national", "07911 123456", "GB", "+447911123456", ""},
		{"us dashes", "(415) 555-2671", "US", "+14155552671", ""},
		{"mexico", "+52 55 1234 5678", "MX", "+525512345678", ""},
		{"india", "098765 43210", "IN", "+919876543210", ""},
		{"indonesia", "0812-3456-7890", "ID", "+6281234567890", ""},
		{"excel float", "34600112233.0", "ES", "+34600112233", ""},
		{"excel float zeros", "34600112233.000", "", "+34600112233", ""},
		{"excel scientific full", "5.5119987654E+12", "BR", "+5511998765400", ""},
		{"excel scientific full 2", "3.4600112233E+10", "ES", "+34600112233", ""},
		{"excel scientific lowercase", "3.4600112233e10", "ES", "+34600112233", ""},
		{"excel scientific rounded", "5.51199E+12", "BR", "", campaign.ReasonRounded},
		{"excel scientific rounded 2", "3.46E+10", "ES", "", campaign.ReasonRounded},
		{"arabic indic digits", "+٣٤٦٠٠١١٢٢٣٣", "", "+34600112233", ""},
		{"nbsp", "+34\u00a0600\u00a0112\u00a0233", "ES", "+34600112233", ""},
		{"empty", "", "ES", "", campaign.ReasonEmpty},
		{"blank", "   ", "ES", "", campaign.ReasonEmpty},
		{"apostrophe only", "'", "ES", "", campaign.ReasonEmpty},
		{"letters", "call me", "ES", "", campaign.ReasonNotNumber},
		{"email", "ana@example.com", "ES", "", campaign.ReasonNotNumber},
		{"html", "<b>600112233</b>", "ES", "", campaign.ReasonNotNumber},
		{"too short", "12345", "ES", "", campaign.ReasonTooShort},
		{"too short intl", "+34 6001", "ES", "", campaign.ReasonTooShort},
		{"too long", "+34 600 112 233 445 566 77", "ES", "", campaign.ReasonTooLong},
		{"unknown country code", "+999 600112233", "ES", "", campaign.ReasonCountry},
		{"invalid", "+34 000 000 000", "ES", "", campaign.ReasonInvalid},
		{"dot read as a separator", "600112233.5", "ES", "", campaign.ReasonTooLong},
		{"two plus", "++34600112233", "ES", "", campaign.ReasonNotNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := campaign.Phone(tt.raw, tt.country)
			if got != tt.want || reason != tt.reason {
				t.Errorf("Phone(%q, %q) = %q, %q; want %q, %q", tt.raw, tt.country, got, reason, tt.want, tt.reason)
			}
		})
	}
}
