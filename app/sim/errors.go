package sim

import "errors"

// Errors of the stand-ins' control methods, to be checked with errors.Is.
// Each stand-in exports them under its own name as well.
var (
	// ErrUnknownSession: there is no session (instance) of that name.
	ErrUnknownSession = errors.New("sim: no such session")
	// ErrWrongStatus: the session is not in a status that allows the call.
	ErrWrongStatus = errors.New("sim: session is not in the right status")
	// ErrUnknownMessage: the session has no message with that id.
	ErrUnknownMessage = errors.New("sim: no such message")
	// ErrInvalid: an argument is empty or malformed.
	ErrInvalid = errors.New("sim: invalid argument")
)
