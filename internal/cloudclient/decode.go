package cloudclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// flexInt decodes an integer that may arrive as an integer, a float
// (1.565774782128e13, 1.0) or a numeric string. null leaves it unchanged.
type flexInt int64

var errNotInteger = errors.New("not an integer")

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*f = 0
			return nil
		}
	}
	v, err := parseLooseInt(s)
	if err != nil {
		return err
	}
	*f = flexInt(v)
	return nil
}

// parseLooseInt parses a JSON number (integer or float) into an int64,
// rounding floats to the nearest integer.
func parseLooseInt(s string) (int64, error) {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) || !json.Valid([]byte(s)) {
		return 0, errNotInteger
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	fl, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(fl) || math.IsInf(fl, 0) {
		return 0, errNotInteger
	}
	fl = math.Round(fl)
	// float64(math.MaxInt64) rounds up to 2^63, which does not fit.
	if fl < math.MinInt64 || fl >= math.MaxInt64 {
		return 0, errNotInteger
	}
	return int64(fl), nil
}

var errNotObject = errors.New("response body is not a JSON object")

// decodeObject unmarshals a JSON object body into v (unknown fields ignored).
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errNotObject
	}
	return json.Unmarshal(trimmed, v)
}

type wireGrant struct {
	UserID   string `json:"user_id"`
	UserName string `json:"user_name"`
}

type wireWorkspace struct {
	ID                    string      `json:"id"`
	Name                  string      `json:"name"`
	Description           string      `json:"description"`
	Owner                 string      `json:"owner"`
	CreateTime            flexInt     `json:"create_time"`
	UpdateTime            flexInt     `json:"update_time"`
	AuthType              string      `json:"auth_type"`
	EnterpriseProjectID   string      `json:"enterprise_project_id"`
	EnterpriseProjectName string      `json:"enterprise_project_name"`
	Status                string      `json:"status"`
	StatusInfo            string      `json:"status_info"`
	Grants                []wireGrant `json:"grants"`
}

func decodeWorkspace(body []byte) (*Workspace, error) {
	var w wireWorkspace
	if err := decodeObject(body, &w); err != nil {
		return nil, err
	}
	out := &Workspace{
		ID: w.ID, Name: w.Name, Description: w.Description, Owner: w.Owner,
		CreateTime: int64(w.CreateTime), UpdateTime: int64(w.UpdateTime),
		AuthType: w.AuthType, EnterpriseProjectID: w.EnterpriseProjectID,
		EnterpriseProjectName: w.EnterpriseProjectName,
		Status:                w.Status, StatusInfo: w.StatusInfo,
	}
	for _, g := range w.Grants {
		out.Grants = append(out.Grants, Grant(g))
	}
	return out, nil
}

type wireAuthorization struct {
	UserID     string  `json:"user_id"`
	UserName   string  `json:"user_name"`
	UserType   string  `json:"user_type"`
	Type       string  `json:"type"`
	Content    string  `json:"content"`
	SecretKey  string  `json:"secret_key"`
	CreateTime flexInt `json:"create_time"`
}

type wireAuthorizationPage struct {
	TotalCount *flexInt            `json:"total_count"`
	Auth       []wireAuthorization `json:"auth"`
	Content    []wireAuthorization `json:"content"`
}

// authorizationPage is one decoded page of the authorization list.
type authorizationPage struct {
	items        []Authorization
	total        int64
	totalPresent bool
}

// decodeAuthorizationPage accepts the list under "auth" or "content".
func decodeAuthorizationPage(body []byte) (authorizationPage, error) {
	var w wireAuthorizationPage
	if err := decodeObject(body, &w); err != nil {
		return authorizationPage{}, err
	}
	list := w.Auth
	if len(list) == 0 {
		list = w.Content // some deployments answer under "content"
	}
	p := authorizationPage{items: make([]Authorization, 0, len(list))}
	if w.TotalCount != nil {
		p.total, p.totalPresent = int64(*w.TotalCount), true
		if p.total < 0 {
			return authorizationPage{}, errors.New("negative total_count")
		}
	}
	for _, a := range list {
		p.items = append(p.items, Authorization{
			UserID: a.UserID, UserName: a.UserName, UserType: a.UserType, Type: a.Type,
			Content: a.Content, SecretKey: a.SecretKey, CreateTime: int64(a.CreateTime),
		})
	}
	return p, nil
}

type wireAuthedApp struct {
	AppCodes        []string `json:"app_codes"`
	AppID           string   `json:"app_id"`
	AppKey          string   `json:"app_key"`
	AppName         string   `json:"app_name"`
	AppRemark       string   `json:"app_remark"`
	AppSecret       string   `json:"app_secret"`
	AppType         string   `json:"app_type"`
	BoundedAPICount flexInt  `json:"bounded_api_count"`
	CreatedAt       flexInt  `json:"created_at"`
	UpdatedAt       flexInt  `json:"updated_at"`
	ProjectID       string   `json:"project_id"`
	UserID          string   `json:"user_id"`
}

type wireServiceAPIAuths struct {
	EnableAppAuth bool `json:"enable_app_auth"`
	AppAuthAPI    *struct {
		APIID      string          `json:"api_id"`
		AuthedApps []wireAuthedApp `json:"authed_apps"`
	} `json:"app_auth_api"`
}

