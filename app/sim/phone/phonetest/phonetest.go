// Package phonetest opens the stand-ins' phone page (package phone) in a
// headless Chromium, for their browser tests.
package phonetest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser starts a headless Chromium with a phone-sized window for the
// test, or skips the test when none is installed (fails it when CI is
// set: `make test` installs one). It returns the context to run chromedp
// actions in, which ends after 30 s, and a function that lists the script
// errors the pages threw so far.
func Browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Chromium is not installed: run the tests with `make test`")
		}
		t.Skip("Chromium is not installed: run the tests with `make test`")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
	)
	t.Cleanup(cancelAlloc)
	browser, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	exceptions := chromedp.Events(browser, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			mu.Lock()
			problems = append(problems, (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
			mu.Unlock()
		}
	}()
	ctx, cancelRun := context.WithTimeout(browser, 30*time.Second)
	t.Cleanup(cancelRun)
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// WaitConversation waits up to 10 s for the open conversation's HTML to
// contain want (a text, or markup such as an image's src), and fails the
// test if it never does.
func WaitConversation(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	expr := `(document.querySelector("[data-testid=conversation]") || {innerHTML: ""}).innerHTML`
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		html, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the conversation never showed %q: %q", want, html)
		}
	}
}
