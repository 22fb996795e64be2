// SPDX-License-Identifier: Apache-2.0

package history

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

func w(c int, key, v string, call, ret int64, outcome string) Record {
	return Record{Client: c, Key: key, Op: OpWrite, Value: v, CallNs: call, ReturnNs: ret, Outcome: outcome}
}

func r(c int, key, v string, call, ret int64) Record {
	return Record{Client: c, Key: key, Op: OpRead, Value: v, CallNs: call, ReturnNs: ret, Outcome: Ok}
}

func verdict(t *testing.T, recs []Record) porcupine.CheckResult {
	t.Helper()
	res := Check(recs, 0)
	if res.Verdict == porcupine.Illegal {
		// The artifact a failing real run keeps; here it shows the
		// visualization works on an illegal history.
		p := filepath.Join(t.TempDir(), "history.html")
		if err := res.Visualize(p); err != nil {
			t.Fatalf("visualize: %v", err)
		}
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Fatalf("no visualization written: %v", err)
		}
	}
	return res.Verdict
}

func TestSequentialIsLinearizable(t *testing.T) {
	h := []Record{
		r(0, "a", "", 0, 1),
		w(0, "a", "x", 2, 3, Ok),
		r(1, "a", "x", 4, 5),
		w(1, "a", "y", 6, 7, Ok),
		r(0, "a", "y", 8, 9),
	}
	if v := verdict(t, h); v != porcupine.Ok {
		t.Fatalf("verdict %s, want Ok", v)
	}
}

func TestConcurrentReadMaySeeEitherValue(t *testing.T) {
	// The write overlaps both reads: one sees the old value, one the new.
	h := []Record{
		w(0, "a", "x", 0, 1, Ok),
		w(1, "a", "y", 2, 10, Ok),
		r(2, "a", "x", 3, 4),
		r(3, "a", "y", 5, 6),
	}
	if v := verdict(t, h); v != porcupine.Ok {
		t.Fatalf("verdict %s, want Ok", v)
	}
}

func TestStaleReadIsCaught(t *testing.T) {
	// y was acknowledged before the read began, yet the read saw x: what a
	// deposed leader serving reads from its own state would return.
	h := []Record{
		w(0, "a", "x", 0, 1, Ok),
		w(0, "a", "y", 2, 3, Ok),
		r(1, "a", "x", 4, 5),
	}
	if v := verdict(t, h); v != porcupine.Illegal {
		t.Fatalf("verdict %s, want Illegal", v)
	}
}

func TestLostWriteIsCaught(t *testing.T) {
	// An acknowledged write that a later read does not see, with nothing
	// written since: a write lost in a crash.
	h := []Record{
		w(0, "a", "x", 0, 1, Ok),
		r(1, "a", "", 2, 3),
	}
	if v := verdict(t, h); v != porcupine.Illegal {
		t.Fatalf("verdict %s, want Illegal", v)
	}
}

func TestUnknownWriteMayOrMayNotHaveHappened(t *testing.T) {
	// Its outcome unknown: later reads may see it...
	seen := []Record{
		w(0, "a", "x", 0, 1, Ok),
		w(1, "a", "y", 2, 3, Unknown),
		r(2, "a", "y", 10, 11),
	}
	if v := verdict(t, seen); v != porcupine.Ok {
		t.Fatalf("seen: verdict %s, want Ok", v)
	}
	// ...or not,
	unseen := []Record{
		w(0, "a", "x", 0, 1, Ok),
		w(1, "a", "y", 2, 3, Unknown),
		r(2, "a", "x", 10, 11),
	}
	if v := verdict(t, unseen); v != porcupine.Ok {
		t.Fatalf("unseen: verdict %s, want Ok", v)
	}
	// but once a read saw it, a later one cannot go back.
	flicker := []Record{
		w(0, "a", "x", 0, 1, Ok),
		w(1, "a", "y", 2, 3, Unknown),
		r(2, "a", "y", 10, 11),
		r(2, "a", "x", 12, 13),
	}
	if v := verdict(t, flicker); v != porcupine.Illegal {
		t.Fatalf("flicker: verdict %s, want Illegal", v)
	}
}

func TestFailedWriteNeverHappened(t *testing.T) {
	h := []Record{
		w(0, "a", "x", 0, 1, Ok),
		w(1, "a", "y", 2, 3, Fail),
		r(2, "a", "y", 10, 11),
	}
	if v := verdict(t, h); v != porcupine.Illegal {
		t.Fatalf("verdict %s, want Illegal", v)
	}
	if a := Anomalies(h); len(a) != 1 || !strings.Contains(a[0], "failed") {
		t.Fatalf("anomalies %q, want the read of a failed write", a)
	}
}

func TestKeysAreIndependent(t *testing.T) {
	h := []Record{
		w(0, "a", "x", 0, 1, Ok),
		w(1, "b", "y", 0, 1, Ok),
		r(0, "a", "x", 2, 3),
		r(1, "b", "y", 2, 3),
		r(1, "b", "x", 4, 5), // x was only ever written to a
	}
	if v := verdict(t, h); v != porcupine.Illegal {
		t.Fatalf("verdict %s, want Illegal", v)
	}
	if a := Anomalies(h); len(a) != 1 || !strings.Contains(a[0], "nobody wrote") {
		t.Fatalf("anomalies %q", a)
	}
}

func TestReadRejectsBadInput(t *testing.T) {
	cases := map[string]string{
		`{"client":0,"key":"a","op":"cas","value":"x","call_ns":0,"return_ns":1,"outcome":"ok"}`:    "op",
		`{"client":0,"key":"","op":"read","value":"","call_ns":0,"return_ns":1,"outcome":"ok"}`:     "empty key",
		`{"client":0,"key":"a","op":"read","value":"","call_ns":5,"return_ns":1,"outcome":"ok"}`:    "before its call",
		`{"client":0,"key":"a","op":"write","value":"","call_ns":0,"return_ns":1,"outcome":"ok"}`:   "empty value",
		`{"client":0,"key":"a","op":"read","value":"","call_ns":0,"return_ns":1,"outcome":"maybe"}`: "outcome",
		`{"client":0,"key":"a","op":"read","extra":1}`:                                              "unknown field",
		`not json`: "line 1",
	}
	for in, want := range cases {
		_, err := Read(strings.NewReader(in + "\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one naming %q", in, err, want)
		}
	}
	good := `{"client":0,"key":"a","op":"read","value":"","call_ns":0,"return_ns":1,"outcome":"ok"}`
	recs, err := Read(strings.NewReader(good + "\n\n" + good + "\n"))
	if err != nil || len(recs) != 2 {
		t.Fatalf("good history: %v, %d records", err, len(recs))
	}
}