func decodeServiceAPIAuths(body []byte) (*ServiceAPIAuths, error) {
	var w wireServiceAPIAuths
	if err := decodeObject(body, &w); err != nil {
		return nil, err
	}
	out := &ServiceAPIAuths{EnableAppAuth: w.EnableAppAuth}
	if w.AppAuthAPI != nil {
		out.APIID = w.AppAuthAPI.APIID
		for _, a := range w.AppAuthAPI.AuthedApps {
			out.Apps = append(out.Apps, AuthedApp{
				AppCodes: a.AppCodes, AppID: a.AppID, AppKey: a.AppKey, AppName: a.AppName,
				AppRemark: a.AppRemark, AppSecret: a.AppSecret, AppType: a.AppType,
				BoundedAPICount: int64(a.BoundedAPICount),
				CreatedAt:       int64(a.CreatedAt), UpdatedAt: int64(a.UpdatedAt),
				ProjectID: a.ProjectID, UserID: a.UserID,
			})
		}
	}
	return out, nil
}

func decodeRomaApp(body []byte) (*RomaApp, error) {
	var w RomaApp // no integers: the public type decodes directly
	if err := decodeObject(body, &w); err != nil {
		return nil, err
	}
	// Times are mirrored as RFC 3339: one that does not parse is a bad
	// answer, not a silently missing field.
	for field, v := range map[string]string{"create_time": w.CreateTime, "update_time": w.UpdateTime} {
		if _, err := time.Parse(time.RFC3339Nano, v); v != "" && err != nil {
			return nil, fmt.Errorf("%s is not an RFC 3339 time", field)
		}
	}
	return &w, nil
}

var errNoToken = errors.New("response has no token")

func decodeDevEnvToken(body []byte) (string, error) {
	var w struct {
		Token string `json:"token"`
	}
	if err := decodeObject(body, &w); err != nil {
		return "", err
	}
	if w.Token == "" {
		return "", errNoToken
	}
	return w.Token, nil
}

var (
	errNoExpiry       = errors.New("IAM response has no valid token.expires_at")
	errNoLifetime     = errors.New("IAM token's expires_at is not after its issued_at")
	errExpiredOnIssue = errors.New("IAM issued a token whose expires_at has already passed (is this clock ahead of IAM's?)")
)

// iamTokenTimes is what an IAM token response says of the token's life.
type iamTokenTimes struct {
	ExpiresAt time.Time
	IssuedAt  time.Time // zero when the response has none
}

// decodeIAMToken reads token.expires_at (required) and token.issued_at
// (optional) from a POST /v3/auth/tokens response.
func decodeIAMToken(body []byte) (iamTokenTimes, error) {
	var w struct {
		Token struct {
			ExpiresAt string `json:"expires_at"`
			IssuedAt  string `json:"issued_at"`
		} `json:"token"`
	}
	if err := decodeObject(body, &w); err != nil {
		return iamTokenTimes{}, err
	}
	exp, ok := parseIAMTime(w.Token.ExpiresAt)
	if !ok {
		return iamTokenTimes{}, errNoExpiry
	}
	issued, _ := parseIAMTime(w.Token.IssuedAt)
	return iamTokenTimes{ExpiresAt: exp, IssuedAt: issued}, nil
}

func parseIAMTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil && !t.IsZero() {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// localExpiry is when a token obtained by a request sent at sent stops being
// usable, on this machine's clock. With issued_at, the token's lifetime is
// counted from sent, so a clock that differs from IAM's neither shortens nor
// stretches it; without, expires_at is taken as it is.
func (t iamTokenTimes) localExpiry(sent time.Time) (time.Time, error) {
	if !t.IssuedAt.IsZero() {
		lifetime := t.ExpiresAt.Sub(t.IssuedAt)
		if lifetime <= 0 {
			return time.Time{}, errNoLifetime
		}
		return sent.Add(lifetime), nil
	}
	if !t.ExpiresAt.After(sent) {
		return time.Time{}, errExpiredOnIssue
	}
	return t.ExpiresAt, nil
}

// cloudError is what an error body says.
type cloudError struct {
	code, message, requestID string
}

// decodeErrorBody reads ModelArts/ROMA style {"error_code","error_msg"|
// "error_message","request_id"} and IAM Keystone style
// {"error":{"code","message","title"}} bodies. Anything else yields zero values.
func decodeErrorBody(body []byte) cloudError {
	var raw map[string]json.RawMessage
	if decodeObject(body, &raw) != nil {
		return cloudError{}
	}
	ce := cloudError{
		code:      scalarString(raw["error_code"]),
		message:   scalarString(raw["error_msg"]),
		requestID: scalarString(raw["request_id"]),
	}
	if ce.message == "" {
		ce.message = scalarString(raw["error_message"])
	}
	if nested, ok := raw["error"]; ok {
		var inner map[string]json.RawMessage
		if decodeObject(nested, &inner) == nil {
			if ce.message == "" {
				ce.message = scalarString(inner["message"])
			}
			if ce.message == "" {
				ce.message = scalarString(inner["title"])
			}
			if ce.code == "" {
				ce.code = scalarString(inner["error_code"])
			}
		} else if ce.message == "" {
			ce.message = scalarString(nested)
		}
	}
	return ce
}

// scalarString renders a JSON string or number as text; other values give "".
func scalarString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
