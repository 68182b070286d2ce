package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/batchhttp"
	"github.com/batchcodec/batch/jsonbatch"
)

// The service's data (interop/cap/db/data): Books 201 "Wuthering Heights"
// (stock 12), 207 "Jane Eyre" (11), 251 "The Raven" (333); Authors 101 and
// 107. The checks never change these three books for good: each creates
// books of its own (IDs 1001, 1101, …), so that they can run in any order
// against one in-memory database, and a failed changeset's rollback can be
// seen in 207 and 251.

var checks = []check{
	{name: "multipart: GET of a collection and of an entity", run: checkGets},
	{name: "multipart: changeset POST + PATCH $new (Content-ID reference), then a GET", run: checkChangeset},
	{name: "multipart: failed changeset (duplicate key in its 2nd request): all its requests failed, rolled back, batch stopped", run: checkFailedChangesetMiddle},
	{name: "multipart: failed changeset (PATCH of a missing entity first): all its requests failed, rolled back, batch stopped", run: checkFailedChangesetFirst},
	{name: "multipart: continue-on-error: a 404, a failed changeset and a GET after them all answered", run: checkContinueOnError},
	{name: "multipart: answers streamed with Responses, a failed changeset as one answer of Count 2", run: checkStream},
	{name: "JSON: atomicity group with $c1 and dependsOn on the group, answers correlated by id", run: checkJSON},
	{name: "JSON: failed atomicity group: failing request 500, dependent 424, independent 200, rolled back", run: checkJSONFailedGroup},
	{name: "JSON: failed atomicity group: every request of the group reported failed", run: checkJSONFailedGroupAll},
	{name: "JSON: streamed with Responses, paired by id", run: checkJSONStream},
	{name: "JSON with Accept: multipart/mixed: CAP answers multipart without Content-IDs, paired by order", run: checkJSONAcceptMultipart},
	{name: "JSON with Accept: multipart/mixed, failed group: one part without Content-ID, read as the batch failed (ErrBatchFailed), rolled back", run: checkJSONAcceptMultipartFailed},
	{name: "multipart with Accept: application/json: CAP's JSON answer reads with jsonbatch.NewDecoder, in request order", run: checkMultipartAcceptJSONDecode},
	{name: "multipart with Accept: application/json: CAP answers a JSON batch, the client pairs its answers", run: checkMultipartAcceptJSON},
}

// checkGets: two GETs, answered in order with each request's Content-ID.
func checkGets(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	b.Add(c.req("GET", "Books?$orderby=ID", nil, ""), c.req("GET", "Books(201)", nil, ""))
	resps, err := c.exchange(ctx, &b)
	if err != nil {
		return err
	}
	for i, r := range resps {
		if r.Request != b.Requests()[i] {
			return fmt.Errorf("answer %d: Request is not the %d-th request", i, i)
		}
	}
	var coll struct {
		Value []struct {
			ID    int
			Title string `json:"title"`
		} `json:"value"`
	}
	if resps[0].StatusCode != http.StatusOK {
		return fmt.Errorf("GET Books: status %d", resps[0].StatusCode)
	}
	if err := json.NewDecoder(resps[0].Body).Decode(&coll); err != nil {
		return fmt.Errorf("GET Books: %w", err)
	}
	if len(coll.Value) < 3 || coll.Value[0].ID != 201 || coll.Value[0].Title != "Wuthering Heights" {
		return fmt.Errorf("GET Books: %+v", coll.Value)
	}
	return expect("GET Books(201)", resps[1], http.StatusOK, map[string]any{"ID": 201, "title": "Wuthering Heights", "stock": 12})
}

