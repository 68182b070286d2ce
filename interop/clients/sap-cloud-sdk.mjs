// SAP Cloud SDK for JavaScript, OData V4 (@sap-cloud-sdk/odata-v4): the
// checks of lib-sap-cloud-sdk.mjs against the V4 root /odata/.
import * as sdk from "@sap-cloud-sdk/odata-v4";
import { sapChecks } from "./lib-sap-cloud-sdk.mjs";

await sapChecks(sdk, { name: "@sap-cloud-sdk/odata-v4", version: "V4", basePath: "/odata/", batchStatus: 200 });
