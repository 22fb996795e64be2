// SPDX-License-Identifier: Apache-2.0

package history

import (
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"
)

// registerModel is one register per key: a read returns the last value
// written ("" before any write). Partitioned by key: linearizability is
// compositional, so each key is checked alone and the search stays small.
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(Record).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		r := input.(Record)
		if r.Op == OpWrite {
			return true, r.Value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output interface{}) string {
		r := input.(Record)
		if r.Op == OpWrite {
			return fmt.Sprintf("write(%s, %q) %s", r.Key, r.Value, r.Outcome)
		}
		return fmt.Sprintf("read(%s) -> %q", r.Key, output.(string))
	},
	DescribeState: func(state interface{}) string {
		return fmt.Sprintf("%q", state.(string))
	},
}

// Result of a check.
type Result struct {
	// Verdict is porcupine's: Ok, Illegal, or Unknown (the search ran out
	// of time; nothing was proven either way).
	Verdict porcupine.CheckResult
	// Checked is the number of operations given to the search.
	Checked int
	info    porcupine.LinearizationInfo
}

// Check decides whether recs are linearizable, giving the search at most
// timeout (0: no limit).
func Check(recs []Record, timeout time.Duration) Result {
	ops := Operations(recs)
	pops := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		out := interface{}("")
		if op.Rec.Op == OpRead {
			out = op.Rec.Value
		}
		pops[i] = porcupine.Operation{
			ClientId: op.Rec.Client,
			Input:    op.Rec,
			Call:     op.Call,
			Output:   out,
			Return:   op.Return,
		}
	}
	verdict, info := porcupine.CheckOperationsVerbose(registerModel, pops, timeout)
	return Result{Verdict: verdict, Checked: len(pops), info: info}
}

// Visualize writes porcupine's HTML view of the checked history to path
// (the artifact to keep when a check fails).
func (r Result) Visualize(path string) error {
	return porcupine.VisualizePath(registerModel, r.info, path)
}
