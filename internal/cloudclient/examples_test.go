package cloudclient

// The documented example bodies, used by tests and as fuzz seeds.
const (
	exampleWorkspace = `{
"id" : "**d05d1a553b4e188ea878e7dcb85e**",
"name" : "test-workspace",
"status" : "NORMAL",
"status_info" : "",
"description" : "",
"owner" : "testUser",
"create_time" : 1470000020000,
"update_time" : 1470000030000,
"enterprise_project_id" : "***b0091-887f-4839-9929-cbc884f1e***",
"enterprise_project_name" : "test-eps",
"auth_type" : "INTERNAL",
"grants" : [ {
"user_id" : "***55d2cd53b4x458ea878e7dcb85***",
"user_name" : "test-iam-user"
} ]
}`
	exampleAuthorizations = `{
"total_count" : 1,
"auth" : [ {
"user_id" : "****d80fb058844ae8b82aa66d9fe****",
"user_name" : "iam-user01",
"type" : "agency",
"content" : "modelarts_agency",
"create_time" : 15657747821288
} ]
}`
	exampleServiceAPIAuths = `{
 "enable_app_auth" : true,
 "app_auth_api" : {
 "api_id" : "string",
 "authed_apps" : [ {
 "app_codes" : [ "1f5f6cb703864cc580d1ba2cdfd77a271a74eee8e5a242e8b5adc009f77a8b2a" ],
 "app_id" : "54d9104db9e7418f9138980da63a857f",
 "app_key" : "151f1f4dfb20445b97326bde3db0c515",
 "app_name" : "app_for_9332aab245ea4d56871e75d6966aa274",
 "app_remark" : "app for user op_svc_modelarts_container0",
 "app_secret" : "0080fa74e6214d0c8d1b2cb01d9d7708",
 "app_type" : "APIG",
 "bounded_api_count" : 0,
 "created_at" : 1574946998167,
 "project_id" : "string",
 "updated_at" : 1574946998167,
 "user_id" : "9332aab245ea4d56871e75d6966aa274"
 } ]
 }
}`
	exampleRomaApp = `{
 "id" : "b2e6b145-4f3f-4a80-aa45-f4b8029f95a3",
 "name" : "AppName",
 "remark" : "example",
 "roles" : [ "read, access, delete, modify, admin" ],
 "create_time" : "2019-12-06T06:49:04.000Z",
 "update_time" : "2019-12-06T06:49:04.000Z",
 "created_user" : {
 "user_id" : "string",
 "user_name" : "string"
 },
 "last_updated_user" : {
 "user_id" : "string",
 "user_name" : "string"
 },
 "owner" : true,
 "key" : "TEI95****f8UM",
 "favorite" : true
}`
	exampleRomaError = `{
 "error_code" : "ROMA.00000101",
 "error_msg" : "error summary",
 "error_details" : "some error details here",
 "request_id" : "13760c1fe8655e61209b75665e9bef43"
}`
	exampleDevEnvToken     = `{ "token": "7211546f57cd432790643bb6612da19d" }`
	exampleDevEnvNotFound  = `{ "error_msg": "The instance does not exist.", "error_code": "ModelArts.6309" }`
	exampleDevEnvNotFound2 = `{ "error_message": "The instance does not exist.", "error_code": "ModelArts.6309" }`
	exampleKeystoneError   = `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`
	exampleIAMToken        = `{"token":{"expires_at":"2015-11-09T01:42:57.527363Z","methods":["password"]}}`
)