// checkChangeset: POST and PATCH $new in a changeset; CAP resolves the
// reference, answers in changeset framing with the Content-IDs.
func checkChangeset(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	b.AddChangeset(
		c.req("POST", "Books", map[string]any{"ID": 1001, "title": "Agnes Grey", "stock": 5}, "new"),
		c.req("PATCH", "$new", map[string]any{"stock": 6}, "upd"),
	)
	b.Add(c.req("GET", "Books(1001)", nil, "check"))
	resps, err := c.exchange(ctx, &b)
	if err != nil {
		return err
	}
	loc := resps[0].Header.Get("Location")
	c.note("Location of the POST's answer: %q (relative to the service root)", loc)
	if err := expect("POST Books", resps[0], http.StatusCreated, map[string]any{"ID": 1001, "stock": 5}); err != nil {
		return err
	}
	if loc != "Books(1001)" {
		return fmt.Errorf("POST Books: Location %q", loc)
	}
	if err := expect("PATCH $new", resps[1], http.StatusOK, map[string]any{"ID": 1001, "stock": 6}); err != nil {
		return err
	}
	return expect("GET Books(1001)", resps[2], http.StatusOK, map[string]any{"title": "Agnes Grey", "stock": 6})
}

// checkFailedChangesetMiddle: the changeset's 2nd request fails; CAP
// answers with one unframed part carrying that request's Content-ID and
// stops. ReadResponse must give all three requests of the changeset the
// failure, nil to the GET after it, and ErrStopped.
func checkFailedChangesetMiddle(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	b.AddChangeset(
		c.req("POST", "Books", map[string]any{"ID": 1101, "title": "Shirley", "stock": 1}, ""),
		c.req("POST", "Books", map[string]any{"ID": 201, "title": "duplicate", "stock": 1}, ""),
		c.req("PATCH", "Books(207)", map[string]any{"stock": 0}, ""),
	)
	b.Add(c.req("GET", "Books(1101)", nil, ""))
	resps, err := c.exchange(ctx, &b)
	if !errors.Is(err, batchhttp.ErrStopped) {
		return fmt.Errorf("ReadResponse: %v, want ErrStopped", err)
	}
	if err := changesetFailed(c, resps[:3]); err != nil {
		return err
	}
	if resps[3] != nil {
		return fmt.Errorf("the GET after the changeset has an answer (%d), but CAP stopped", resps[3].StatusCode)
	}
	return rolledBack(ctx, c, 1101, 207, 11)
}

// checkFailedChangesetFirst: the changeset's 1st request fails; CAP's one
// part carries Content-ID 1, which could be read as the answer to that
// request alone: the client must see it stands for the changeset.
func checkFailedChangesetFirst(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	b.AddChangeset(
		c.req("PATCH", "Books(9999)", map[string]any{"stock": 1}, ""),
		c.req("PATCH", "Books(251)", map[string]any{"stock": 0}, ""),
	)
	b.Add(c.req("GET", "Books(251)", nil, ""))
	resps, err := c.exchange(ctx, &b)
	if !errors.Is(err, batchhttp.ErrStopped) {
		return fmt.Errorf("ReadResponse: %v, want ErrStopped", err)
	}
	if err := changesetFailed(c, resps[:2]); err != nil {
		return err
	}
	if resps[0].StatusCode != http.StatusNotFound {
		return fmt.Errorf("PATCH Books(9999): %d, want 404", resps[0].StatusCode)
	}
	if resps[2] != nil {
		return fmt.Errorf("the GET after the changeset has an answer (%d), but CAP stopped", resps[2].StatusCode)
	}
	return rolledBack(ctx, c, 0, 251, 333)
}

// checkContinueOnError: with "Prefer: odata.continue-on-error" CAP runs on
// after a failed GET and a failed changeset.
func checkContinueOnError(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	b.Add(c.req("GET", "Books(9998)", nil, ""))
	b.AddChangeset(
		c.req("POST", "Books", map[string]any{"ID": 1201, "title": "Villette", "stock": 1}, ""),
		c.req("POST", "Books", map[string]any{"ID": 207, "title": "duplicate", "stock": 1}, ""),
	)
	b.Add(c.req("GET", "Books(207)", nil, ""))
	resps, err := c.exchange(ctx, &b, batchhttp.ContinueOnError(true))
	if err != nil {
		return fmt.Errorf("ReadResponse: %w", err)
	}
	if err := expect("GET Books(9998)", resps[0], http.StatusNotFound, nil); err != nil {
		return err
	}
	if err := changesetFailed(c, resps[1:3]); err != nil {
		return err
	}
	if err := expect("GET Books(207) after the failures", resps[3], http.StatusOK, map[string]any{"stock": 11}); err != nil {
		return err
	}
	return c.absent(ctx, 1201)
}

