// Package googleapitest drives a generated Google API client
// (google.golang.org/api/tasks/v1) through batchhttp.Transport against a
// fake of the Tasks API behind batchhttp.Handler. It is a module of its own
// so that the library's go.mod does not carry google.golang.org/api; run it
// with
//
//	cd batchhttp/internal/googleapitest && go test -race ./...
package googleapitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	tasks "google.golang.org/api/tasks/v1"

	"github.com/batchcodec/batch/batchhttp"
)

// fakeTasks is the part of the Tasks API the test calls, with Google's
// batch endpoint in front of it, counting the HTTP requests it receives.
type fakeTasks struct {
	srv     *httptest.Server
	hits    atomic.Int64
	batches atomic.Int64
	ops     atomic.Int64
}

func newFakeTasks(t *testing.T) *fakeTasks {
	f := &fakeTasks{}
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /tasks/v1/lists/{list}/tasks/{task}", func(w http.ResponseWriter, r *http.Request) {
		f.ops.Add(1)
		if r.PathValue("task") == "missing" {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": 404, "message": "Task not found."}})
			return
		}
		writeJSON(w, http.StatusOK, tasks.Task{Kind: "tasks#task", Id: r.PathValue("task"),
			Title: "task " + r.PathValue("task") + " of " + r.PathValue("list")})
	})
	mux.HandleFunc("POST /tasks/v1/lists/{list}/tasks", func(w http.ResponseWriter, r *http.Request) {
		f.ops.Add(1)
		var in tasks.Task
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "message": err.Error()}})
			return
		}
		in.Id, in.Kind = "new-"+in.Title, "tasks#task"
		writeJSON(w, http.StatusOK, in)
	})
	mux.HandleFunc("GET /tasks/v1/users/@me/lists", func(w http.ResponseWriter, r *http.Request) {
		f.ops.Add(1)
		writeJSON(w, http.StatusOK, tasks.TaskLists{Kind: "tasks#taskLists", Items: []*tasks.TaskList{{Id: "L1", Title: "Groceries"}}})
	})
	mux.Handle("POST /batch/tasks/v1", batchhttp.Handler(mux))
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		if r.URL.Path == "/batch/tasks/v1" {
			f.batches.Add(1)
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// Fifty goroutines call the generated Tasks client, each on its own; the
// Transport gathers their calls into five batch requests and each
// goroutine gets its own typed result, or its own googleapi.Error.
func TestTransportGeneratedTasksClient(t *testing.T) {
	f := newFakeTasks(t)
	tr, err := batchhttp.NewTransport(f.srv.URL+"/batch/tasks/v1",
		batchhttp.MaxBatch(10),
		batchhttp.Window(time.Hour)) // batches leave full: the count below does not depend on timing
	require.NoError(t, err)
	ctx := context.Background()
	svc, err := tasks.NewService(ctx,
		option.WithHTTPClient(&http.Client{Transport: tr}),
		option.WithEndpoint(f.srv.URL+"/"))
	require.NoError(t, err)

	got := make([]string, 50)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch {
			case i == 13:
				_, err := svc.Tasks.Get("L1", "missing").Context(ctx).Do()
				var gerr *googleapi.Error
				if assert.True(t, errors.As(err, &gerr), "%v", err) {
					got[i] = fmt.Sprintf("error %d %s", gerr.Code, gerr.Message)
				}
			case i == 7:
				lists, err := svc.Tasklists.List().Context(ctx).Do()
				if assert.NoError(t, err) {
					got[i] = lists.Items[0].Title
				}
			case i%5 == 0:
				task, err := svc.Tasks.Insert("L1", &tasks.Task{Title: fmt.Sprint("t", i)}).Context(ctx).Do()
				if assert.NoError(t, err) {
					got[i] = task.Id + " " + task.Title
				}
			default:
				task, err := svc.Tasks.Get(fmt.Sprint("L", i%3), fmt.Sprint("T", i)).Context(ctx).Do()
				if assert.NoError(t, err) {
					got[i] = task.Title + " " + fmt.Sprint(task.HTTPStatusCode)
				}
			}
		}()
	}
	wg.Wait()

	want := make([]string, 50)
	for i := range want {
		switch {
		case i == 13:
			want[i] = "error 404 Task not found."
		case i == 7:
			want[i] = "Groceries"
		case i%5 == 0:
			want[i] = fmt.Sprintf("new-t%d t%d", i, i)
		default:
			want[i] = fmt.Sprintf("task T%d of L%d 200", i, i%3)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
	require.NoError(t, tr.Close())
	assert.EqualValues(t, 5, f.hits.Load(), "HTTP requests the server received")
	assert.EqualValues(t, 5, f.batches.Load(), "of them batches")
	assert.EqualValues(t, 50, f.ops.Load(), "calls served")
	st := tr.Stats()
	assert.EqualValues(t, 5, st.Batches)
	assert.EqualValues(t, 50, st.Batched)
	assert.Zero(t, st.Unbatched)
}

// With the default Window and MaxBatch the calls still arrive in few
// batches; how many depends on timing, so only that nothing went unbatched
// and that every call was answered is asserted.
func TestTransportGeneratedClientDefaults(t *testing.T) {
	f := newFakeTasks(t)
	tr, err := batchhttp.NewTransport(f.srv.URL + "/batch/tasks/v1")
	require.NoError(t, err)
	defer tr.Close()
	svc, err := tasks.NewService(context.Background(),
		option.WithHTTPClient(&http.Client{Transport: tr}), option.WithEndpoint(f.srv.URL+"/"))
	require.NoError(t, err)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			task, err := svc.Tasks.Get("L", fmt.Sprint("T", i)).Do()
			if err != nil || !strings.HasSuffix(task.Title, fmt.Sprint(" T", i, " of L")) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failed.Load())
	assert.Equal(t, f.hits.Load(), f.batches.Load(), "every HTTP request was a batch")
	assert.EqualValues(t, 50, tr.Stats().Batched)
}
