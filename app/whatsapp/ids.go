package whatsapp

import "strings"

// MessageKey is a message's own id. WAHA writes ids as
// "<fromMe>_<chat>_<id>[_<participant>]", and a pre-generated id is the bare
// "<id>"; both name the same message, so stores key messages by this.
func MessageKey(id string) string {
	if strings.HasPrefix(id, "true_") || strings.HasPrefix(id, "false_") {
		if parts := strings.Split(id, "_"); len(parts) >= 3 {
			return parts[2]
		}
	}
	return id
}
