package cloudclient

import (
	"context"
	"errors"
	"net/url"
	"strconv"
)

// pathOf joins escaped segments into an absolute path.
func pathOf(segments ...string) string {
	p := ""
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// requireID rejects an empty path parameter before any network call.
func requireID(api API, name, value string) error {
	if value == "" {
		return &Error{API: api, Reason: ReasonCloudError, Message: name + " is required"}
	}
	return nil
}

// GetWorkspace is GET /v1/{project_id}/workspaces/{workspace_id}.
func (c *Client) GetWorkspace(ctx context.Context, workspaceID string) (*Workspace, error) {
	if err := requireID(APIWorkspace, "workspace ID", workspaceID); err != nil {
		return nil, err
	}
	var out *Workspace
	err := c.call(ctx, APIWorkspace, serviceModelArts, pathOf("v1", c.projectID, "workspaces", workspaceID), nil,
		func(body []byte) (err error) {
			out, err = decodeWorkspace(body)
			return err
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetServiceAPIAuths is GET /v1/{project_id}/services/{service_id}/api-auths;
// workspace_id is sent only when non-empty.
func (c *Client) GetServiceAPIAuths(ctx context.Context, serviceID, workspaceID string) (*ServiceAPIAuths, error) {
	if err := requireID(APIServiceAPIAuths, "service ID", serviceID); err != nil {
		return nil, err
	}
	var q url.Values
	if workspaceID != "" {
		q = url.Values{"workspace_id": {workspaceID}}
	}
	var out *ServiceAPIAuths
	err := c.call(ctx, APIServiceAPIAuths, serviceModelArts, pathOf("v1", c.projectID, "services", serviceID, "api-auths"), q,
		func(body []byte) (err error) {
			out, err = decodeServiceAPIAuths(body)
			return err
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetRomaApp is ROMA Connect's GET /v2/{project_id}/instances/{instance_id}/apps/{app_id}.
func (c *Client) GetRomaApp(ctx context.Context, instanceID, appID string) (*RomaApp, error) {
	if err := requireID(APIRomaApp, "instance ID", instanceID); err != nil {
		return nil, err
	}
	if err := requireID(APIRomaApp, "app ID", appID); err != nil {
		return nil, err
	}
	var out *RomaApp
	err := c.call(ctx, APIRomaApp, serviceROMA, pathOf("v2", c.projectID, "instances", instanceID, "apps", appID), nil,
		func(body []byte) (err error) {
			out, err = decodeRomaApp(body)
			return err
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetDevEnvToken is GET /v1/{project_id}/demanager/instances/{instance_id}/token.
// A missing instance (HTTP 400, ModelArts.6309) is NotFound.
func (c *Client) GetDevEnvToken(ctx context.Context, instanceID string) (string, error) {
	if err := requireID(APIDevEnvToken, "instance ID", instanceID); err != nil {
		return "", err
	}
	var out string
	err := c.call(ctx, APIDevEnvToken, serviceModelArts, pathOf("v1", c.projectID, "demanager", "instances", instanceID, "token"), nil,
		func(body []byte) (err error) {
			out, err = decodeDevEnvToken(body)
			return err
		})
	if err != nil {
		return "", err
	}
	return out, nil
}

const (
	// authPageLimit is the documented maximum page size.
	authPageLimit = 1000
	// maxAuthPages bounds the paging loop against a server that never ends.
	maxAuthPages = 200
)

var errPagingStuck = errors.New("paging made no progress")

// ListAuthorizations is GET /v2/{project_id}/authorizations, every page.
// sort_by and order are sent only when non-empty.
//
// offset is documented as a page index (0, 1, 2 …). Some servers treat it as
// a record offset instead; such a server answers offset=1 with the first
// page shifted by one entry. That is detected on the second request, after
// which offsets count records read so far. Reading stops once total_count
// entries are collected or a page comes back empty (or, without a
// total_count, short). Exact duplicate entries are dropped.
func (c *Client) ListAuthorizations(ctx context.Context, sortBy, order string) (*AuthorizationList, error) {
	var (
		items      []Authorization
		seen       = map[Authorization]bool{}
		first      []Authorization // the first page, for overlap detection
		recordMode bool
		records    int64 // entries the server has returned in record mode
		total      int64
		totalKnown bool
		pageIndex  int64
	)
	for request := 0; ; request++ {
		if request >= maxAuthPages {
			return nil, &Error{API: APIAuthorizations, Reason: ReasonInvalidResponse,
				Message: "paging did not end after " + strconv.Itoa(maxAuthPages) + " pages"}
		}
		offset := pageIndex
		if recordMode {
			offset = records
		}
		q := url.Values{"limit": {strconv.Itoa(authPageLimit)}, "offset": {strconv.FormatInt(offset, 10)}}
		if sortBy != "" {
			q.Set("sort_by", sortBy)
		}
		if order != "" {
			q.Set("order", order)
		}
		var page authorizationPage
		err := c.call(ctx, APIAuthorizations, serviceModelArts, pathOf("v2", c.projectID, "authorizations"), q,
			func(body []byte) (err error) {
				page, err = decodeAuthorizationPage(body)
				return err
			})
		if err != nil {
			return nil, err
		}
		if page.totalPresent {
			total, totalKnown = page.total, true
		}
		if request == 0 {
			first = page.items
		} else if request == 1 && !recordMode && overlapsShifted(first, page.items) {
			// A record-offset server: this page re-reads the first one from
			// its second entry. Continue after what the first page held.
			recordMode = true
			records = int64(len(first))
			continue
		}
		if len(page.items) == 0 {
			break
		}
		added := 0
		for _, a := range page.items {
			if !seen[a] {
				seen[a] = true
				items = append(items, a)
				added++
			}
		}
		if added == 0 {
			return nil, &Error{API: APIAuthorizations, Reason: ReasonInvalidResponse,
				Message: "paging returned only entries already read", Err: errPagingStuck}
		}
		records += int64(len(page.items))
		pageIndex++
		if totalKnown {
			if int64(len(items)) >= total {
				break
			}
		} else if len(page.items) < authPageLimit {
			break
		}
	}
	if items == nil {
		items = []Authorization{}
	}
	return &AuthorizationList{TotalCount: total, Items: items}, nil
}

// overlapsShifted reports whether next starts with first's entries from the
// second one on, as a record-offset server answers offset=1.
func overlapsShifted(first, next []Authorization) bool {
	if len(first) < 2 || len(next) == 0 {
		return false
	}
	n := min(len(first)-1, len(next))
	for i := 0; i < n; i++ {
		if next[i] != first[i+1] {
			return false
		}
	}
	return true
}
