package sim

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// NewQRValue makes a value shaped like WhatsApp's pairing QR:
// "2@ref,noise key,identity key,adv secret".
func NewQRValue() string {
	part := func(n int) string {
		b := make([]byte, n)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		return base64.StdEncoding.EncodeToString(b)
	}
	return "2@" + part(48) + "," + part(32) + "," + part(32) + "," + part(32)
}

// NewPairingCode makes a code like WhatsApp's: eight letters and digits,
// shown as ABCD-EFGH.
func NewPairingCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTVWXYZ123456789"
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:4]) + "-" + string(b[4:])
}

// QRPNG renders a QR code value as a PNG.
func QRPNG(value string) ([]byte, error) {
	png, err := qrcode.Encode(value, qrcode.Medium, 292)
	if err != nil {
		return nil, fmt.Errorf("render QR code: %w", err)
	}
	return png, nil
}
