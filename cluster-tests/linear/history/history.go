// SPDX-License-Identifier: Apache-2.0

// Package history records and checks histories of register operations
// (checkpoint saves and loads of naos, one register per key) for
// linearizability with porcupine, the checker etcd's robustness tests
// use (RAFT-LITE §6.5). Nothing here is naos-specific but the words.
//
// A history is a file of JSON lines, one Record per operation:
//
//	{"client":0,"key":"reg0","op":"write","value":"c0-1","call_ns":10,"return_ns":25,"outcome":"ok"}
//
// outcome is "ok" (took effect; for a read, value is what it returned, ""
// when the register had never been written), "fail" (definitely did not
// take effect: refused before it was proposed) or "unknown" (it may have
// taken effect at any time after its call: a timeout, a lost connection,
// a node killed while it was being answered).
package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
)

// Op is "read" or "write".
const (
	OpRead  = "read"
	OpWrite = "write"
)

// Outcomes.
const (
	Ok      = "ok"
	Fail    = "fail"
	Unknown = "unknown"
)

// Record is one operation of a history.
type Record struct {
	Client   int    `json:"client"`
	Key      string `json:"key"`
	Op       string `json:"op"`
	Value    string `json:"value"`
	CallNs   int64  `json:"call_ns"`
	ReturnNs int64  `json:"return_ns"`
	Outcome  string `json:"outcome"`
	// Err: why an operation was not ok, as the CLI said (its first line,
	// at most 200 bytes); for the reader only, never checked.
	Err string `json:"err,omitempty"`
}

// MaxRecords bounds what Read accepts: the checker's search is
// exponential in the worst case, so a history is kept to what it can
// decide (RAFT-LITE §6.5: 1-5k operations per run).
const MaxRecords = 100000

// MaxLine bounds one JSON line.
const MaxLine = 64 * 1024

// Validate says what is wrong with r, or nil.
func (r Record) Validate() error {
	switch {
	case r.Client < 0:
		return fmt.Errorf("client %d is negative", r.Client)
	case r.Key == "":
		return fmt.Errorf("empty key")
	case r.Op != OpRead && r.Op != OpWrite:
		return fmt.Errorf("op %q is neither %q nor %q", r.Op, OpRead, OpWrite)
	case r.Outcome != Ok && r.Outcome != Fail && r.Outcome != Unknown:
		return fmt.Errorf("outcome %q is not ok, fail or unknown", r.Outcome)
	case r.Op == OpWrite && r.Value == "":
		return fmt.Errorf("a write of the empty value (\"\" means never written)")
	case r.ReturnNs < r.CallNs && r.Outcome != Unknown:
		return fmt.Errorf("returns (%d) before its call (%d)", r.ReturnNs, r.CallNs)
	}
	return nil
}

// Read parses a history; errors name the line.
func Read(in io.Reader) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 4096), MaxLine)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		if len(recs) == MaxRecords {
			return nil, fmt.Errorf("line %d: more than %d operations", line, MaxRecords)
		}
		var r Record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %v", line+1, err)
	}
	return recs, nil
}

// Write writes recs as JSON lines.
func Write(out io.Writer, recs []Record) error {
	enc := json.NewEncoder(out)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// Operations turns records into porcupine's operations:
//   - a failed operation did not happen: left out;
//   - a write of unknown outcome may have happened at any time after its
//     call, or never: it returns at +infinity (linearized last, it changes
//     nothing anyone saw);
//   - a read of unknown outcome tells nothing: left out.
func Operations(recs []Record) []Op {
	var ops []Op
	for _, r := range recs {
		switch {
		case r.Outcome == Fail:
			continue
		case r.Outcome == Unknown && r.Op == OpRead:
			continue
		}
		ret := r.ReturnNs
		if r.Outcome == Unknown {
			ret = math.MaxInt64
		}
		ops = append(ops, Op{Rec: r, Call: r.CallNs, Return: ret})
	}
	return ops
}

// Op is one operation as the checker sees it.
type Op struct {
	Rec    Record
	Call   int64
	Return int64
}

// Anomalies are the cheap checks beside the search (RAFT-LITE §6.5): each
// string names one read that returned a value no write could have put
// there (never written, or written only by a write that failed).
func Anomalies(recs []Record) []string {
	written := map[string]map[string]string{} // key -> value -> outcome
	for _, r := range recs {
		if r.Op != OpWrite {
			continue
		}
		if written[r.Key] == nil {
			written[r.Key] = map[string]string{}
		}
		written[r.Key][r.Value] = r.Outcome
	}
	var out []string
	for _, r := range recs {
		if r.Op != OpRead || r.Outcome != Ok || r.Value == "" {
			continue
		}
		switch written[r.Key][r.Value] {
		case "":
			out = append(out, fmt.Sprintf("client %d read %q from %s, which nobody wrote", r.Client, r.Value, r.Key))
		case Fail:
			out = append(out, fmt.Sprintf("client %d read %q from %s, written only by a write that failed", r.Client, r.Value, r.Key))
		}
	}
	sort.Strings(out)
	return out
}
