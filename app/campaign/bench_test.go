package campaign_test

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/campaign"
)

// BenchmarkImport100k reads, maps and cleans a generated 100,000-row lead
// list as .xlsx and as CSV, and reports rows/s, the peak heap in use during
// the import (sampled every 5 ms), the CPU time per import (user + system,
// all goroutines, GC included) and the process's peak RSS (VmHWM, which
// includes generating the files). Targets on a 2-core machine: xlsx under
// 10 s and 300 MB, CSV under 5 s.
func BenchmarkImport100k(b *testing.B) {
	const n = 100_000
	var once sync.Once
	var files map[string][]byte
	gen := func() {
		files = map[string][]byte{"xlsx": rowsXLSX(b, n), "csv": rowsCSV(n)}
	}
	for _, format := range []string{"xlsx", "csv"} {
		b.Run(format, func(b *testing.B) {
			once.Do(gen)
			data := files[format]
			runtime.GC()
			peak := sampleHeap()
			start, cpu0 := time.Now(), cpuTime()
			for b.Loop() {
				importAll(b, data, n)
			}
			elapsed := time.Since(start)
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(vmHWM())/(1<<10), "VmHWM-MB")
			b.ReportMetric(float64(len(data))/(1<<20), "file-MB")
		})
	}
}

// importAll is what the upload handler will do with a file.
func importAll(b *testing.B, data []byte, n int) {
	s, err := campaign.Read(bytes.NewReader(data), "leads", campaign.ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	m := campaign.GuessColumns(s.Headers, s.Sample(50))
	optedOut := map[string]bool{"+34600000007": true}
	r, err := campaign.Clean(s, m, "ES", func(e164 string) bool { return optedOut[e164] })
	if err != nil {
		b.Fatal(err)
	}
	if len(r.Recipients) != n-1 {
		b.Fatalf("%d recipients, %+v", len(r.Recipients), r.Dropped[:min(3, len(r.Dropped))])
	}
}

// sampleHeap samples HeapInuse until the returned function is called,
// which returns the highest value seen.
func sampleHeap() func() uint64 {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-result
	}
}

// cpuTime is the user and system CPU time of the process so far: on a
// loaded machine it says more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vmHWM is the process's peak resident set in KiB, or 0 off Linux.
func vmHWM() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb
		}
	}
	return 0
}
