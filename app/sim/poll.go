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

// Creation is the poll as WhatsApp's poll creation message holds it:
// name, options [{optionName}] and selectableOptionsCount (1 for a single
// answer, 0 for any number).
func (p *Poll) Creation() map[string]any {
	options := make([]map[string]string, len(p.Options))
	for i, o := range p.Options {
		options[i] = map[string]string{"optionName": o}
	}
	count := 1
	if p.MultipleAnswers {
		count = 0
	}
	return map[string]any{"name": p.Name, "options": options, "selectableOptionsCount": count}
}

// Cast records voter's choice in the poll in votes (by voter, made when
// nil), as WhatsApp does: the options ticked replace the voter's earlier
// choice, and none withdraws the vote. It returns the choice.
func (p *Poll) Cast(votes *map[string][]string, voter string, options []string) ([]string, error) {
	selected, err := p.Choice(options)
	if err != nil {
		return nil, err
	}
	if *votes == nil {
		*votes = make(map[string][]string)
	}
	(*votes)[voter] = selected
	return selected, nil
}

// SortedKeys returns a map's keys in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Each returns f of each value of the map, in the order of the keys.
func Each[V, T any](m map[string]V, f func(V) T) []T {
	out := make([]T, 0, len(m))
	for _, k := range SortedKeys(m) {
		out = append(out, f(m[k]))
	}
	return out
}
