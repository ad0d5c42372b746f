// Package cloudclient is the operator's client for the Huawei Cloud / Open
// Telekom Cloud APIs it mirrors: ModelArts workspaces, authorizations and
// service api-auths, ROMA Connect apps and old DevEnviron instance tokens.
//
// A Pool hands out one Client per distinct account configuration. Clients
// authenticate with AK/SK signatures (package signer) or with IAM password
// tokens, which the Pool caches and shares. Every failure is an *Error whose
// Reason says what kind of failure it was; no error text ever carries a
// credential, a token or a raw response body. The package never logs.
package cloudclient
