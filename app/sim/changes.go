package sim

// Changes counts the changes a stand-in's phone page shows and wakes the
// page's waiting requests. The stand-in's lock guards it; the zero value
// is ready to use.
type Changes struct {
	version int
	changed chan struct{}
}

// Notify counts a change and wakes the waiters.
func (c *Changes) Notify() {
	c.version++
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
}

// Watch returns the version and a channel closed at the next change.
func (c *Changes) Watch() (int, <-chan struct{}) {
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.version, c.changed
}
