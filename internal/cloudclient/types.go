package cloudclient

import "time"

// TokenInfo describes the IAM token a password-mode Client uses; zero for AK/SK.
type TokenInfo struct {
	ExpiresAt time.Time
}

// Workspace is GET /v1/{project_id}/workspaces/{workspace_id}. Times are epoch ms.
type Workspace struct {
	ID                    string  `json:"id"`
	Name                  string  `json:"name"`
	Description           string  `json:"description"`
	Owner                 string  `json:"owner"`
	CreateTime            int64   `json:"create_time"`
	UpdateTime            int64   `json:"update_time"`
	AuthType              string  `json:"auth_type"`
	EnterpriseProjectID   string  `json:"enterprise_project_id"`
	EnterpriseProjectName string  `json:"enterprise_project_name"`
	Status                string  `json:"status"`
	StatusInfo            string  `json:"status_info"`
	Grants                []Grant `json:"grants"`
}

// Grant is a user a workspace with auth_type INTERNAL is shared with.
type Grant struct {
	UserID   string `json:"user_id"`
	UserName string `json:"user_name"`
}

// Authorization is one entry of GET /v2/{project_id}/authorizations.
// SecretKey is a credential: never mirror it.
type Authorization struct {
	UserID     string `json:"user_id"`
	UserName   string `json:"user_name"`
	UserType   string `json:"user_type"`
	Type       string `json:"type"`
	Content    string `json:"content"`
	SecretKey  string `json:"secret_key"`
	CreateTime int64  `json:"create_time"`
}

// AuthorizationList is every page of GET /v2/{project_id}/authorizations.
// TotalCount is what the cloud reported as total_count.
type AuthorizationList struct {
	TotalCount int64           `json:"total_count"`
	Items      []Authorization `json:"auth"`
}

// ServiceAPIAuths is GET /v1/{project_id}/services/{service_id}/api-auths,
// with app_auth_api flattened.
type ServiceAPIAuths struct {
	EnableAppAuth bool        `json:"enable_app_auth"`
	APIID         string      `json:"api_id"`
	Apps          []AuthedApp `json:"authed_apps"`
}

// AuthedApp is an app authorized for a service's API. AppKey, AppSecret and
// AppCodes are credentials.
type AuthedApp struct {
	AppCodes        []string `json:"app_codes"`
	AppID           string   `json:"app_id"`
	AppKey          string   `json:"app_key"`
	AppName         string   `json:"app_name"`
	AppRemark       string   `json:"app_remark"`
	AppSecret       string   `json:"app_secret"`
	AppType         string   `json:"app_type"`
	BoundedAPICount int64    `json:"bounded_api_count"`
	CreatedAt       int64    `json:"created_at"`
	UpdatedAt       int64    `json:"updated_at"`
	ProjectID       string   `json:"project_id"`
	UserID          string   `json:"user_id"`
}

// RomaApp is GET /v2/{project_id}/instances/{instance_id}/apps/{app_id}.
// Times are the cloud's RFC 3339 strings. Key is a credential.
type RomaApp struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Remark          string   `json:"remark"`
	Roles           []string `json:"roles"`
	CreateTime      string   `json:"create_time"`
	UpdateTime      string   `json:"update_time"`
	CreatedUser     RomaUser `json:"created_user"`
	LastUpdatedUser RomaUser `json:"last_updated_user"`
	Owner           bool     `json:"owner"`
	Key             string   `json:"key"`
	Favorite        bool     `json:"favorite"`
}

// RomaUser is a ROMA app's creator or last editor.
type RomaUser struct {
	UserID   string `json:"user_id"`
	UserName string `json:"user_name"`
}