// checkStream: Responses streams each answer with its Index and Count; a
// failed changeset is one answer of Count 2. The good changeset refers to
// its POST by the number the client gave it ($3).
func checkStream(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	b.Add(c.req("GET", "Books?$orderby=ID", nil, ""), c.req("GET", "Authors(101)?$expand=books($orderby=ID)", nil, ""))
	b.AddChangeset(
		// No Content-ID: the client numbers the POST 3, its position.
		c.req("POST", "Books", map[string]any{"ID": 1301, "title": "The Professor", "stock": 2, "author_ID": 107}, ""),
		c.req("PATCH", "$3", map[string]any{"stock": 3}, ""),
	)
	b.AddChangeset(
		c.req("PATCH", "Books(9999)", map[string]any{"stock": 1}, ""),
		c.req("PATCH", "Books(251)", map[string]any{"stock": 0}, ""),
	)
	b.Add(c.req("GET", "Books(1301)", nil, ""), c.req("GET", "Books(9997)", nil, ""))
	resp, err := c.send(ctx, &b, batchhttp.ContinueOnError(true))
	if err != nil {
		return err
	}
	type seen struct{ index, count, status int }
	want := []seen{{0, 1, 200}, {1, 1, 200}, {2, 1, 201}, {3, 1, 200}, {4, 2, 404}, {6, 1, 200}, {7, 1, 404}}
	var got []seen
	var errs []string
	for a, err := range b.Responses(resp) {
		if err != nil {
			c.note("answer %s", c.shape())
			return fmt.Errorf("after %v: %w", got, err)
		}
		got = append(got, seen{a.Index, a.Count, a.Response.StatusCode})
		// Each body is read while the answers stream.
		var m map[string]any
		if err := json.NewDecoder(a.Response.Body).Decode(&m); err != nil {
			errs = append(errs, fmt.Sprintf("answer %d: body: %v", len(got)-1, err))
		}
		switch a.Index {
		case 1:
			if books, _ := m["books"].([]any); len(books) != 2 {
				errs = append(errs, fmt.Sprintf("Authors(101) with books: %v", m))
			}
		case 6:
			if fmt.Sprint(m["stock"]) != "3" {
				errs = append(errs, fmt.Sprintf("Books(1301): %v", m))
			}
		}
	}
	c.note("answer %s", c.shape())
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("answers (index count status) %v, want %v", got, want)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	s, err := c.stock(ctx, 251)
	if err != nil || s != 333 {
		return fmt.Errorf("Books(251) stock %v (%v): the failed changeset was not rolled back", s, err)
	}
	return nil
}

// checkJSON: an OData 4.01 JSON batch: a GET, an atomicity group whose
// PATCH refers to the group's POST with $c1, and a GET depending on the
// group. Answers are paired by id.
func checkJSON(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	get := c.req("GET", "Books(201)", nil, "get201")
	post := c.req("POST", "Books", map[string]any{"ID": 1401, "title": "Emma", "stock": 3}, "c1")
	patch := c.req("PATCH", "$c1", map[string]any{"stock": 7}, "c2")
	after := c.req("GET", "Books(1401)", nil, "after")
	b.Add(get)
	b.AddChangeset(post, patch)
	b.Add(after)
	b.DependsOn(after, post)
	resps, err := c.exchange(ctx, &b, batchhttp.Format(batchhttp.FormatJSON), batchhttp.ODataVersion("4.01"))
	c.note("sent %s", c.sentJSONShape())
	if err != nil {
		return err
	}
	if err := expect("GET Books(201)", resps[0], http.StatusOK, map[string]any{"title": "Wuthering Heights"}); err != nil {
		return err
	}
	if err := expect("POST Books", resps[1], http.StatusCreated, map[string]any{"ID": 1401, "stock": 3}); err != nil {
		return err
	}
	if loc := resps[1].Header.Get("Location"); loc != "Books(1401)" {
		return fmt.Errorf("POST Books: Location %q", loc)
	}
	if err := expect("PATCH $c1", resps[2], http.StatusOK, map[string]any{"ID": 1401, "stock": 7}); err != nil {
		return err
	}
	return expect("GET Books(1401) after the group", resps[3], http.StatusOK, map[string]any{"stock": 7})
}

