// @microsoft/microsoft-graph-client (npm): Microsoft Graph JSON batching.
// BatchRequestContent builds the batch from fetch Requests (its urls become
// "/odata/Books": scheme and host stripped, a leading "/"; its header names
// lower-case, as fetch's Headers give them), the client's own Client posts it
// to <base>/odata/$batch, and BatchResponseContent reads the answer.
import assert from "node:assert/strict";
import { Client, BatchRequestContent, BatchResponseContent } from "@microsoft/microsoft-graph-client";
import { BASE, ROOT, check, done, oplog, titles } from "./lib.mjs";

const client = Client.init({
  baseUrl: BASE,
  defaultVersion: "odata", // so that api("/$batch") is <base>/odata/$batch
  authProvider: (cb) => cb(null, "not-a-real-token"),
  customHosts: new Set([new URL(BASE).host]),
});

const get = (path) => new Request(`${ROOT}${path}`);
const write = (method, path, body) =>
  new Request(`${ROOT}${path}`, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

/** send builds the batch with BatchRequestContent, posts it with the Graph client, reads it with BatchResponseContent. */
async function send(steps) {
  const content = await new BatchRequestContent(steps).getContent();
  const raw = await client.api("/$batch").post(content);
  return { content, raw, res: new BatchResponseContent(raw) };
}

const status = (res, id) => res.getResponseById(id)?.status;
const span = (log, tag) => log.find((e) => e.tag === tag);

await check("dependsOn chain (serial): each request starts after the one before it ended", async () => {
  const { content, res } = await send([
    { id: "1", request: write("POST", "Books", { Title: "Hard Times" }) },
    { id: "2", request: get("Slow(50)?tag=two"), dependsOn: ["1"] },
    { id: "3", request: write("PATCH", "Books(100)", { Author: "Charles Dickens" }), dependsOn: ["2"] },
    { id: "4", request: get("Slow(30)?tag=four"), dependsOn: ["3"] },
  ]);
  assert.equal(content.requests[0].url, "/odata/Books");
  assert.equal(content.requests[0].headers["content-type"], "application/json");
  assert.deepEqual(["1", "2", "3", "4"].map((id) => status(res, id)), [201, 200, 204, 200]);
  const log = await oplog();
  const order = [log.find((e) => e.method === "POST"), span(log, "two"), log.find((e) => e.method === "PATCH"), span(log, "four")];
  for (let i = 1; i < order.length; i++) {
    assert.ok(order[i - 1].end <= order[i].start, `request ${i + 1} started before request ${i} ended: ${JSON.stringify(order)}`);
  }
  assert.ok((await titles()).includes("Hard Times"));
});

await check("independent requests run concurrently (Concurrency(8)): their spans overlap", async () => {
  const tags = ["p1", "p2", "p3", "p4"];
  const t0 = Date.now();
  const { res } = await send(tags.map((t, i) => ({ id: String(i + 1), request: get(`Slow(300)?tag=${t}`) })));
  const elapsed = Date.now() - t0;
  assert.deepEqual(["1", "2", "3", "4"].map((id) => status(res, id)), [200, 200, 200, 200]);
  const log = await oplog();
  const spans = tags.map((t) => span(log, t));
  const lastStart = Math.max(...spans.map((s) => s.start));
  const firstEnd = Math.min(...spans.map((s) => s.end));
  assert.ok(lastStart < firstEnd, `all four were running at once: ${JSON.stringify(spans)}`);
  assert.ok(elapsed < 3 * 300, `four 300 ms requests took ${elapsed} ms`);
});

await check("one dependency shared (Graph's \"same\" form): after it, the dependents overlap", async () => {
  const { res } = await send([
    { id: "1", request: get("Slow(100)?tag=root") },
    { id: "2", request: get("Slow(200)?tag=d2"), dependsOn: ["1"] },
    { id: "3", request: get("Slow(200)?tag=d3"), dependsOn: ["1"] },
    { id: "4", request: get("Slow(200)?tag=d4"), dependsOn: ["1"] },
  ]);
  assert.deepEqual(["1", "2", "3", "4"].map((id) => status(res, id)), [200, 200, 200, 200]);
  const log = await oplog();
  const root = span(log, "root");
  const deps = ["d2", "d3", "d4"].map((t) => span(log, t));
  for (const d of deps) assert.ok(root.end <= d.start, `a dependent started before its dependency ended: ${JSON.stringify([root, d])}`);
  assert.ok(Math.max(...deps.map((d) => d.start)) < Math.min(...deps.map((d) => d.end)), `dependents overlap: ${JSON.stringify(deps)}`);
});

await check("a failed request: its dependents answered 424 without running", async () => {
  const { res } = await send([
    { id: "1", request: write("POST", "Books", {}) },
    { id: "2", request: write("PATCH", "Books(1)", { Title: "changed" }), dependsOn: ["1"] },
    { id: "3", request: write("PATCH", "Books(2)", { Title: "Villette" }), dependsOn: ["1"] },
  ]);
  assert.deepEqual(["1", "2", "3"].map((id) => status(res, id)), [400, 424, 424]);
  const log = await oplog();
  assert.ok(!log.some((e) => e.method === "PATCH"), "the dependents did not run");
  const now = await titles();
  assert.ok(!now.includes("changed") && !now.includes("Villette"));
});

await check("answer bodies read through BatchResponseContent: a batch of GETs (no request headers)", async () => {
  const { res } = await send([
    { id: "a", request: get("Books(1)") },
    { id: "b", request: new Request("https://graph.example/Books(2)") }, // url "/Books(2)": service-relative, as Graph reads it
  ]);
  assert.equal((await res.getResponseById("a").json()).Title, "Wuthering Heights");
  assert.equal((await res.getResponseById("b").json()).Title, "Jane Eyre");
});

// BatchResponseContent turns a JSON body back into JSON text only when the
// answer's header is spelled "Content-Type"; otherwise the body object
// becomes the text "[object Object]". This client writes its own header
// names lower-case (fetch's Headers lower-case them) and sends no
// OData-Version, so the Handler answers with names as the handler wrote
// them. (It once followed the request's case, and this check failed.)
await check(
  "answer bodies read through BatchResponseContent: a batch with a POST",
  async () => {
    const { raw, res } = await send([
      { id: "1", request: write("POST", "Books", { Title: "Bleak House" }) },
      { id: "2", request: get("Books(1)"), dependsOn: ["1"] },
    ]);
    assert.equal(status(res, "1"), 201);
    const text = await res.getResponseById("1").text();
    assert.notEqual(text, "[object Object]", `answer read as ${text}; headers ${JSON.stringify(raw.responses[0].headers)}`);
    assert.equal(JSON.parse(text).Title, "Bleak House");
    assert.equal((await res.getResponseById("2").json()).Title, "Wuthering Heights");
  },
);

done("@microsoft/microsoft-graph-client");
