package campaign_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/campaign"
)

func TestClean(t *testing.T) {
	data := mustCSV(t, ';', [][]string{
		{"Lista de clientes"},
		{},
		{"Nombre", "Móvil", "Ciudad"},
		{"Ana", "+34 600 11 22 33", "Madrid"},
		{"Ana otra vez", "0034600112233", "Madrid"},
		{"Ana local", "600112233", ""},
		{"Luis", "34600112244.0", "Sevilla"},
		{"Eva", "", "Bilbao"},
		{"Pepe", "5.51199E+12", ""},
		{"Baja", "+34 600 99 88 77", ""},
		{"Baja repetida", "600998877", ""},
		{"Bruno", "5511998765432", "<script>alert(1)</script>"},
		{"Sin número", "llamar", ""},
	})
	s, err := campaign.Read(bytes.NewReader(data), "leads.csv", campaign.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := campaign.GuessColumns(s.Headers, s.Sample(20))
	optedOut := func(e164 string) bool { return e164 == "+34600998877" }
	r, err := campaign.Clean(s, m, "ES", optedOut)
	if err != nil {
		t.Fatal(err)
	}
	wantRecipients := []campaign.Recipient{
		{Row: 4, Phone: "+34600112233", Name: "Ana", Variables: map[string]string{"nombre": "Ana", "ciudad": "Madrid"}},
		{Row: 7, Phone: "+34600112244", Name: "Luis", Variables: map[string]string{"nombre": "Luis", "ciudad": "Sevilla"}},
		{Row: 12, Phone: "+5511998765432", Name: "Bruno", Variables: map[string]string{"nombre": "Bruno", "ciudad": "<script>alert(1)</script>"}},
	}
	if diff := cmp.Diff(wantRecipients, r.Recipients); diff != "" {
		t.Errorf("recipients (-want +got):\n%s", diff)
	}
	wantDropped := []campaign.Dropped{
		{Row: 5, Value: "0034600112233", Phone: "+34600112233", Name: "Ana otra vez", Kind: campaign.DropDuplicate, DuplicateOf: 4, Reason: "same number as row 4"},
		{Row: 6, Value: "600112233", Phone: "+34600112233", Name: "Ana local", Kind: campaign.DropDuplicate, DuplicateOf: 4, Reason: "same number as row 4"},
		{Row: 8, Name: "Eva", Kind: campaign.DropEmpty, Reason: campaign.ReasonEmpty},
		{Row: 9, Value: "5.51199E+12", Name: "Pepe", Kind: campaign.DropInvalid, Reason: campaign.ReasonRounded},
		{Row: 10, Value: "+34 600 99 88 77", Phone: "+34600998877", Name: "Baja", Kind: campaign.DropOptedOut, Reason: "opted out of messages"},
		{Row: 11, Value: "600998877", Phone: "+34600998877", Name: "Baja repetida", Kind: campaign.DropDuplicate, DuplicateOf: 10, Reason: "same number as row 10"},
		{Row: 13, Value: "llamar", Name: "Sin número", Kind: campaign.DropInvalid, Reason: campaign.ReasonNotNumber},
	}
	if diff := cmp.Diff(wantDropped, r.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	wantCounts := map[campaign.DropKind]int{campaign.DropDuplicate: 3, campaign.DropEmpty: 1, campaign.DropInvalid: 2, campaign.DropOptedOut: 1}
	if diff := cmp.Diff(wantCounts, r.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func TestCleanNoPhoneColumn(t *testing.T) {
	s, err := campaign.Read(strings.NewReader("Name,City\nAna,Madrid\n"), "leads.csv", campaign.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := campaign.GuessColumns(s.Headers, s.Sample(20))
	if m.Phone != -1 {
		t.Fatalf("phone column %d, want none", m.Phone)
	}
	if _, err := campaign.Clean(s, m, "ES", nil); !errors.Is(err, campaign.ErrNoPhoneColumn) {
		t.Errorf("err %v, want ErrNoPhoneColumn", err)
	}
	// The tenant's own choice of column is used as given.
	r, err := campaign.Clean(s, campaign.NewMapping(s.Headers, 1, 0), "ES", nil)
	if err != nil || len(r.Recipients) != 0 || len(r.Dropped) != 1 || r.Dropped[0].Reason != campaign.ReasonNotNumber {
		t.Errorf("override: %+v, %v", r, err)
	}
}

func TestCleanWorkbook(t *testing.T) {
	data := mustXLSX(t, map[string][][]any{"Hoja1": {
		{"Nombre", "WhatsApp"},
		{"Ana", 34600112233},
		{"Luis", 5511998765432.0},
		{"Eva", "'600112255"},
		{"Ana", 600112233},
	}}, "Hoja1")
	s, err := campaign.Read(bytes.NewReader(data), "leads.xlsx", campaign.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := campaign.Clean(s, campaign.GuessColumns(s.Headers, s.Sample(20)), "ES", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range r.Recipients {
		got = append(got, p.Phone)
	}
	if diff := cmp.Diff([]string{"+34600112233", "+5511998765432", "+34600112255"}, got); diff != "" {
		t.Errorf("phones (-want +got):\n%s", diff)
	}
	if len(r.Dropped) != 1 || r.Dropped[0].DuplicateOf != 2 {
		t.Errorf("dropped %+v, want row 6 as a duplicate of row 2", r.Dropped)
	}
}

func TestWriteReportCSV(t *testing.T) {
	r := campaign.Report{
		Recipients: []campaign.Recipient{{Row: 2, Phone: "+34600112233", Name: "Ana"}, {Row: 5, Phone: "+34600112244", Name: "=HYPERLINK(\"x\")"}},
		Dropped: []campaign.Dropped{
			{Row: 3, Value: "600112233", Phone: "+34600112233", Name: "Ana", Kind: campaign.DropDuplicate, DuplicateOf: 2, Reason: "same number as row 2"},
			{Row: 4, Value: "-2+3", Name: "@x", Kind: campaign.DropInvalid, Reason: campaign.ReasonNotNumber},
		},
	}
	var b bytes.Buffer
	if err := r.WriteReportCSV(&b); err != nil {
		t.Fatal(err)
	}
	want := "\uFEFFRow,Phone in file,WhatsApp number,Name,Result,Reason\n" +
		"2,,+34600112233,Ana,kept,\n" +
		"3,600112233,+34600112233,Ana,dropped,same number as row 2\n" +
		"4,'-2+3,,'@x,dropped,not a phone number\n" +
		"5,,+34600112244,\"'=HYPERLINK(\"\"x\"\")\",kept,\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}