// jsonFailedGroup sends a JSON batch whose atomicity group fails in its
// 2nd request, a GET that depends on the group and an independent GET.
func jsonFailedGroup(ctx context.Context, c *client, id int) ([]*http.Response, error) {
	var b batchhttp.RequestBatch
	post := c.req("POST", "Books", map[string]any{"ID": id, "title": "Persuasion", "stock": 1}, "a1")
	dup := c.req("POST", "Books", map[string]any{"ID": 201, "title": "duplicate", "stock": 1}, "a2")
	patch := c.req("PATCH", "Books(207)", map[string]any{"stock": 1}, "a3")
	dep := c.req("GET", fmt.Sprintf("Books(%d)", id), nil, "dep")
	ind := c.req("GET", "Books(201)", nil, "ind")
	b.AddChangeset(post, dup, patch)
	b.Add(dep, ind)
	b.DependsOn(dep, post)
	resps, err := c.exchange(ctx, &b, batchhttp.Format(batchhttp.FormatJSON), batchhttp.ODataVersion("4.01"))
	c.note("sent %s", c.sentJSONShape())
	if err != nil {
		return nil, fmt.Errorf("ReadResponse: %w", err)
	}
	return resps, nil
}

func checkJSONFailedGroup(ctx context.Context, c *client) error {
	resps, err := jsonFailedGroup(ctx, c, 1501)
	if err != nil {
		return err
	}
	if _, err := failed("POST of a duplicate key", resps[1]); err != nil {
		return err
	}
	if err := expect("GET depending on the group", resps[3], http.StatusFailedDependency, nil); err != nil {
		return err
	}
	if err := expect("independent GET", resps[4], http.StatusOK, map[string]any{"ID": 201}); err != nil {
		return err
	}
	return rolledBack(ctx, c, 1501, 207, 11)
}

