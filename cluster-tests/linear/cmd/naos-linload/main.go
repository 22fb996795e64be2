// SPDX-License-Identifier: Apache-2.0

// naos-linload drives concurrent clients against naos checkpoints as
// registers (one key = one deployment's checkpoint) through the naos CLI,
// and writes the history for naos-lincheck. Every written value is unique
// (client id + counter), so each read maps to exactly one write.
//
//	naos-linload -cli naos -run RUN[,RUN...] -keys reg0,reg1 -out FILE
//
// Client i talks to the i-th run directory (round robin). It stops after
// -ops operations or -duration, whichever comes first; every operation is
// bounded by -op-timeout. Exit status: 0 history written, 100 bad usage,
// 111 the history could not be written.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"naos.test/linear/history"
)

type config struct {
	cli       string
	runs      []string
	keys      []string
	clients   int
	ops       int64
	duration  time.Duration
	opTimeout time.Duration
	seed      int64
}

func main() {
	var c config
	var runs, keys string
	flag.StringVar(&c.cli, "cli", "naos", "the naos CLI")
	flag.StringVar(&runs, "run", "", "run directories of the nodes, comma-separated (required)")
	flag.StringVar(&keys, "keys", "reg0,reg1,reg2", "deployments whose checkpoints are the registers, comma-separated")
	flag.IntVar(&c.clients, "clients", 4, "concurrent clients (1..64)")
	flag.Int64Var(&c.ops, "ops", 300, "operations in all (1..100000)")
	flag.DurationVar(&c.duration, "duration", time.Minute, "stop after this long even if -ops is not reached")
	flag.DurationVar(&c.opTimeout, "op-timeout", 10*time.Second, "an operation not answered by then is of unknown outcome")
	flag.Int64Var(&c.seed, "seed", 1, "random seed of the workload")
	out := flag.String("out", "", "where to write the history (required)")
	flag.Parse()
	c.runs = splitList(runs)
	c.keys = splitList(keys)
	switch {
	case flag.NArg() != 0:
		usage("unexpected argument %q", flag.Arg(0))
	case len(c.runs) == 0:
		usage("-run is required")
	case len(c.keys) == 0:
		usage("-keys names no key")
	case *out == "":
		usage("-out is required")
	case c.clients < 1 || c.clients > 64:
		usage("-clients %d is not within 1..64", c.clients)
	case c.ops < 1 || c.ops > history.MaxRecords:
		usage("-ops %d is not within 1..%d", c.ops, history.MaxRecords)
	case c.duration <= 0 || c.opTimeout <= 0:
		usage("-duration and -op-timeout must be positive")
	}
	recs := run(c)
	f, err := os.Create(*out)
	if err == nil {
		err = history.Write(f, recs)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "naos-linload: writing %s: %v\n", *out, err)
		os.Exit(111)
	}
	fmt.Fprintf(os.Stderr, "naos-linload: %d operations written to %s\n", len(recs), *out)
}

func usage(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "naos-linload: "+format+" (see -help)\n", a...)
	os.Exit(100)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func run(c config) []history.Record {
	start := time.Now()
	deadline := start.Add(c.duration)
	var issued, done int64
	var mu sync.Mutex
	var recs []history.Record
	var wg sync.WaitGroup
	stopProgress := make(chan struct{})
	go func() { // progress on a long run
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "naos-linload: %d/%d operations after %.0f s\n",
					atomic.LoadInt64(&done), c.ops, time.Since(start).Seconds())
			}
		}
	}()
	for i := 0; i < c.clients; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(c.seed*1000 + int64(id)))
			runDir := c.runs[id%len(c.runs)]
			for n := 1; ; n++ {
				if atomic.AddInt64(&issued, 1) > c.ops || time.Now().After(deadline) {
					return
				}
				key := c.keys[rng.Intn(len(c.keys))]
				var r history.Record
				if rng.Intn(2) == 0 {
					r = write(c, runDir, key, fmt.Sprintf("c%d-%d", id, n), start)
				} else {
					r = read(c, runDir, key, start)
				}
				r.Client = id
				mu.Lock()
				recs = append(recs, r)
				mu.Unlock()
				atomic.AddInt64(&done, 1)
			}
		}(i)
	}
	wg.Wait()
	close(stopProgress)
	return recs
}

// naos runs the CLI once, bounded by -op-timeout.
func naos(c config, runDir string, stdin string, args ...string) (code int, out, errOut string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.cli, append([]string{"--run", runDir}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, so.String(), se.String()
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), so.String(), se.String()
	default: // killed at the timeout, or could not run
		return -1, so.String(), se.String() + err.Error()
	}
}

func write(c config, runDir, key, value string, start time.Time) history.Record {
	r := history.Record{Key: key, Op: history.OpWrite, Value: value}
	r.CallNs = int64(time.Since(start))
	code, _, errOut := naos(c, runDir, value, "checkpoint", "save", key)
	r.ReturnNs = int64(time.Since(start))
	switch code {
	case 0:
		r.Outcome = history.Ok
	case 100: // refused as invalid before anything was proposed
		r.Outcome = history.Fail
	case 112:
		// The CLI retried with the same command id until its timeout
		// and still does not know: whatever its message quotes (a
		// retry's "nothing changed" speaks for that retry only).
		r.Outcome = history.Unknown
	default:
		// The node could not be reached: the request never left.
		if strings.Contains(errOut, "unable to reach naos-node") {
			r.Outcome = history.Fail
			break
		}
		// The node says so (not the leader, catching up, replaced by
		// another entry): taken at its word, so a save that says
		// "nothing changed" and yet took effect fails the check.
		if strings.Contains(errOut, "nothing changed") {
			r.Outcome = history.Fail
			break
		}
		// Lost connection, timeout, busy: it may have happened.
		r.Outcome = history.Unknown
	}
	if r.Outcome != history.Ok {
		r.Err = firstLine(errOut)
	}
	return r
}

// firstLine: the first line of the CLI's stderr, at most 200 bytes.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func read(c config, runDir, key string, start time.Time) history.Record {
	r := history.Record{Key: key, Op: history.OpRead}
	r.CallNs = int64(time.Since(start))
	code, out, errOut := naos(c, runDir, "", "checkpoint", "load", key)
	r.ReturnNs = int64(time.Since(start))
	switch {
	case code == 0:
		r.Outcome, r.Value = history.Ok, out
	case code == 1 && strings.Contains(errOut, "no checkpoint saved"):
		r.Outcome, r.Value = history.Ok, ""
	default:
		r.Outcome = history.Unknown
		r.Err = firstLine(errOut)
	}
	return r
}
