// The checks of the SAP Cloud SDK for JavaScript, shared by its OData V4
// (sap-cloud-sdk.mjs) and V2 (sap-cloud-sdk-v2.mjs) packages, whose batch
// APIs are the same: batches built with its request builders and
// ODataBatchRequestBuilder, executed against a plain destination ({url}),
// answers read by its own batch parser and deserializer. The SDK normally
// works with code generated from a service's $metadata; the entity API
// below is written by hand in the shape of that generated code (Entity
// subclass, schema of fields, request builder), which is all its batch
// support needs. Issue #11: the SDK read a failed changeset answered inside
// changeset framing as a successful changeset.
import assert from "node:assert/strict";
import { setGlobalLogLevel } from "@sap-cloud-sdk/util";
import { BASE, check, done, titles } from "./lib.mjs";

// The SDK warns "Could not parse constructor from response body" for every
// V4 entity without a V2-style __metadata.uri, which no V4 service sends.
setGlobalLogLevel("error");

/**
 * sapChecks runs the checks with sdk, the module of @sap-cloud-sdk/odata-v4
 * or -v2, against the service at basePath, whose batches are answered with
 * batchStatus (200 in V4, 202 in V2).
 */
export async function sapChecks(sdk, { name, version, basePath, batchStatus }) {
  const {
    Entity, FieldBuilder, AllFields, entityBuilder, CustomField, defaultDeSerializers, RequestBuilder,
    GetByKeyRequestBuilder, CreateRequestBuilder, UpdateRequestBuilder, DeleteRequestBuilder,
    ODataBatchRequestBuilder, BatchChangeSet,
  } = sdk;

  class Books extends Entity {
    static _entityName = "Books";
    static _defaultBasePath = basePath;
    static _keys = ["ID"];
  }

  class BooksApi {
    deSerializers = defaultDeSerializers;
    entityConstructor = Books;
    _addNavigationProperties() {
      return this;
    }
    requestBuilder() {
      return new BooksRequestBuilder(this);
    }
    entityBuilder() {
      return entityBuilder(this);
    }
    customField(name, isNullable = false) {
      return new CustomField(name, this.entityConstructor, this.deSerializers, isNullable);
    }
    get schema() {
      if (!this._schema) {
        const fb = new FieldBuilder(Books, this.deSerializers);
        this._schema = {
          ID: fb.buildEdmTypeField("ID", "Edm.Int32", false),
          TITLE: fb.buildEdmTypeField("Title", "Edm.String", true),
          AUTHOR: fb.buildEdmTypeField("Author", "Edm.String", true),
          ALL_FIELDS: new AllFields("*", Books),
        };
      }
      return this._schema;
    }
  }

  class BooksRequestBuilder extends RequestBuilder {
    getByKey(id) {
      return new GetByKeyRequestBuilder(this.entityApi, { ID: id });
    }
    create(entity) {
      return new CreateRequestBuilder(this.entityApi, entity);
    }
    update(entity) {
      return new UpdateRequestBuilder(this.entityApi, entity);
    }
    delete(id) {
      return new DeleteRequestBuilder(this.entityApi, { ID: id });
    }
  }

  const api = new BooksApi();
  const books = api.requestBuilder();
  const book = (json) => api.entityBuilder().fromJson(json);
  const destination = { url: BASE };
  const batch = (...requests) => new ODataBatchRequestBuilder(basePath, requests).skipCsrfTokenFetching();

  await check("successful changeset (two creates, an update) and a read", async () => {
    const update = book({ id: 2, author: "C. Brontë" });
    const res = await batch(
      new BatchChangeSet([books.create(book({ title: "Shirley" })), books.create(book({ title: "Agnes Grey" })), books.update(update)]),
      books.getByKey(1),
    ).execute(destination);
    assert.equal(res.length, 2);
    const [cs, read] = res;
    assert.ok(cs.isSuccess() && cs.isWriteResponses(), "the changeset is read as successful writes");
    assert.deepEqual(cs.responses.map((r) => r.httpCode), [201, 201, 204]);
    assert.equal(cs.responses[0].as(api).title, "Shirley");
    assert.ok(read.isSuccess() && read.isReadResponse());
    assert.equal(read.httpCode, 200);
    assert.equal(read.as(api)[0].title, "Wuthering Heights");
    const now = await titles();
    assert.ok(now.includes("Shirley") && now.includes("Agnes Grey"));
  });

  await check("failed changeset: read as an error, not as a successful changeset; rolled back", async () => {
    const res = await batch(
      new BatchChangeSet([books.create(book({ title: "Would be rolled back" })), books.create(book({})), books.delete(1)]),
      books.getByKey(1),
    ).execute(destination);
    assert.equal(res.length, 1, "the batch stops after the failed changeset");
    const [cs] = res;
    assert.ok(cs.isError(), "the changeset is an ErrorResponse");
    assert.ok(!cs.isSuccess());
    assert.equal(cs.httpCode, 400);
    assert.match(JSON.stringify(cs.body), /needs a Title/);
    const now = await titles();
    assert.ok(!now.includes("Would be rolled back"));
    assert.ok(now.includes("Wuthering Heights"), "the changeset's DELETE did not run");
  });

  await check("continue-on-error: a 404 read, a failed changeset, a read", async () => {
    const res = await batch(books.getByKey(999), new BatchChangeSet([books.create(book({}))]), books.getByKey(3))
      .addCustomHeaders({ Prefer: "odata.continue-on-error" })
      .execute(destination);
    assert.deepEqual(res.map((r) => [r.isError(), r.httpCode]), [
      [true, 404],
      [true, 400],
      [false, 200],
    ]);
    assert.equal(res[2].as(api)[0].title, "The Raven");
  });

  await check(`the batch itself is answered ${batchStatus} (${version}), read by executeRaw`, async () => {
    const raw = await batch(books.getByKey(1)).executeRaw(destination);
    assert.equal(raw.status, batchStatus);
    assert.match(raw.headers["content-type"], /^multipart\/mixed; boundary=batchresponse_/);
  });

  done(name);
}