func checkJSONFailedGroupAll(ctx context.Context, c *client) error {
	resps, err := jsonFailedGroup(ctx, c, 1551)
	if err != nil {
		return err
	}
	var bad []string
	for i, what := range []string{"POST Books(1551)", "POST of a duplicate key", "PATCH Books(207)"} {
		if _, err := failed(what, resps[i]); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if err := rolledBack(ctx, c, 1551, 207, 11); err != nil {
		bad = append(bad, err.Error())
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// checkJSONStream: the JSON answer through Responses, each answer's Index
// found by its id.
func checkJSONStream(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	b.Add(c.req("GET", "Books(251)", nil, "x"), c.req("GET", "Books(9996)", nil, "y"), c.req("GET", "Authors(107)", nil, "z"))
	resp, err := c.send(ctx, &b, batchhttp.Format(batchhttp.FormatJSON), batchhttp.ODataVersion("4.01"))
	if err != nil {
		return err
	}
	var got []string
	for a, err := range b.Responses(resp) {
		if err != nil {
			return fmt.Errorf("after %v: %w", got, err)
		}
		body, err := io.ReadAll(a.Response.Body)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return fmt.Errorf("answer %d: %v", a.Index, err)
		}
		got = append(got, fmt.Sprintf("%s=%d", b.Requests()[a.Index].Header.Get("Content-ID"), a.Response.StatusCode))
	}
	c.note("answer %s", c.jsonShape())
	if fmt.Sprint(got) != "[x=200 y=404 z=200]" {
		return fmt.Errorf("answers %v, want [x=200 y=404 z=200]", got)
	}
	return nil
}

// checkMultipartAcceptJSON: a multipart batch saying Accept:
// application/json; CAP answers a JSON batch, in the multipart batch's
// order.
func checkMultipartAcceptJSON(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	b.Add(c.req("GET", "Books(201)", nil, ""))
	b.AddChangeset(
		c.req("POST", "Books", map[string]any{"ID": 1601, "title": "Middlemarch", "stock": 4}, "m"),
		c.req("PATCH", "$m", map[string]any{"stock": 8}, ""),
	)
	b.Add(c.req("GET", "Books(1601)", nil, ""))
	resps, err := c.exchange(ctx, &b, batchhttp.OuterHeader("Accept", "application/json"))
	if err != nil {
		return fmt.Errorf("ReadResponse: %w", err)
	}
	if err := expect("GET Books(201)", resps[0], http.StatusOK, map[string]any{"ID": 201}); err != nil {
		return err
	}
	if err := expect("POST Books", resps[1], http.StatusCreated, map[string]any{"ID": 1601}); err != nil {
		return err
	}
	if err := expect("PATCH $m", resps[2], http.StatusOK, map[string]any{"stock": 8}); err != nil {
		return err
	}
	return expect("GET Books(1601)", resps[3], http.StatusOK, map[string]any{"stock": 8})
}

// checkJSONAcceptMultipart: a JSON batch whose Accept asks for multipart.
// CAP answers in multipart, with the boundary "undefined" and no
// Content-IDs, in request order.
func checkJSONAcceptMultipart(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	post := c.req("POST", "Books", map[string]any{"ID": 1701, "title": "Cranford", "stock": 3}, "k1")
	after := c.req("GET", "Books(1701)", nil, "k3")
	b.Add(c.req("GET", "Books(201)", nil, "k0"))
	b.AddChangeset(post, c.req("PATCH", "$k1", map[string]any{"stock": 7}, "k2"))
	b.Add(after)
	b.DependsOn(after, post)
	resps, err := c.exchange(ctx, &b, batchhttp.Format(batchhttp.FormatJSON), batchhttp.ODataVersion("4.01"),
		batchhttp.OuterHeader("Accept", "multipart/mixed"))
	if err != nil {
		return fmt.Errorf("ReadResponse: %w", err)
	}
	if err := expect("GET Books(201)", resps[0], http.StatusOK, map[string]any{"ID": 201}); err != nil {
		return err
	}
	if err := expect("POST Books", resps[1], http.StatusCreated, map[string]any{"ID": 1701, "stock": 3}); err != nil {
		return err
	}
	if err := expect("PATCH $k1", resps[2], http.StatusOK, map[string]any{"stock": 7}); err != nil {
		return err
	}
	return expect("GET Books(1701)", resps[3], http.StatusOK, map[string]any{"stock": 7})
}

// checkJSONAcceptMultipartFailed: the same with a failing group. CAP
// answers with one part, without Content-ID, and stops. With no
// Content-ID to say which request it answers, one failure for a batch of
// several requests reads as the batch failing as a whole (ErrBatchFailed,
// Azure Blob's answer), and here that is true in effect: the group was
// rolled back and nothing after it ran. The client must not report any
// request as answered, and must hand over CAP's failure.
func checkJSONAcceptMultipartFailed(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	post := c.req("POST", "Books", map[string]any{"ID": 1751, "title": "North and South", "stock": 1}, "f1")
	dep := c.req("GET", "Books(1751)", nil, "f4")
	b.AddChangeset(post,
		c.req("POST", "Books", map[string]any{"ID": 201, "title": "duplicate", "stock": 1}, "f2"),
		c.req("PATCH", "Books(207)", map[string]any{"stock": 2}, "f3"))
	b.Add(dep, c.req("GET", "Books(201)", nil, "f5"))
	b.DependsOn(dep, post)
	resps, err := c.exchange(ctx, &b, batchhttp.Format(batchhttp.FormatJSON), batchhttp.ODataVersion("4.01"),
		batchhttp.OuterHeader("Accept", "multipart/mixed"))
	var re *batchhttp.ResponseError
	if !errors.As(err, &re) || !errors.Is(err, batchhttp.ErrBatchFailed) || resps != nil {
		return fmt.Errorf("ReadResponse: %v (%d responses), want ErrBatchFailed", err, len(resps))
	}
	if re.Response == nil || re.Response.StatusCode != http.StatusInternalServerError {
		return fmt.Errorf("ErrBatchFailed without CAP's 500: %+v", re.Response)
	}
	c.note("the client: %v", err)
	return rolledBack(ctx, c, 1751, 207, 11)
}

// checkMultipartAcceptJSONDecode: the same kind of batch as
// checkMultipartAcceptJSON, its answer read with the JSON batch decoder:
// CAP answers every request, in the multipart batch's order, the
// changeset as an atomicity group named after its boundary.
func checkMultipartAcceptJSONDecode(ctx context.Context, c *client) error {
	var b batchhttp.RequestBatch
	b.Add(c.req("GET", "Books(201)", nil, ""))
	b.AddChangeset(
		c.req("POST", "Books", map[string]any{"ID": 1651, "title": "Silas Marner", "stock": 4}, "m"),
		c.req("PATCH", "$m", map[string]any{"stock": 9}, ""),
	)
	b.Add(c.req("GET", "Books(1651)", nil, ""))
	resp, err := c.send(ctx, &b, batchhttp.OuterHeader("Accept", "application/json"))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c.note("outer %s", c.outer())
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("outer answer %d %q, want 200 application/json", resp.StatusCode, ct)
	}
	dec := jsonbatch.NewDecoder(resp.Body)
	var got []string
	groups := map[string]bool{}
	for {
		it, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("jsonbatch: after %v: %w", got, err)
		}
		if it.Message() != batch.Response {
			return fmt.Errorf("item %d is not a response", it.Index())
		}
		got = append(got, fmt.Sprintf("%s=%d", it.ID(), it.Status()))
		if g := it.AtomicityGroup(); g != nil {
			groups[string(g)] = true
		}
		if it.Index() == 2 {
			var m map[string]any
			if err := json.Unmarshal(it.Body(), &m); err != nil || fmt.Sprint(m["stock"]) != "9" {
				return fmt.Errorf("answer to PATCH $m: %s (%v)", it.Body(), err)
			}
		}
	}
	c.note("answer %s", c.jsonShape())
	if fmt.Sprint(got) != "[r1=200 r2=201 r3=200 r4=200]" {
		return fmt.Errorf("answers %v, want [r1=200 r2=201 r3=200 r4=200]", got)
	}
	if len(groups) != 1 {
		return fmt.Errorf("atomicity groups %v, want one", groups)
	}
	return nil
}

// changesetFailed checks that every request of a changeset got the same
// failure answer, and notes its status.
func changesetFailed(c *client, resps []*http.Response) error {
	first := -1
	for i, r := range resps {
		st, err := failed(fmt.Sprintf("request %d of the failed changeset", i), r)
		if err != nil {
			return err
		}
		if first >= 0 && st != first {
			return fmt.Errorf("the changeset's requests got different failures: %d and %d", first, st)
		}
		first = st
	}
	body, _ := io.ReadAll(resps[0].Body)
	c.note("the failed changeset's answer, for each of its %d requests: %d %s", len(resps), first, excerpt(body))
	return nil
}

// rolledBack checks that book created was not created (0: none) and that
// book changed still has stock.
func rolledBack(ctx context.Context, c *client, created, changed int, stock float64) error {
	if created != 0 {
		if err := c.absent(ctx, created); err != nil {
			return err
		}
	}
	s, err := c.stock(ctx, changed)
	if err != nil {
		return err
	}
	if s != stock {
		return fmt.Errorf("Books(%d) stock %v, want %v: the changeset was not rolled back", changed, s, stock)
	}
	return nil
}
