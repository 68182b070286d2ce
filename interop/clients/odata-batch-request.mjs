// odata-batch-request (npm): OData V4 multipart batches, built and parsed by
// the library; sent with fetch. It threw "Missing response of operation at
// index 0" on a failed changeset answered inside changeset framing (issue #11).
import assert from "node:assert/strict";
import { ODataBatchRequest, ODataBatchChangeset, ODataBatchOperation } from "odata-batch-request";
import { ROOT, check, done, parts, titles } from "./lib.mjs";

const json = { "Content-Type": "application/json" };
const post = (title) =>
  new ODataBatchOperation("post", "Books", { headers: json, body: JSON.stringify(title === undefined ? {} : { Title: title }) });

/** send POSTs the library's batch, with extra outer headers, and has the library parse the answer. */
async function send(req, extra = {}) {
  const r = await fetch(req.url, { method: "POST", headers: { ...req.headers, ...extra }, body: req.body });
  const text = await r.text();
  const type = r.headers.get("content-type");
  assert.equal(r.status, 200, `batch status: ${text}`);
  assert.match(type, /^multipart\/mixed; boundary=/);
  return { r, text, type, parsed: req.parseResponse(text, type) };
}

await check("successful changeset with a $1 reference, then a GET", async () => {
  const create = post("Dune");
  const rename = new ODataBatchOperation("put", [create, "Title"], { headers: json, body: JSON.stringify({ value: "Dune Messiah" }) });
  const req = new ODataBatchRequest(ROOT, [new ODataBatchChangeset([create, rename]), new ODataBatchOperation("get", "Books(100)")]);
  assert.match(req.body, /PUT \$1\/Title HTTP\/1\.1/); // the library wrote the reference
  const { parsed } = await send(req);
  assert.equal(parsed.hasError, false);
  const [cs, get] = parsed.operations;
  assert.ok(Array.isArray(cs), "the changeset's answers are a list");
  assert.deepEqual(cs.map((a) => a.status), [201, 204]);
  assert.equal(JSON.parse(cs[0].body).Title, "Dune");
  assert.equal(get.status, 200);
  assert.deepEqual(JSON.parse(get.body), { ID: 100, Title: "Dune Messiah" });
  assert.ok((await titles()).includes("Dune Messiah"));
});

await check("failed changeset: one unframed answer with the failing Content-ID, reported as a failure, rolled back", async () => {
  const req = new ODataBatchRequest(ROOT, [
    new ODataBatchChangeset([post("Kept?"), post(undefined), post("Never")]),
    new ODataBatchOperation("get", "Books"),
  ]);
  const { text, type, parsed } = await send(req);
  // On the wire: one application/http part in place of the changeset,
  // carrying the failing request's Content-ID (2); nothing after it.
  const top = parts(text, type);
  assert.equal(top.length, 1, "the batch stops after the failed changeset");
  assert.match(top[0], /^Content-Type: application\/http\r\n/i);
  assert.match(top[0], /\r\nContent-ID: 2\r\n/i);
  assert.match(top[0], /\r\n\r\nHTTP\/1\.1 400 /);
  // What the client reports: a changeset failure, not a list of answers.
  assert.equal(parsed.hasError, true);
  assert.equal(parsed.operations.length, 1);
  const [cs] = parsed.operations;
  assert.ok(!Array.isArray(cs), "a failed changeset is one failure response");
  assert.equal(cs.status, 400);
  assert.equal(cs.changeset, req.operations[0]);
  assert.match(cs.body, /needs a Title/);
  const now = await titles();
  assert.ok(!now.includes("Kept?"), "the changeset's first POST was rolled back");
  assert.ok(!now.includes("Never"));
});

await check("continue-on-error: a 404, a failed changeset and a GET all answered", async () => {
  const req = new ODataBatchRequest(ROOT, [
    new ODataBatchOperation("get", "Books(999)"),
    new ODataBatchChangeset([post("Rolled back"), post(undefined)]),
    new ODataBatchOperation("get", "Books(1)"),
  ]);
  const { r, parsed } = await send(req, { Prefer: "odata.continue-on-error" });
  assert.equal(r.headers.get("preference-applied"), "odata.continue-on-error");
  assert.equal(parsed.hasError, true);
  const [missing, cs, get] = parsed.operations;
  assert.equal(missing.status, 404);
  assert.ok(!Array.isArray(cs));
  assert.equal(cs.status, 400);
  assert.equal(get.status, 200);
  assert.equal(JSON.parse(get.body).Title, "Wuthering Heights");
  assert.ok(!(await titles()).includes("Rolled back"));
});

await check("without continue-on-error the batch stops after a failed top-level operation", async () => {
  const req = new ODataBatchRequest(ROOT, [
    new ODataBatchOperation("delete", "Books(2)"),
    new ODataBatchOperation("delete", "Books(999)"),
    new ODataBatchOperation("delete", "Books(3)"),
  ]);
  const { parsed } = await send(req);
  assert.deepEqual(parsed.operations.map((a) => a.status), [204, 404]);
  assert.deepEqual(await titles(), ["Wuthering Heights", "The Raven"]);
});

done("odata-batch-request");
