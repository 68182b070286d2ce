// SAP Cloud SDK for JavaScript, OData V2 (@sap-cloud-sdk/odata-v2): the
// checks of lib-sap-cloud-sdk.mjs against the V2 root /odata/v2/ (answers
// in V2's JSON, {"d":…}; its batch endpoint mounted with
// batchhttp.ODataV2, so answered 202 Accepted as SAP Gateway answers).
import * as sdk from "@sap-cloud-sdk/odata-v2";
import { sapChecks } from "./lib-sap-cloud-sdk.mjs";

await sapChecks(sdk, { name: "@sap-cloud-sdk/odata-v2", version: "V2", basePath: "/odata/v2/", batchStatus: 202 });
