// Shared helpers of the client scripts: the server's address, its debug
// endpoints, and check(), which runs one named check and records the outcome.
import assert from "node:assert/strict";

export const BASE = process.env.INTEROP_BASE;
if (!BASE) {
  console.error("INTEROP_BASE is not set: run the scripts through interop/run.sh");
  process.exit(2);
}
export const ROOT = `${BASE}/odata/`; // service root (V4, and V2 clients that say so)
export const ROOT_V2 = `${BASE}/odata/v2/`; // the same service, batch endpoint with ODataV2(true)

/** reset puts the server back in its seed state (Books 1, 2, 3; next ID 100) and empties its log. */
export async function reset() {
  const r = await fetch(`${BASE}/debug/reset`, { method: "POST" });
  assert.equal(r.status, 204, "reset");
}

/** oplog returns the operations the service ran since the last reset: {method, path, tag, status, start, end} (µs). */
export async function oplog() {
  const r = await fetch(`${BASE}/debug/log`);
  return (await r.json()).value;
}

/** books returns the committed Books, straight from the service (not through a batch). */
export async function books() {
  const r = await fetch(`${ROOT}Books`);
  assert.equal(r.status, 200);
  return (await r.json()).value;
}

/** titles returns the committed Books' titles. */
export async function titles() {
  return (await books()).map((b) => b.Title);
}

let failed = 0;
let passed = 0;
let known = 0;

/**
 * check runs fn, a named check, from a clean server state. With knownBug,
 * the check is expected to fail because of the handler bug described: it
 * is reported, and fails the run only if it passes (then the bug is fixed
 * and the mark must go).
 */
export async function check(name, fn, { knownBug } = {}) {
  await reset();
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  if (knownBug) {
    if (err) {
      known++;
      console.log(`  known bug  ${name}\n             ${knownBug}\n             (${firstLine(err)})`);
    } else {
      failed++;
      console.log(`  FAIL  ${name}\n        passes although marked as a known bug (${knownBug}): remove the mark`);
    }
    return;
  }
  if (err) {
    failed++;
    console.log(`  FAIL  ${name}\n${indent(err.stack ?? String(err))}`);
  } else {
    passed++;
    console.log(`  ok    ${name}`);
  }
}

/** done prints the script's totals and sets its exit code. */
export function done(client) {
  console.log(`  -- ${client}: ${passed} ok, ${failed} failed${known ? `, ${known} known bug(s)` : ""}`);
  if (failed) process.exitCode = 1;
}

function firstLine(e) {
  return String(e?.message ?? e).split("\n")[0];
}

function indent(s) {
  return s.split("\n").slice(0, 12).map((l) => "        " + l).join("\n");
}

/** parts returns the top-level parts of a multipart body (for checks on the raw wire). */
export function parts(body, contentType) {
  const m = /boundary=("?)([^";]+)\1/.exec(contentType);
  assert.ok(m, `no boundary in ${contentType}`);
  const chunks = body.split(`--${m[2]}`);
  return chunks.slice(1, -1).map((c) => c.replace(/^\r\n/, ""));
}
