// Command server is the OData-like service that the interop scripts in
// interop/ send batches to with real client libraries (see
// interop/README.md). It is a test fixture, not an example of a good OData
// service: an in-memory entity set Books behind batchhttp.Handler.
//
// Routes, under the service root /odata/ (and the same data again under
// /odata/v2/, in OData V2's JSON format, {"d":…}, with its batch endpoint
// mounted with batchhttp.ODataV2):
//
//	GET    Books              {"value":[...]}, ordered by ID
//	POST   Books              201, Location and the new entity; 400 without a Title
//	GET    Books(n)           the entity, 404 if there is none ("Books(ID=n)" too)
//	PATCH  Books(n)           200 with the entity ("Prefer: return=representation"), else 204
//	DELETE Books(n)           204, 404 if there is none
//	GET    Books(n)/Title     {"value":"..."}
//	PUT    Books(n)/Title     {"value":"..."}: 204
//	GET    Slow(n)            sleeps n ms, then {"ms":n}
//	POST   $batch             batchhttp.Handler with Changesets and Concurrency(8)
//
// and outside it:
//
//	GET    /debug/log         every operation the service ran: method, path,
//	                          start and end (µs since the last reset), tag
//	POST   /debug/reset       Books back to the seed, log emptied
//
// A changeset or atomicity group works on a copy of the store, taken at
// Begin under the store's lock and held until Commit (which keeps the copy)
// or Rollback (which drops it): changesets are serialised with every other
// write, so one never sees another's half-done state.
//
// Usage: server [-addr 127.0.0.1:0]; PORT in the environment sets the port
// when -addr is not given. It prints "listening on http://HOST:PORT" once it
// accepts connections.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/batchcodec/batch/batchhttp"
)

// Book is the entity of the entity set Books.
type Book struct {
	ID     int    `json:"ID"`
	Title  string `json:"Title"`
	Author string `json:"Author,omitempty"`
}

// state is the data of the service: what a changeset copies.
type state struct {
	books  map[int]Book
	nextID int
}

func seed() *state {
	return &state{books: map[int]Book{
		1: {ID: 1, Title: "Wuthering Heights", Author: "Emily Brontë"},
		2: {ID: 2, Title: "Jane Eyre", Author: "Charlotte Brontë"},
		3: {ID: 3, Title: "The Raven", Author: "Edgar Allan Poe"},
	}, nextID: 100}
}

func (s *state) clone() *state {
	return &state{books: maps.Clone(s.books), nextID: s.nextID}
}

// store holds the committed state. mu is held by a write outside any
// changeset for its duration, and by a changeset from Begin to its end.
type store struct {
	mu  sync.Mutex
	cur *state
}

// txKey is the context key of a changeset's copy of the state.
type txKey struct{}

// hook is the batchhttp.ChangesetHook: a changeset runs on a copy.
type hook struct{ st *store }

func (h hook) Begin(ctx context.Context) (context.Context, error) {
	h.st.mu.Lock()
	return context.WithValue(ctx, txKey{}, h.st.cur.clone()), nil
}

func (h hook) Commit(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(*state)
	if !ok {
		return errors.New("commit without a changeset")
	}
	h.st.cur = tx
	h.st.mu.Unlock()
	return nil
}

func (h hook) Rollback(ctx context.Context) error {
	h.st.mu.Unlock()
	return nil
}

// with runs f on the state the request sees: its changeset's copy, or the
// committed state under the lock.
func (st *store) with(r *http.Request, f func(s *state)) {
	if tx, ok := r.Context().Value(txKey{}).(*state); ok {
		f(tx)
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	f(st.cur)
}

// entry is one operation the service ran, for /debug/log.
type entry struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Tag    string `json:"tag,omitempty"`
	Status int    `json:"status"`
	Start  int64  `json:"start"` // µs since the last reset
	End    int64  `json:"end"`
}

type recorder struct {
	mu      sync.Mutex
	t0      time.Time
	entries []entry
}

func (rec *recorder) since() int64 {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return time.Since(rec.t0).Microseconds()
}

func (rec *recorder) add(e entry) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.entries = append(rec.entries, e)
}

