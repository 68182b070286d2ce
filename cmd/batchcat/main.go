// Command batchcat inspects, validates, re-encodes and converts HTTP batch
// bodies: the multipart $batch payloads of OData (Outlook, SharePoint,
// Dynamics, SAP, Azure Tables) and UCWA's multipart/batching, and the JSON
// batches of OData 4.01 and Microsoft Graph.
//
// Usage:
//
//	batchcat [flags] [FILE]
//
// It reads FILE, or standard input when FILE is absent or "-". By default it
// prints the batch as a tree for a person; -json prints one JSON object per
// operation; -validate prints nothing and only sets the exit status;
// -encode reads the -json -body form back and writes a batch body. Run
// "batchcat -h" for the flags and the exit statuses.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// Exit statuses.
const (
	exitOK       = 0 // success
	exitInvalid  = 1 // the input is not a valid batch (or, with -encode, not valid -json input)
	exitUsage    = 2 // bad flags, unreadable input, no content type found, write error
	exitInternal = 3 // a bug: batchcat recovered from a panic
)

const usageText = `usage: batchcat [flags] [FILE]

Inspect, validate and re-encode HTTP batch bodies (OData $batch
multipart/mixed, UCWA multipart/batching). FILE is read as a stream; without
FILE, or with FILE "-", standard input is read.

The content type (and its boundary) comes from -content-type, or else from
the input itself, which may be
  - a whole HTTP message as a proxy captures it: a request or status line,
    the outer headers with "Content-Type: multipart/...; boundary=...", a
    blank line, then the batch body ("Transfer-Encoding: chunked" and
    "Content-Encoding: gzip" bodies are decoded first); or
  - a bare batch body, whose first delimiter line ("--boundary") gives the
    boundary away; or
  - a JSON batch (OData 4.01 JSON format, Microsoft Graph JSON batching),
    by its Content-Type (application/json) or its first byte, "{". The
    tree, -validate and -to multipart modes read it.

The decoder's limits are raised for inspection: lines up to 1 MiB, header
blocks up to 8 MiB, 1,048,576 parts, changesets nested 32 deep.

Modes (at most one):
  (default)  print the batch as a tree: each operation's index, changeset,
             Content-ID, method and target or status and reason, content
             type, body size and the first printable bytes of its body, the
             deviations from the RFCs that were tolerated, and a summary.
  -json      print one JSON object per line per operation, with the fields
             index, changeset, content_id, kind, method, target, status,
             headers, body_len, body_sha256 (and body or body_base64 with
             -body). index counts operations from 0 in document order;
             changeset is the enclosing changeset's boundary or "";
             content_id is "" when absent; status is 0 for requests; headers
             maps each embedded header name, as written, to its values.
  -validate  print nothing on success; otherwise print the decoder's error
             (byte offset in the input, part index) and exit with status 1.
  -to json   convert a multipart batch to a JSON batch (OData 4.01 JSON
             format; -dialect graph for Microsoft Graph's base64 bodies):
             changesets become atomicity groups, Content-IDs ids ("op<N>"
             where there is none), "$n" targets dependencies.
  -to multipart
             convert a JSON batch to a multipart/mixed one: atomicity
             groups become changesets, ids Content-IDs; -ct-out receives
             the Content-Type.
  -encode    read the -json -body form (JSON objects, one per operation)
             and write a batch body to standard output. Consecutive
             operations with the same non-empty changeset go into one
             changeset with that boundary. The batch's Content-Type is
             written to the file named by -ct-out (e.g. -ct-out
             /dev/stderr); it can also be recovered from the output's first
             delimiter line. The encoder writes strictly: CRLF, HTTP/1.1,
             canonical header names in sorted order, reason phrases from the
             status code. An embedded Content-Length header, where there is
             one, is set to the body's length, so that edited bodies stay
             consistent (see -keep-content-length). What the -json form
             does not carry is not restored: reason phrases, MIME part
             headers, the order of headers across names, an empty
             Content-ID.

Flags:
`

const exitText = `
Exit status:
  0  success (for -validate: the batch is valid)
  1  the input is not a valid batch: a decoding error, or with -strict a
     tolerated deviation; with -encode, input that is not valid -json
     output or that the encoder refuses. Operations printed before the
     error stand; the error goes to standard error.
  2  usage error, unreadable input, no content type found (use
     -content-type), or an error writing the output
  3  internal error (a bug in batchcat; please report it)

Errors go to standard error, prefixed "batchcat: ".
`

