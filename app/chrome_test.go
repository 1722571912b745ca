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

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chrome drives one headless Chromium tab for an end-to-end test. Console
// errors (including CSP violations, which static/js/app.js reports) and
// uncaught exceptions fail the test.
type chrome struct {
	t   *testing.T
	ctx context.Context
	// base is the app's URL, for tests that set it.
	base string

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
	if err := chromedp.Do(ctx, traceLive); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	// Headless windows are at least 500px wide: a phone's width must be
	// emulated.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("viewport: %v", err)
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
				msg := strings.Join(parts, " ")
				// Live regions abort a stale re-fetch when a newer update
				// arrives (hx-sync replace); htmx logs the abort. Failed
				// requests still show as htmx:responseError.
				if strings.HasPrefix(msg, "htmx:sendAbort") || strings.HasPrefix(msg, "htmx:afterRequest") {
					continue
				}
				c.problem("console error: " + msg)
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
	if err := chromedp.Do(ctx, traceLive); err != nil {
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

// click clicks sel, trying again when the node was replaced between finding
// and clicking it (live regions re-render when the stream connects).
func (c *chrome) click(sel string) {
	c.t.Helper()
	c.settle()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.shot("click-failed")
	c.t.Fatalf("click %s: %v", sel, err)
}

// text returns the trimmed text of the first element matching sel, read
// through a fresh query (a live region may have been re-rendered since).
func (c *chrome) text(sel string) string {
	c.t.Helper()
	return c.waitText(sel, 10*time.Second, func(string) bool { return true })
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
	last := "(no such element)"
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[*string](fmt.Sprintf(
			`(function(){var e=document.querySelector(%q);return e?e.textContent.trim():null;})()`, sel)))
		cancel()
		if err == nil && s != nil {
			last = *s
			if ok(last) {
				return last
			}
		}
		if time.Now().After(deadline) {
			c.shot("timeout")
			c.t.Fatalf("waited %s for %s; last text %q; live-update trace: %s", within, sel, last, c.liveTrace())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// liveTraceJS records, on every page, the last live-update events and the
// requests and swaps they cause, so that a live region that did not update
// can be explained from the test's failure message.
const liveTraceJS = `(function(){
  var log = window.__liveTrace = [];
  function add(s) { log.push(Math.round(performance.now()) + "ms " + s); if (log.length > 80) log.shift(); }
  var Native = window.EventSource;
  window.EventSource = function(url, init) {
    var es = new Native(url, init);
    ["credits-updated","instance-updated","instance-qr","message-created","message-updated","contact-updated","campaign-updated","questions-updated","resync"].forEach(function(name){
      es.addEventListener(name, function(){ add("received " + name); });
    });
    return es;
  };
  window.EventSource.prototype = Native.prototype;
  ["CONNECTING","OPEN","CLOSED"].forEach(function(k){ window.EventSource[k] = Native[k]; });
  ["htmx:sseOpen","htmx:sseError","htmx:sseClose","htmx:sseMessage","htmx:beforeRequest",
   "htmx:sendAbort","htmx:responseError","htmx:afterSwap"].forEach(function(name){
    document.addEventListener(name, function(e){
      var d = e.detail || {}, t = e.target || {};
      add(name.slice(5) + " " + (d.type || "") + " #" + (t.id || t.tagName || ""));
    }, true);
  });
})();`

var traceLive = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: liveTraceJS})
	return err
})

// liveTrace is the page's recent live-update events, oldest first.
func (c *chrome) liveTrace() string {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(window.__liveTrace || []).join("; ")`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}

// settle waits (briefly) until no htmx request or swap is under way, so that
// a click does not press on an element and release on its replacement (a
// live region re-fetched when the page's stream opens, say).
func (c *chrome) settle() {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	quiet := 0
	for quiet < 2 && time.Now().Before(deadline) {
		if eval[bool](c, `document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling") === null`) {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(50 * time.Millisecond)
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
	c.settle()
}

func (c *chrome) location() string {
	c.t.Helper()
	return eval[string](c, `location.pathname + location.search`)
}

// waitPath waits until the browser is on path.
func (c *chrome) waitPath(path string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// A page that is navigating cannot answer; ask again.
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		at, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + location.search`))
		cancel()
		if err == nil && at == path {
			return
		}
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
