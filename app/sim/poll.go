package sim

import (
	"fmt"
	"slices"
)

// Poll is a poll's question and options.
type Poll struct {
	Name            string
	Options         []string
	MultipleAnswers bool
}

// Choice checks a vote's options against the poll and drops repeats.
func (p *Poll) Choice(options []string) ([]string, error) {
	selected := []string{}
	for _, o := range options {
		if !slices.Contains(p.Options, o) {
			return nil, fmt.Errorf("vote: %q is not an option of the poll: %w", o, ErrInvalid)
		}
		if !slices.Contains(selected, o) {
			selected = append(selected, o)
		}
	}
	if len(selected) > 1 && !p.MultipleAnswers {
		return nil, fmt.Errorf("vote: the poll takes one answer: %w", ErrInvalid)
	}
	return selected, nil
}

// Clone returns a copy of the poll; nil for nil.
func (p *Poll) Clone() *Poll {
	if p == nil {
		return nil
	}
	c := *p
	c.Options = slices.Clone(p.Options)
	return &c
}
