package cloudsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Identities of DefaultFixture. Tests and samples are written against them.
const (
	DefaultProjectID       = "2f3b9bd1c1a44a1b9c3c8f2d5e6a7b80"
	DefaultAccessKey       = "SIMAKEXAMPLE0000001"
	DefaultSecretKey       = "sim-secret-key-example-0000000000000001"
	DefaultDomainName      = "sim-domain"
	DefaultUserName        = "sim-user"
	DefaultPassword        = "sim-password"
	DefaultWorkspaceID     = "d05d1a553b4e188ea878e7dcb85e0001"
	DefaultServiceID       = "a4b1c2d3-0000-4000-8000-000000000001"
	DefaultServiceAPIID    = "b8c2d1e0-0000-4000-8000-000000000002"
	DefaultServiceAppID    = "54d9104db9e7418f9138980da63a857f"
	DefaultRomaInstanceID  = "c2d3e4f5-0000-4000-8000-000000000003"
	DefaultRomaAppID       = "b2e6b145-4f3f-4a80-aa45-f4b8029f95a3"
	DefaultDevEnvInstance  = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
	DefaultDevEnvToken     = "7211546f57cd432790643bb6612da19d"
	DefaultCredentialAK    = "AKIAEXAMPLECREDENTIAL"
	DefaultCredentialSK    = "example-credential-secret-key"
	DefaultRomaAppKey      = "TEI95examplef8UM"
	DefaultRomaUserID      = "7a9b0c1d2e3f4a5b6c7d8e9f00000001"
	DefaultEnterpriseProj  = "0b0091a8-887f-4839-9929-cbc884f1e001"
	DefaultGrantUserID     = "55d2cd53b4a458ea878e7dcb85e00001"
	DefaultAgencyUserID    = "4d8d80fb058844ae8b82aa66d9fe0001"
	DefaultCredentialUser  = "4d8d80fb058844ae8b82aa66d9fe0002"
	DefaultWorkspaceStatus = "NORMAL"
)

// Fixture is the simulated cloud's state. Its JSON reads like the cloud's
// responses: every resource uses the cloud's wire field names.
type Fixture struct {
	Users      []User              `json:"users"`
	AccessKeys []AccessKey         `json:"access_keys"`
	Projects   map[string]*Project `json:"projects"`
	// IdentityProviders accept ServiceAccount tokens (workload identity).
	IdentityProviders []IdentityProvider `json:"identity_providers,omitempty"`
	// Agency is the node agency behind the metadata service; nil: none.
	Agency *Agency `json:"agency,omitempty"`
}

// User is an IAM user that may request password tokens for Projects.
type User struct {
	DomainName string   `json:"domain_name"`
	UserName   string   `json:"user_name"`
	Password   string   `json:"password"`
	Projects   []string `json:"projects"`
}

// AccessKey is an AK/SK pair (temporary when SecurityToken is set) allowed
// on Projects.
type AccessKey struct {
	AccessKey     string   `json:"access_key"`
	SecretKey     string   `json:"secret_key"`
	SecurityToken string   `json:"security_token,omitempty"`
	Projects      []string `json:"projects"`
}

// Project holds one project's resources.
type Project struct {
	Workspaces      []Workspace                `json:"workspaces"`
	Authorizations  []Authorization            `json:"authorizations"`
	Services        map[string]ServiceAPIAuths `json:"services"`
	RomaInstances   map[string]RomaInstance    `json:"roma_instances"`
	DevEnvInstances map[string]DevEnvInstance  `json:"devenv_instances"`
}

// Workspace is the body of GET /v1/{project_id}/workspaces/{workspace_id}.
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

// Grant is one workspace grant.
type Grant struct {
	UserID   string `json:"user_id"`
	UserName string `json:"user_name"`
}

// Authorization is one entry of GET /v2/{project_id}/authorizations.
type Authorization struct {
	UserID     string `json:"user_id"`
	UserName   string `json:"user_name"`
	UserType   string `json:"user_type,omitempty"`
	Type       string `json:"type"`
	Content    string `json:"content"`
	SecretKey  string `json:"secret_key,omitempty"`
	CreateTime int64  `json:"create_time"`
}

// ServiceAPIAuths is the body of GET /v1/{project_id}/services/{service_id}/api-auths.
type ServiceAPIAuths struct {
	EnableAppAuth bool       `json:"enable_app_auth"`
	AppAuthAPI    AppAuthAPI `json:"app_auth_api"`
}

// AppAuthAPI is ServiceAPIAuths.app_auth_api.
type AppAuthAPI struct {
	APIID      string      `json:"api_id"`
	AuthedApps []AuthedApp `json:"authed_apps"`
}

// AuthedApp is one app authorized on a service's API.
type AuthedApp struct {
	AppCodes        []string `json:"app_codes"`
	AppID           string   `json:"app_id"`
	AppKey          string   `json:"app_key"`
	AppName         string   `json:"app_name"`
	AppRemark       string   `json:"app_remark"`
	AppSecret       string   `json:"app_secret"`
	AppType         string   `json:"app_type"`
	BoundedAPICount int      `json:"bounded_api_count"`
	CreatedAt       int64    `json:"created_at"`
	UpdatedAt       int64    `json:"updated_at"`
	ProjectID       string   `json:"project_id"`
	UserID          string   `json:"user_id"`
}

// RomaInstance is a ROMA Connect instance with its apps.
type RomaInstance struct {
	Apps []RomaApp `json:"apps"`
}

// RomaApp is the body of GET /v2/{project_id}/instances/{instance_id}/apps/{app_id}.
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

// RomaUser is created_user / last_updated_user of a ROMA app.
type RomaUser struct {
	UserID   string `json:"user_id"`
	UserName string `json:"user_name"`
}

