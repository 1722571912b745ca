package campaign

// Header words, compared lower case without accents (see headerWords), in
// the languages of the customers: English, Spanish, Portuguese, French,
// Italian, German, Dutch, Indonesian/Malay, Turkish, Arabic.
var (
	// whatsappWords outrank every other phone word.
	whatsappWords = wordSet("whatsapp", "whats", "wa", "wsp", "wpp", "zap", "zapzap", "واتساب", "واتس")
	mobileWords   = wordSet("mobile", "mobil", "cell", "cellphone", "cellular", "celular", "cel", "movil", "handphone", "hp", "handy", "portable", "cellulare", "gsm", "msisdn", "جوال", "موبايل", "محمول")
	phoneWords    = wordSet("phone", "phones", "telephone", "tel", "tele", "telf", "tlf", "tfno", "telefono", "telefone", "telefon", "telephon", "fone", "fon", "nomor", "no", "hape", "هاتف", "تلفون")
	numberWords   = wordSet("number", "numero", "num", "nr", "nro", "numer", "nummer", "rakam", "رقم")

	// fullNameWords name a person's whole name.
	fullNameWords = wordSet("name", "names", "nombre", "nombres", "nome", "nom", "naam", "nama", "isim", "ad", "adi", "اسم", "الاسم", "fullname", "vollname")
	firstWords    = wordSet("first", "firstname", "given", "pila", "primeiro", "prenom", "vorname", "voornaam", "depan")
	// notNameWords disqualify a name header: surnames, companies, users.
	notNameWords = wordSet("last", "surname", "surnames", "family", "apellido", "apellidos", "sobrenome", "nachname", "achternaam", "belakang", "company", "empresa", "business", "user", "username", "file", "product", "producto", "produto", "campaign", "sheet")
	personWords  = wordSet("cliente", "client", "customer", "contacto", "contato", "contact", "contatto", "kontak", "lead", "klant", "kunde", "pelanggan")
)

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// phoneHeaderRank scores a header for the phone column: 4 WhatsApp, 3
// mobile, 2 phone, 1 a bare number, 0 none.
func phoneHeaderRank(words []string) int {
	rank := 0
	for _, w := range words {
		switch {
		case whatsappWords[w]:
			rank = max(rank, 4)
		case mobileWords[w]:
			rank = max(rank, 3)
		case phoneWords[w]:
			rank = max(rank, 2)
		case numberWords[w]:
			rank = max(rank, 1)
		}
	}
	return rank
}

// nameHeaderRank scores a header for the name column: 4 a name ("Name",
// "Nombre completo"), 3 a first name, 2 a person ("Cliente", "Contact"),
// 0 none or a surname, company or user name.
func nameHeaderRank(words []string) int {
	rank, first := 0, false
	for _, w := range words {
		switch {
		case notNameWords[w]:
			return 0
		case firstWords[w]:
			first = true
		case fullNameWords[w]:
			rank = max(rank, 4)
		case personWords[w]:
			rank = max(rank, 2)
		}
	}
	if first && rank > 0 || first && len(words) == 1 {
		return 3
	}
	return rank
}
