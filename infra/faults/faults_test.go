package faults_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/workplace/connections/shared/faulttest"
)

// TestFaults runs each flow clean to count the calls it makes to the
// store, the vault, the mailer and the vendor, then once for every one of
// those calls and every kind of failure, failing that call; after each it
// checks the invariants (world.check), retries, and checks the invariants
// and the flow's final state again.
func TestFaults(t *testing.T) {
	var points, steps atomic.Int64
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			calls := cleanRun(t, f)
			steps.Add(int64(len(calls)))
			ports := map[string]int{}
			for _, c := range calls {
				ports[strings.SplitN(c.Name, ".", 2)[0]]++
			}
			t.Logf("%s: %d calls (store %d, vault %d, mail %d, bus %d, vendor %d): %d injection points",
				f.name, len(calls), ports["store"], ports["vault"], ports["mail"], ports["bus"],
				len(calls)-ports["store"]-ports["vault"]-ports["mail"]-ports["bus"], len(calls)*len(faulttest.Kinds))
			for i, call := range calls {
				for _, kind := range faulttest.Kinds {
					points.Add(1)
					t.Run(fmt.Sprintf("%02d-%s/%s", i+1, call.Name, kind), func(t *testing.T) {
						injectAt(t, f, i+1, kind, call)
					})
				}
			}
		})
	}
	t.Cleanup(func() {
		t.Logf("%d flows, %d steps, %d kinds of failure: %d injection points", len(flows), steps.Load(), len(faulttest.Kinds), points.Load())
		f := &eventFigures
		if f.runs.Load() > 0 {
			t.Logf("events over %d runs (clean and injected, each after its retry): %d committed changes, %d events published "+
				"(%d distinct, %d duplicates): published ÷ committed = %.3f; %d changes attempted and not committed, %d events of them; "+
				"%d runs lost the answer of a commit (the caller gone right after it)",
				f.runs.Load(), f.committed.Load(), f.published.Load(), f.distinct.Load(), f.duplicates.Load(),
				float64(f.distinct.Load())/float64(f.committed.Load()), f.failedChanges.Load(), f.eventsOfFailed.Load(), f.afterCommit.Load())
		}
	})
}

// cleanRun runs flow f with nothing failing, checks it, and answers the
// calls it made.
func cleanRun(t testing.TB, f flow) []faulttest.Call {
	t.Helper()
	clean := newWorld(t)
	f.setup(clean)
	clean.started()
	clean.inj.Reset()
	if err := f.run(clean); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	calls := clean.inj.Calls()
	clean.check("clean run", f.removes, calls)
	f.final(clean, faulttest.Call{})
	clean.checkEvents("clean run", true)
	return calls
}

// injectAt runs flow f failing its call n as kind; clean is that call in
// the clean run.
func injectAt(t testing.TB, f flow, n int, kind faulttest.Kind, clean faulttest.Call) {
	w := newWorld(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", w.logs.String())
		}
	})
	f.setup(w)
	w.started()
	w.inj.Arm(n, kind)
	runErr := f.run(w)
	w.inj.Disarm()
	calls := w.inj.Calls()
	if len(calls) < n || calls[n-1].Name != clean.Name || !calls[n-1].Injected {
		t.Fatalf("call %d is not %s as in the clean run: the flow is not deterministic (%d calls)", n, clean.Name, len(calls))
	}
	injected := calls[n-1]
	stage := fmt.Sprintf("after %s failed (%s; the flow answered %v)", describeCall(injected), kind, errText(runErr))
	w.check(stage, f.removes, calls)

	w.inj.Reset()
	if err := f.retry(w); err != nil {
		t.Fatalf("%s: the retry failed: %v", stage, err)
	}
	stage = "after the retry of a flow whose " + describeCall(injected) + " failed (" + kind.String() + ")"
	w.check(stage, f.removes, w.inj.Calls())
	f.final(w, injected)
	w.refreshAll(stage)
	w.checkEvents(stage, true)
	if injected.Name == "store.Apply" && kind == faulttest.LostAnswer {
		eventFigures.afterCommit.Add(1) // a caller gone right after its commit
	}
}

func errText(err error) string {
	if err == nil {
		return "success"
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// BenchmarkEventsUnderFaults is the events' measurement for make bench:
// one op is the whole suite, run one flow and one injection at a time
// (every flow clean, then once per call and kind of failure, each with its
// retry), and the metrics are the suite's events: distinct events
// published ÷ committed changes (1), duplicates among them, and events of
// changes that did not commit (0).
func BenchmarkEventsUnderFaults(b *testing.B) {
	for b.Loop() {
		eventFigures.reset()
		for _, f := range flows {
			calls := cleanRun(b, f)
			for i, call := range calls {
				for _, kind := range faulttest.Kinds {
					injectAt(b, f, i+1, kind, call)
				}
			}
		}
	}
	f := &eventFigures
	b.ReportMetric(float64(f.distinct.Load())/float64(f.committed.Load()), "published/committed")
	b.ReportMetric(float64(f.committed.Load()), "changes/op")
	b.ReportMetric(float64(f.duplicates.Load()), "duplicates/op")
	b.ReportMetric(float64(f.eventsOfFailed.Load()), "events-of-uncommitted/op")
}