// DevEnvInstance is an old-API development environment instance.
type DevEnvInstance struct {
	Token string `json:"token"`
}

// DefaultFixture is the embedded default cloud: the documented examples with
// unmasked ids, one project, one AK/SK and one IAM user.
func DefaultFixture() *Fixture {
	p := DefaultProjectID
	return &Fixture{
		Users:      []User{{DomainName: DefaultDomainName, UserName: DefaultUserName, Password: DefaultPassword, Projects: []string{p}}},
		AccessKeys: []AccessKey{{AccessKey: DefaultAccessKey, SecretKey: DefaultSecretKey, Projects: []string{p}}},
		Agency:     &Agency{Projects: []string{p}},
		Projects: map[string]*Project{p: {
			Workspaces: []Workspace{
				{
					ID: DefaultWorkspaceID, Name: "test-workspace", Status: "NORMAL", Owner: "testUser",
					CreateTime: 1470000020000, UpdateTime: 1470000030000,
					EnterpriseProjectID: DefaultEnterpriseProj, EnterpriseProjectName: "test-eps",
					AuthType: "INTERNAL", Grants: []Grant{{UserID: DefaultGrantUserID, UserName: "test-iam-user"}},
				},
				{
					ID: "0", Name: "default", Status: "NORMAL", Owner: "testUser", AuthType: "PUBLIC",
					CreateTime: 1470000000000, UpdateTime: 1470000000000,
					EnterpriseProjectID: "0", EnterpriseProjectName: "default", Grants: []Grant{},
				},
			},
			Authorizations: []Authorization{
				{UserID: DefaultAgencyUserID, UserName: "iam-user01", Type: "agency", Content: "modelarts_agency", CreateTime: 15657747821288},
				{UserID: DefaultCredentialUser, UserName: "iam-user02", Type: "credential", Content: DefaultCredentialAK, SecretKey: DefaultCredentialSK, CreateTime: 1565774790000},
			},
			Services: map[string]ServiceAPIAuths{DefaultServiceID: {
				EnableAppAuth: true,
				AppAuthAPI: AppAuthAPI{APIID: DefaultServiceAPIID, AuthedApps: []AuthedApp{{
					AppCodes:  []string{"1f5f6cb703864cc580d1ba2cdfd77a271a74eee8e5a242e8b5adc009f77a8b2a"},
					AppID:     DefaultServiceAppID,
					AppKey:    "151f1f4dfb20445b97326bde3db0c515",
					AppName:   "app_for_9332aab245ea4d56871e75d6966aa274",
					AppRemark: "app for user op_svc_modelarts_container0",
					AppSecret: "0080fa74e6214d0c8d1b2cb01d9d7708",
					AppType:   "APIG",
					CreatedAt: 1574946998167, UpdatedAt: 1574946998167,
					ProjectID: p,
					UserID:    "9332aab245ea4d56871e75d6966aa274",
				}}},
			}},
			RomaInstances: map[string]RomaInstance{DefaultRomaInstanceID: {Apps: []RomaApp{{
				ID: DefaultRomaAppID, Name: "AppName", Remark: "example",
				Roles:      []string{"read", "access", "delete", "modify", "admin"},
				CreateTime: "2019-12-06T06:49:04.000Z", UpdateTime: "2019-12-06T06:49:04.000Z",
				CreatedUser:     RomaUser{UserID: DefaultRomaUserID, UserName: DefaultUserName},
				LastUpdatedUser: RomaUser{UserID: DefaultRomaUserID, UserName: DefaultUserName},
				Owner:           true, Key: DefaultRomaAppKey, Favorite: true,
			}}}},
			DevEnvInstances: map[string]DevEnvInstance{DefaultDevEnvInstance: {Token: DefaultDevEnvToken}},
		}},
	}
}

// LoadFixture reads a JSON fixture file.
func LoadFixture(path string) (*Fixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseFixture(data)
}

// ParseFixture decodes a JSON fixture, rejecting unknown fields.
func ParseFixture(data []byte) (*Fixture, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f Fixture
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	f.normalize()
	return &f, nil
}

// Marshal encodes the fixture as indented JSON.
func (f *Fixture) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Save writes the fixture as indented JSON to path.
func (f *Fixture) Save(path string) error {
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// Clone deep-copies the fixture.
func (f *Fixture) Clone() *Fixture {
	if f == nil {
		return &Fixture{Projects: map[string]*Project{}}
	}
	data, err := json.Marshal(f)
	if err != nil {
		panic(fmt.Sprintf("cloudsim: fixture not encodable: %v", err))
	}
	var c Fixture
	if err := json.Unmarshal(data, &c); err != nil {
		panic(fmt.Sprintf("cloudsim: fixture not decodable: %v", err))
	}
	c.normalize()
	return &c
}

// normalize fills nil maps so handlers and mutators can write into them.
func (f *Fixture) normalize() {
	if f.Projects == nil {
		f.Projects = map[string]*Project{}
	}
	for id, p := range f.Projects {
		if p == nil {
			p = &Project{}
			f.Projects[id] = p
		}
		p.normalize()
	}
}

func (p *Project) normalize() {
	if p.Services == nil {
		p.Services = map[string]ServiceAPIAuths{}
	}
	if p.RomaInstances == nil {
		p.RomaInstances = map[string]RomaInstance{}
	}
	if p.DevEnvInstances == nil {
		p.DevEnvInstances = map[string]DevEnvInstance{}
	}
}

// project returns the project, creating it when create is set.
func (f *Fixture) project(id string, create bool) *Project {
	p := f.Projects[id]
	if p == nil && create {
		p = &Project{}
		p.normalize()
		f.Projects[id] = p
	}
	return p
}
