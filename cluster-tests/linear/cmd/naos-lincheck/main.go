// SPDX-License-Identifier: Apache-2.0

// naos-lincheck checks a history of register operations (JSON lines, see
// package history) for linearizability with porcupine.
//
//	naos-lincheck [-timeout 60s] [-html FILE] HISTORY
//
// Exit status: 0 linearizable, 1 not linearizable (or a read of a value
// nobody wrote), 2 undecided within the timeout, 100 bad usage or input.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/anishathalye/porcupine"
	"naos.test/linear/history"
)

func main() {
	timeout := flag.Duration("timeout", time.Minute, "give the search at most this long (0: no limit)")
	html := flag.String("html", "", "write porcupine's view of the history to this HTML file when it is not linearizable")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: naos-lincheck [-timeout D] [-html FILE] HISTORY\n"+
			"Checks a history of checkpoint saves and loads (JSON lines) for linearizability.\n"+
			"Exit status: 0 linearizable, 1 not, 2 undecided within -timeout, 100 bad usage or input.\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(100)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "naos-lincheck: %v\n", err)
		os.Exit(100)
	}
	recs, err := history.Read(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "naos-lincheck: %s: %v\n", flag.Arg(0), err)
		os.Exit(100)
	}
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.Op+" "+r.Outcome]++
	}
	fmt.Printf("operations: %d (%v)\n", len(recs), counts)
	status := 0
	for _, a := range history.Anomalies(recs) {
		fmt.Printf("anomaly: %s\n", a)
		status = 1
	}
	start := time.Now()
	res := history.Check(recs, *timeout)
	fmt.Printf("porcupine: %s over %d operations in %.2f s\n", res.Verdict, res.Checked, time.Since(start).Seconds())
	switch res.Verdict {
	case porcupine.Illegal:
		status = 1
		if *html != "" {
			if err := res.Visualize(*html); err != nil {
				fmt.Fprintf(os.Stderr, "naos-lincheck: writing %s: %v\n", *html, err)
			} else {
				fmt.Printf("the history is drawn in %s\n", *html)
			}
		}
	case porcupine.Unknown:
		if status == 0 {
			status = 2
		}
	}
	os.Exit(status)
}
