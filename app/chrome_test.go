package app_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chrome drives one headless Chromium tab for an end-to-end test. Console
// errors (including CSP violations, which static/js/app.js reports) and
// uncaught exceptions fail the test.
type chrome struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed: run the tests with `make test`")
	}
	t.Skip("Chromium is not installed: run the tests with `make test`")
	return ""
}

// newChrome starts a browser with a window of the given size.
func newChrome(t *testing.T, width, height int) *chrome {
	t.Helper()
	path := chromiumPath(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	c := &chrome{t: t, ctx: ctx}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.problems {
			t.Errorf("browser: %s", p)
		}
	})
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				c.problem("console error: " + strings.Join(parts, " "))
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			c.problem("uncaught exception: " + (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		}
	}()
	return c
}

func (c *chrome) problem(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, s)
}

// newTab opens another tab of the same browser (e.g. the simulator's phone
// page beside the app).
func (c *chrome) newTab(t *testing.T) *chrome {
	t.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return &chrome{t: t, ctx: ctx}
}

// do runs steps with a timeout.
func (c *chrome) do(steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.shot("failure")
		c.t.Fatalf("browser: %v", err)
	}
}

// text returns the trimmed text of the first element matching sel.
func (c *chrome) text(sel string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		c.shot("failure")
		c.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression through DevTools.
func eval[T any](c *chrome, expr string) T {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		c.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitText waits until the text of sel satisfies ok; the page is polled from
// Go, so nothing has to run inside the page under its CSP.
func (c *chrome) waitText(sel string, within time.Duration, ok func(string) bool) string {
	c.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
			`(function(){var e=document.querySelector(%q);return e?e.textContent.trim():"";})()`, sel)))
		cancel()
		if err == nil {
			last = s
			if ok(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			c.shot("timeout")
			c.t.Fatalf("waited %s for %s; last text %q", within, sel, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLive waits until the page's live-updates stream is open.
func (c *chrome) waitLive() {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for eval[string](c, `document.body.dataset.live || ""`) != "open" {
		if time.Now().After(deadline) {
			c.shot("not-live")
			c.t.Fatal("the live-updates stream did not open")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *chrome) location() string {
	c.t.Helper()
	return eval[string](c, `location.pathname + location.search`)
}

// waitPath waits until the browser is on path.
func (c *chrome) waitPath(path string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.location() != path {
		if time.Now().After(deadline) {
			c.shot("wrong-page")
			c.t.Fatalf("browser on %s, want %s", c.location(), path)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shot saves a full-page PNG under testdata/artifacts, named after the test.
func (c *chrome) shot(name string) string {
	dir := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Logf("screenshot: %v", err)
		return ""
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	file := filepath.Join(dir, strings.ReplaceAll(c.t.Name(), "/", "_")+"-"+name+".png")
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		c.t.Logf("screenshot: %v", err)
	}
	return file
}

// noHorizontalScroll fails when the page is wider than the window, the usual
// way a layout breaks on a phone.
func (c *chrome) noHorizontalScroll() {
	c.t.Helper()
	if over := eval[float64](c, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
		c.shot("overflow")
		c.t.Errorf("page is %vpx wider than the window", over)
	}
}