// exitError carries an exit status with the message for standard error.
type exitError struct {
	code   int
	err    error
	output bool // an error writing the output: not the input's fault
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func invalidErr(err error) error { return &exitError{code: exitInvalid, err: err} }

func ioErr(err error) error { return &exitError{code: exitUsage, err: err} }

func outputErr(err error) error {
	return &exitError{code: exitUsage, err: fmt.Errorf("writing output: %w", err), output: true}
}

// config holds the parsed flags.
type config struct {
	contentType string
	json        bool
	body        bool
	validate    bool
	strict      bool
	encode      bool
	dialect     string
	boundary    string
	ctOut       string
	keepCL      bool
	to          string // "", "json" or "multipart": convert
	input       string // "" or "-" for standard input
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command, with its streams passed in, so that tests run
// it in-process. It returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "batchcat: internal error: %v\n%s", r, debug.Stack())
			code = exitInternal
		}
	}()
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		err = execute(cfg, stdin, stdout, stderr)
	}
	if err == nil {
		return exitOK
	}
	code = exitUsage
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(stderr, "batchcat: %v\n", err)
	if code == exitUsage && errors.Is(err, errFlags) {
		fmt.Fprintln(stderr, `run "batchcat -h" for help`)
	}
	return code
}

var errFlags = errors.New("bad flags")

type flagError struct{ msg string }

func (e *flagError) Error() string { return e.msg }
func (e *flagError) Is(t error) bool {
	return t == errFlags
}

func badFlags(format string, args ...any) error {
	return &exitError{code: exitUsage, err: &flagError{msg: fmt.Sprintf(format, args...)}}
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := new(config)
	fs := flag.NewFlagSet("batchcat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.contentType, "content-type", "", "the batch's Content-Type `value`, such as \"multipart/mixed; boundary=batch_1\"; the input is then the body (outer HTTP headers, if present, are still skipped)")
	fs.BoolVar(&cfg.json, "json", false, "print one JSON object per operation (see above)")
	fs.BoolVar(&cfg.body, "body", false, "with -json: add each body, as body (valid UTF-8) or body_base64")
	fs.BoolVar(&cfg.validate, "validate", false, "print nothing; exit status 1 and the error on standard error if the batch is invalid")
	fs.BoolVar(&cfg.strict, "strict", false, "make every tolerated deviation from RFC 2046/9112 an error (any mode but -encode)")
	fs.BoolVar(&cfg.encode, "encode", false, "read -json -body output and write a batch body")
	fs.StringVar(&cfg.dialect, "dialect", "odata", "with -encode or -to multipart: the `layout`, odata, sharepoint or ucwa; with -to json: odata (base64url bodies) or graph (base64)")
	fs.StringVar(&cfg.boundary, "boundary", "", "with -encode or -to multipart: the batch boundary (default: batch_ and 32 random hex digits)")
	fs.BoolVar(&cfg.keepCL, "keep-content-length", false, "with -encode: write embedded Content-Length headers as given, instead of setting them to the length of the body")
	fs.StringVar(&cfg.ctOut, "ct-out", "", "with -encode or -to: write the output batch's Content-Type value and a newline to `FILE`")
	fs.StringVar(&cfg.to, "to", "", "convert the batch to the other `format`: json (a multipart batch to an OData 4.01 / Graph JSON batch) or multipart (a JSON batch to multipart/mixed)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), exitText)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		// The flag package has printed the problem and the usage.
		return nil, &exitError{code: exitUsage, err: &flagError{msg: "invalid flags"}}
	}
	switch fs.NArg() {
	case 0:
	case 1:
		cfg.input = fs.Arg(0)
	default:
		return nil, badFlags("one input file at most, got %d: %s", fs.NArg(), strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	modes := 0
	for _, m := range []bool{cfg.json, cfg.validate, cfg.encode, cfg.to != ""} {
		if m {
			modes++
		}
	}
	switch {
	case modes > 1:
		return nil, badFlags("-json, -validate, -encode and -to exclude each other")
	case cfg.to != "" && cfg.to != "json" && cfg.to != "multipart":
		return nil, badFlags("-to %q: want json or multipart", cfg.to)
	case cfg.to == "json" && set["boundary"]:
		return nil, badFlags("-boundary does not apply to -to json")
	case cfg.body && !cfg.json:
		return nil, badFlags("-body needs -json")
	case cfg.encode && (cfg.strict || cfg.contentType != ""):
		return nil, badFlags("-strict and -content-type do not apply to -encode")
	case !cfg.encode && cfg.to == "" && (set["dialect"] || set["boundary"] || set["ct-out"]):
		return nil, badFlags("-dialect, -boundary and -ct-out need -encode or -to")
	case !cfg.encode && set["keep-content-length"]:
		return nil, badFlags("-keep-content-length needs -encode")
	}
	return cfg, nil
}

// execute runs the mode cfg selects.
func execute(cfg *config, stdin io.Reader, stdout, stderr io.Writer) error {
	in, name := stdin, "standard input"
	if cfg.input != "" && cfg.input != "-" {
		f, err := os.Open(cfg.input)
		if err != nil {
			return ioErr(err)
		}
		defer f.Close()
		in, name = f, cfg.input
	}
	var err error
	if cfg.encode {
		err = encode(cfg, in, stdout)
	} else {
		err = decode(cfg, in, stdout)
	}
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if !ee.output {
				ee.err = fmt.Errorf("%s: %w", name, ee.err)
			}
			return ee
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
