// odata-batch (npm): OData V2 multipart batches, every call in a changeset,
// with per-response success detection. Sent through the library's documented
// custom-repository hook (fetch instead of axios) so that the outer status
// can be checked: OData V2 clients such as pyodata need 202 Accepted.
import assert from "node:assert/strict";
import { ODataBatch, createBatchResponse } from "odata-batch";
import { ROOT, ROOT_V2, check, done, parts, titles } from "./lib.mjs";

/** A repository (the library's transport interface) that keeps the raw answer. */
class FetchRepository {
  async send(url, batchRequest, config, accept, BatchParser) {
    const r = await fetch(url, { method: "POST", headers: config.headers, body: batchRequest });
    const data = await r.text();
    this.status = r.status;
    this.headers = Object.fromEntries(r.headers);
    this.data = data;
    assert.ok(r.ok, `batch answered ${r.status}: ${data}`);
    return createBatchResponse(BatchParser, { data, headers: this.headers }, accept).response;
  }
}

async function run(root, calls, headers) {
  const repo = new FetchRepository();
  const batch = new ODataBatch({ url: `${root}$batch`, auth: "user:pass", calls, headers }, repo);
  const responses = await batch.send();
  return { repo, responses };
}

// The V2 root answers in V2's JSON format, {"d":{…}}; the plain root in V4's.
const entity = (data) => data.d ?? data;

const v2 = { DataServiceVersion: "2.0", MaxDataServiceVersion: "2.0" };

for (const [name, root, headers] of [
  ["V2 request (DataServiceVersion 2.0) to the plain endpoint", ROOT, v2],
  ["V2 request to the ODataV2() endpoint", ROOT_V2, v2],
]) {
  await check(`${name}: 202, two changesets, answers in order`, async () => {
    const { repo, responses } = await run(
      root,
      [
        [
          { method: "POST", url: "Books", data: { Title: "Emma" } },
          { method: "POST", url: "Books", data: { Title: "Persuasion" } },
        ],
        [{ method: "GET", url: "Books(1)", data: null }],
      ],
      headers,
    );
    assert.equal(repo.status, 202);
    assert.equal(repo.headers["dataserviceversion"], "1.0");
    assert.deepEqual(responses.map((r) => [r.code, r.success, r.changesetIndex]), [
      ["201", true, 0],
      ["201", true, 0],
      ["200", true, 1],
    ]);
    assert.equal(entity(responses[1].data).Title, "Persuasion");
    assert.equal(entity(responses[2].data).Title, "Wuthering Heights");
    const now = await titles();
    assert.ok(now.includes("Emma") && now.includes("Persuasion"));
  });

  await check(`${name}: failed changeset is one response with success false, rolled back`, async () => {
    const { repo, responses } = await run(
      root,
      [
        [
          { method: "POST", url: "Books", data: { Title: "Sense" } },
          { method: "POST", url: "Books", data: {} },
        ],
        [{ method: "GET", url: "Books(1)", data: null }],
      ],
      headers,
    );
    assert.equal(repo.status, 202);
    const top = parts(repo.data, repo.headers["content-type"]);
    assert.equal(top.length, 1, "one part in place of the changeset; the batch stops there");
    assert.match(top[0], /^Content-Type: application\/http\r\n/i);
    assert.equal(responses.length, 1);
    assert.equal(responses[0].code, "400");
    assert.equal(responses[0].success, false);
    assert.match(responses[0].data.error.message, /needs a Title/);
    assert.ok(!(await titles()).includes("Sense"));
  });
}

// odata-batch sends "Accept: application/json" on the batch request itself
// (it means the operations' format) and no version header unless told.
// A V2 service must still answer multipart with 202: the ODataV2 option
// says "every multipart/mixed batch".
await check("V2 request without a version header to the ODataV2() endpoint: 202 multipart", async () => {
  const { repo, responses } = await run(ROOT_V2, [[{ method: "POST", url: "Books", data: { Title: "Mansfield Park" } }]]);
  assert.equal(repo.status, 202);
  assert.match(repo.headers["content-type"], /^multipart\/mixed/);
  assert.deepEqual(responses.map((r) => [r.code, r.success]), [["201", true]]);
});

done("odata-batch");