// statusWriter remembers the status for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// service is the OData-like application under one service root.
type service struct {
	root string // "/odata/"
	// versionHeader and version are what every answer says:
	// OData-Version 4.0, or DataServiceVersion 2.0 under the V2 root.
	versionHeader, version string
	v2                     bool // answer bodies in V2's JSON format
	st                     *store
	rec                    *recorder
}

var (
	reBook  = regexp.MustCompile(`^Books\((?:ID=)?(\d+)\)$`)
	reTitle = regexp.MustCompile(`^Books\((?:ID=)?(\d+)\)/Title$`)
	reSlow  = regexp.MustCompile(`^Slow\((\d+)\)$`)
)

func (sv *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	// Every answer says its protocol version, as OData services do (and
	// as odata-batch-request needs: it throws on an answer without any
	// header, such as a bare 204).
	w.Header().Set(sv.versionHeader, sv.version)
	start := sv.rec.since()
	sv.route(sw, r)
	sv.rec.add(entry{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, sv.root), Tag: r.URL.Query().Get("tag"),
		Status: sw.status, Start: start, End: sv.rec.since()})
}

func (sv *service) route(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, sv.root)
	switch {
	case p == "Books":
		switch r.Method {
		case http.MethodGet:
			sv.list(w, r)
		case http.MethodPost:
			sv.create(w, r)
		default:
			notAllowed(w, "GET, POST")
		}
	case reBook.MatchString(p):
		id, _ := strconv.Atoi(reBook.FindStringSubmatch(p)[1])
		switch r.Method {
		case http.MethodGet:
			sv.get(w, r, id)
		case http.MethodPatch, "MERGE":
			sv.patch(w, r, id)
		case http.MethodDelete:
			sv.delete(w, r, id)
		default:
			notAllowed(w, "GET, PATCH, DELETE")
		}
	case reTitle.MatchString(p):
		id, _ := strconv.Atoi(reTitle.FindStringSubmatch(p)[1])
		switch r.Method {
		case http.MethodGet, http.MethodPut:
			sv.title(w, r, id)
		default:
			notAllowed(w, "GET, PUT")
		}
	case reSlow.MatchString(p) && r.Method == http.MethodGet:
		ms, _ := strconv.Atoi(reSlow.FindStringSubmatch(p)[1])
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
		}
		writeJSON(w, http.StatusOK, map[string]any{"ms": ms, "tag": r.URL.Query().Get("tag")})
	default:
		writeError(w, http.StatusNotFound, "no resource "+p)
	}
}

func (sv *service) location(r *http.Request, id int) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + sv.root + "Books(" + strconv.Itoa(id) + ")"
}

func (sv *service) list(w http.ResponseWriter, r *http.Request) {
	var books []Book
	sv.st.with(r, func(s *state) {
		for _, k := range slices.Sorted(maps.Keys(s.books)) {
			books = append(books, s.books[k])
		}
	})
	if books == nil {
		books = []Book{}
	}
	sv.collection(w, r, books)
}

// decode reads a JSON object body into v, answering 400 if it is not one.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "body is not a JSON object: "+err.Error())
		return false
	}
	return true
}

