// Package cloudsim simulates the Huawei Cloud / Open Telekom Cloud APIs the
// modelarts-operator mirrors, on the wire format alone: IAM password tokens,
// ModelArts workspaces, authorizations and service api-auths, ROMA Connect
// apps and the old DevEnviron instance token. One http.Handler (Server)
// serves every API, so the operator's iam, modelarts and roma endpoints can
// all point at the same base URL. AdminHandler serves a JSON admin API for
// demos and tests (fault injection, counters, state changes).
//
// # Cloud APIs (Server.ServeHTTP)
//
//	POST /v3/auth/tokens                                   IAM password token → 201 + X-Subject-Token
//	POST /v3.0/OS-AUTH/id-token/tokens                     ID token (X-Idp-Id) → 201 + X-Subject-Token (iam_federation.go)
//	PUT  /meta-data/latest/api/token                       metadata session token (metadata.go)
//	GET  /openstack/latest/securitykey                     temporary AK/SK + security token
//	GET  /v1/{project_id}/workspaces/{workspace_id}
//	GET  /v2/{project_id}/authorizations?sort_by=&order=&limit=&offset=
//	GET  /v1/{project_id}/services/{service_id}/api-auths?workspace_id=
//	GET  /v2/{project_id}/instances/{instance_id}/apps/{app_id}   (ROMA)
//	GET  /v1/{project_id}/demanager/instances/{instance_id}/token
//
// Every response carries X-Request-Id. Unknown paths or methods answer 404
// APIGW.0101, as the API gateway does. Every call but IAM is authenticated
// either by X-Auth-Token (a live, unrevoked token this simulator issued,
// scoped to the path's project) or by an SDK-HMAC-SHA256 signature (known
// AK, signature recomputed from the received request, X-Sdk-Date within 15
// minutes, x-sdk-date and x-project-id signed, X-Project-Id equal to the
// path's project, X-Security-Token present, signed and equal when the key
// has one, project allowed for the key). Authentication failures answer 401
// {"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication
// information: ...","request_id":...}; a project the credential may not use
// (or a missing/mismatched X-Project-Id) answers 403 ModelArts.0203. IAM
// errors are Keystone-style {"error":{"code","message","title"}}: 401 for a
// wrong user/password/domain, 403 for a project the user may not scope to,
// 400 for a malformed body. Error bodies never echo credentials.
//
// Missing resources: workspace 404 ModelArts.4302, service 404
// ModelArts.3502 (also 404 ModelArts.4302 for an unknown workspace_id),
// ROMA instance/app 404 {"error_code":"ROMA.00000001","error_msg",
// "error_details","request_id"}, dev-environment instance 400
// ModelArts.6309 "The instance does not exist.". Invalid authorizations
// query parameters answer 400 ModelArts.0101.
//
// Authorizations paging: offset is a page index (documented meaning;
// records offset*limit …) unless SetAuthorizationPaging(true) makes it a
// number of records to skip. The list is under "auth" unless
// SetAuthorizationListField("content").
//
// # Faults
//
// InjectFault(api, Fault) replaces an API's faults, AppendFault queues one
// after them; a Fault with Times > 0 is used up after that many requests,
// Times 0 lasts until cleared. Faults apply to every request of the API
// (after counting, before authentication). Close releases hanging requests.
//
// # Admin API (AdminHandler, JSON; durations as "1.5s" strings or seconds)
//
//	GET    /admin/healthz                                   {"status":"ok"}
//	GET    /admin/requests                                  {"apis":{api:{"total":n,"by_id":{id:n}}},"issued_tokens":n}
//	POST   /admin/reset-counters
//	GET    /admin/faults                                    pending faults per API
//	DELETE /admin/faults                                    clear all faults
//	PUT    /admin/faults/{api}                              body Fault: replace that API's faults
//	POST   /admin/faults/{api}                              body Fault: append to that API's faults
//	DELETE /admin/faults/{api}                              clear that API's faults
//	GET    /admin/latency, POST /admin/latency              {"latency":"100ms"}
//	PUT    /admin/workspaces/{project}/{id}/status          {"status":"DELETING"}
//	POST   /admin/devenv/{project}/{id}/rotate              → {"token":"<new>"}
//	POST   /admin/services/{project}/{service}/apps         body AuthedApp (cloud field names)
//	DELETE /admin/services/{project}/{service}/apps/{app}
//	GET    /admin/authorizations/settings, PUT same         {"record_offsets":bool,"list_field":"auth"|"content"}
//	POST   /admin/authorizations/{project}/generate         {"count":2500} (replaces the list)
//	POST   /admin/revoke-tokens
//	PUT    /admin/token-ttl                                 {"ttl":"1m"}
//	PUT    /admin/clock                                     {"offset":"-20m"} (0 = real time)
//	GET    /admin/fixture, PUT /admin/fixture               the whole state as fixture JSON
//
// Fault JSON: {"status":429,"code":"ModelArts.2799","message":"...",
// "retry_after":"2s","latency":"100ms","malformed":false,
// "wrong_types":false,"hang":false,"times":1}. {api} is one of iam_token,
// workspace, authorizations, service_api_auths, roma_app, devenv_token,
// iam_id_token, instance_metadata.
// Admin errors answer {"error":"..."} with 400 or 404.
package cloudsim
