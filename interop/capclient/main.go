// Command capclient sends batches with batchhttp.RequestBatch to a SAP CAP
// OData V4 service (interop/cap) and checks what the client makes of CAP's
// answers: multipart GETs and changesets, a failed changeset answered by
// one unframed part, continue-on-error, streamed answers, OData 4.01 JSON
// batches with atomicity groups and dependsOn, and a multipart batch
// answered in JSON.
//
// Usage:
//
//	go run ./interop/capclient http://127.0.0.1:4004/odata/v4/catalog/
//
// It prints one line per check, and what CAP answered under it, and exits
// 1 if any check failed. A check marked with a known bug is reported and
// does not fail the run; once it passes, the run fails, so that the mark is
// removed with the fix. interop/cap/run.sh starts CAP and runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// check is one named check against the service.
type check struct {
	name string
	run  func(ctx context.Context, c *client) error
	// knownBug, when set, says why the check is expected to fail.
	knownBug string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: capclient SERVICE_ROOT (e.g. http://127.0.0.1:4004/odata/v4/catalog/)")
		os.Exit(2)
	}
	root := os.Args[1]
	if !strings.HasSuffix(root, "/") {
		root += "/"
	}
	c := newClient(root)
	passed, failed, known := 0, 0, 0
	for _, ch := range checks {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c.notes = c.notes[:0]
		err := ch.run(ctx, c)
		cancel()
		switch {
		case err == nil && ch.knownBug == "":
			passed++
			fmt.Printf("ok    %s\n", ch.name)
		case err == nil:
			failed++
			fmt.Printf("FAIL  %s\n      passes although marked as a known bug (%s): remove the mark\n", ch.name, ch.knownBug)
		case ch.knownBug != "":
			known++
			fmt.Printf("known bug  %s\n      %s\n      (%v)\n", ch.name, ch.knownBug, err)
		default:
			failed++
			fmt.Printf("FAIL  %s\n      %v\n", ch.name, err)
		}
		for _, n := range c.notes {
			fmt.Printf("      CAP: %s\n", n)
		}
	}
	line := fmt.Sprintf("capclient: %d passed, %d failed", passed, failed)
	if known > 0 {
		line = fmt.Sprintf("%s\ncapclient: %d known bug(s)", line, known)
	}
	fmt.Println(line)
	if failed > 0 {
		os.Exit(1)
	}
}