func (sv *service) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title  *string `json:"Title"`
		Author string  `json:"Author"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Title == nil || *in.Title == "" {
		writeError(w, http.StatusBadRequest, "a Book needs a Title")
		return
	}
	var b Book
	sv.st.with(r, func(s *state) {
		b = Book{ID: s.nextID, Title: *in.Title, Author: in.Author}
		s.nextID++
		s.books[b.ID] = b
	})
	loc := sv.location(r, b.ID)
	w.Header().Set("Location", loc)
	w.Header().Set("OData-EntityId", loc)
	sv.entity(w, r, http.StatusCreated, b)
}

func (sv *service) get(w http.ResponseWriter, r *http.Request, id int) {
	var b Book
	var ok bool
	sv.st.with(r, func(s *state) { b, ok = s.books[id] })
	if !ok {
		writeError(w, http.StatusNotFound, "no Book "+strconv.Itoa(id))
		return
	}
	sv.entity(w, r, http.StatusOK, b)
}

func (sv *service) patch(w http.ResponseWriter, r *http.Request, id int) {
	var in struct {
		Title  *string `json:"Title"`
		Author *string `json:"Author"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Title != nil && *in.Title == "" {
		writeError(w, http.StatusBadRequest, "a Book needs a Title")
		return
	}
	var b Book
	var ok bool
	sv.st.with(r, func(s *state) {
		if b, ok = s.books[id]; !ok {
			return
		}
		if in.Title != nil {
			b.Title = *in.Title
		}
		if in.Author != nil {
			b.Author = *in.Author
		}
		s.books[id] = b
	})
	if !ok {
		writeError(w, http.StatusNotFound, "no Book "+strconv.Itoa(id))
		return
	}
	if strings.Contains(r.Header.Get("Prefer"), "return=representation") {
		w.Header().Set("Preference-Applied", "return=representation")
		sv.entity(w, r, http.StatusOK, b)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (sv *service) delete(w http.ResponseWriter, r *http.Request, id int) {
	var ok bool
	sv.st.with(r, func(s *state) {
		if _, ok = s.books[id]; ok {
			delete(s.books, id)
		}
	})
	if !ok {
		writeError(w, http.StatusNotFound, "no Book "+strconv.Itoa(id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (sv *service) title(w http.ResponseWriter, r *http.Request, id int) {
	var in struct {
		Value *string `json:"value"`
	}
	if r.Method == http.MethodPut {
		if !decode(w, r, &in) {
			return
		}
		if in.Value == nil || *in.Value == "" {
			writeError(w, http.StatusBadRequest, "a Book needs a Title")
			return
		}
	}
	var b Book
	var ok bool
	sv.st.with(r, func(s *state) {
		if b, ok = s.books[id]; ok && in.Value != nil {
			b.Title = *in.Value
			s.books[id] = b
		}
	})
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, "no Book "+strconv.Itoa(id))
	case r.Method == http.MethodPut:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"value": b.Title})
	}
}

// entity answers one Book: as it is in OData V4's JSON, wrapped as
// {"d":{"__metadata":…,…}} in V2's (JSON verbose), as SAP Gateway answers.
func (sv *service) entity(w http.ResponseWriter, r *http.Request, status int, b Book) {
	if !sv.v2 {
		writeJSON(w, status, b)
		return
	}
	type v2Book struct {
		Metadata map[string]string `json:"__metadata"`
		Book
	}
	writeJSON(w, status, map[string]any{"d": v2Book{map[string]string{"uri": sv.location(r, b.ID), "type": "Books"}, b}})
}

// collection answers Books: {"value":[…]} in V4, {"d":{"results":[…]}} in V2.
func (sv *service) collection(w http.ResponseWriter, r *http.Request, books []Book) {
	if !sv.v2 {
		writeJSON(w, http.StatusOK, map[string]any{"value": books})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"d": map[string]any{"results": books}})
}

func notAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method not allowed")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"500","message":"encoding the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": strconv.Itoa(status), "message": msg}})
}

func main() {
	addr := flag.String("addr", "", "address to listen on (default 127.0.0.1:$PORT, or a free port)")
	flag.Parse()
	if *addr == "" {
		*addr = "127.0.0.1:" + os.Getenv("PORT")
		if os.Getenv("PORT") == "" {
			*addr = "127.0.0.1:0"
		}
	}

	st := &store{cur: seed()}
	rec := &recorder{t0: time.Now()}
	mux := http.NewServeMux()
	for _, m := range []struct {
		root, vh, v string
		opts        []batchhttp.HandlerOption
	}{
		{"/odata/", "OData-Version", "4.0", nil},
		{"/odata/v2/", "DataServiceVersion", "2.0", []batchhttp.HandlerOption{batchhttp.ODataV2(true)}},
	} {
		sv := &service{root: m.root, versionHeader: m.vh, version: m.v, v2: m.v == "2.0", st: st, rec: rec}
		app := http.NewServeMux()
		app.Handle(m.root, sv)
		opts := append([]batchhttp.HandlerOption{batchhttp.Changesets(hook{st}), batchhttp.Concurrency(8)}, m.opts...)
		app.Handle("POST "+m.root+"$batch", batchhttp.Handler(app, opts...))
		mux.Handle(m.root, app)
	}
	mux.HandleFunc("GET /debug/log", func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		entries := slices.Clone(rec.entries)
		rec.mu.Unlock()
		if entries == nil {
			entries = []entry{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": entries})
	})
	mux.HandleFunc("POST /debug/reset", func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		st.cur = seed()
		st.mu.Unlock()
		rec.mu.Lock()
		rec.t0, rec.entries = time.Now(), nil
		rec.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
