package campaign_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/campaign"
)

func TestGuessColumns(t *testing.T) {
	tests := []struct {
		desc           string
		headers        []string
		sample         [][]string
		phone, nameCol int
	}{
		{"english", []string{"Name", "Phone"}, [][]string{{"Ana", "+34600112233"}}, 1, 0},
		{"spanish accents", []string{"Teléfono Móvil", "NOMBRE"}, [][]string{{"600 11 22 33", "Ana"}}, 0, 1},
		{"portuguese", []string{"Nome completo", "Celular", "Cidade"}, [][]string{{"Ana", "(11) 99876-5432", "São Paulo"}}, 1, 0},
		{"french", []string{"Prénom", "Nom", "Numéro"}, [][]string{{"Anne", "Dupont", "06 12 34 56 78"}}, 2, 1},
		{"indonesian", []string{"Nama", "No. HP"}, [][]string{{"Budi", "0812-3456-7890"}}, 1, 0},
		{"arabic", []string{"الاسم", "رقم الجوال"}, [][]string{{"علي", "+966501234567"}}, 1, 0},
		{"dutch and german", []string{"Naam", "Handy"}, [][]string{{"Jan", "+31612345678"}}, 1, 0},
		{"whatsapp over phone", []string{"Phone", "Name", "WhatsApp"}, [][]string{{"+34911234567", "Ana", "+34600112233"}}, 2, 1},
		{"mobile over landline", []string{"Tel", "Mobile"}, [][]string{{"911234567", "600112233"}}, 1, -1},
		{"first name when no full name", []string{"First name", "Last name", "Cell"}, [][]string{{"Ana", "Pérez", "600112233"}}, 2, 0},
		{"full name over first name", []string{"First Name", "Full name", "wa"}, [][]string{{"Ana", "Ana Pérez", "600112233"}}, 2, 1},
		{"customer, phone from values", []string{"Cliente", "Contacto"}, [][]string{{"Ana", "600112233"}}, 1, 0},
		{"surname is no name", []string{"Apellido", "Telefono"}, [][]string{{"Pérez", "600112233"}}, 1, -1},
		{"phone from values", []string{"A", "B"}, [][]string{{"Ana", "600112233"}, {"Luis", "34600112244.0"}}, 1, -1},
		{"excel numbers", []string{"who", "x"}, [][]string{{"Ana", "5.51199E+12"}, {"Luis", "5.5119987654E+12"}}, 1, -1},
		{"number header with ids is no phone", []string{"Número de pedido", "Name"}, [][]string{{"1001", "Ana"}, {"1002", "Luis"}}, -1, 1},
		{"name header with numbers is no name", []string{"Name", "Phone"}, [][]string{{"12", "600112233"}}, 1, -1},
		{"no phone at all", []string{"Name", "City"}, [][]string{{"Ana", "Madrid"}}, -1, 0},
		{"headers only", []string{"Nombre", "WhatsApp"}, nil, 1, 0},
		{"empty values skipped", []string{"x", "y"}, [][]string{{"Ana", ""}, {"Luis", "600112233"}, {"Eva"}}, 1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m := campaign.GuessColumns(tt.headers, tt.sample)
			if m.Phone != tt.phone || m.Name != tt.nameCol {
				t.Errorf("phone %d name %d, want %d %d", m.Phone, m.Name, tt.phone, tt.nameCol)
			}
		})
	}
}

func TestNewMapping(t *testing.T) {
	m := campaign.NewMapping([]string{"First Name", "Teléfono", "Código Postal", "E-mail:", "", "first name", "¿?"}, 1, 0)
	want := []campaign.Variable{
		{Column: 0, Header: "First Name", Key: "first_name"},
		{Column: 2, Header: "Código Postal", Key: "codigo_postal"},
		{Column: 3, Header: "E-mail:", Key: "e_mail"},
		{Column: 4, Header: "", Key: "column_e"},
		{Column: 5, Header: "first name", Key: "first_name_2"},
		{Column: 6, Header: "¿?", Key: "column_g"},
	}
	if diff := cmp.Diff(want, m.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
}

func TestVariableKey(t *testing.T) {
	tests := []struct{ header, want string }{
		{"Name", "name"},
		{"  Full   Name ", "full_name"},
		{"Ciudad/Región", "ciudad_region"},
		{"Çağrı No.", "cagrı_no"},
		{"NÚMERO", "numero"},
		{"日期", "日期"},
		{"2024 total", "2024_total"},
	}
	for _, tt := range tests {
		if got := campaign.VariableKey(tt.header); got != tt.want {
			t.Errorf("VariableKey(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestColumnLetter(t *testing.T) {
	for i, want := range map[int]string{0: "A", 25: "Z", 26: "AA", 27: "AB", 701: "ZZ", 702: "AAA"} {
		if got := campaign.ColumnLetter(i); got != want {
			t.Errorf("ColumnLetter(%d) = %q, want %q", i, got, want)
		}
	}
}
