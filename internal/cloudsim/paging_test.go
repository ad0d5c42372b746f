package cloudsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

type authPage struct {
	TotalCount int             `json:"total_count"`
	Auth       []Authorization `json:"auth"`
	Content    []Authorization `json:"content"`
}

func (e *env) authPage(t *testing.T, query string) (int, authPage, []byte) {
	t.Helper()
	r := e.getSigned(t, authPath+query)
	var p authPage
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.raw, &p); err != nil {
			t.Fatalf("decode: %v: %s", err, r.raw)
		}
	}
	return r.status, p, r.raw
}

func TestAuthorizationPaging(t *testing.T) {
	cases := []struct {
		reason        string
		recordOffsets bool
		limit         int
		offsets       func(page int) int
	}{
		{"page-index mode (documented) reads 2500 entries in 3 pages", false, 1000, func(p int) int { return p }},
		{"record-offset mode reads 2500 entries with offsets 0,1000,2000", true, 1000, func(p int) int { return p * 1000 }},
		{"page-index mode with limit 7", false, 7, func(p int) int { return p }},
		{"record-offset mode with limit 7", true, 7, func(p int) int { return p * 7 }},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			e := newEnv(t)
			e.sim.GenerateAuthorizations(proj, 2500)
			e.sim.SetAuthorizationPaging(tc.recordOffsets)
			seen := map[string]bool{}
			var all []Authorization
			for page := 0; ; page++ {
				status, p, raw := e.authPage(t, fmt.Sprintf("?limit=%d&offset=%d", tc.limit, tc.offsets(page)))
				if status != 200 {
					t.Fatalf("page %d: %d %s", page, status, raw)
				}
				if p.TotalCount != 2500 {
					t.Fatalf("total_count %d", p.TotalCount)
				}
				if len(p.Auth) == 0 {
					break
				}
				if len(p.Auth) > tc.limit {
					t.Fatalf("page of %d > limit", len(p.Auth))
				}
				for _, a := range p.Auth {
					if seen[a.UserName] {
						t.Fatalf("duplicate %s on page %d", a.UserName, page)
					}
					seen[a.UserName] = true
				}
				all = append(all, p.Auth...)
				if page > 2600 {
					t.Fatal("runaway paging")
				}
			}
			if len(all) != 2500 {
				t.Fatalf("read %d entries", len(all))
			}
			for i := 1; i < len(all); i++ {
				if all[i-1].UserName >= all[i].UserName {
					t.Fatalf("not sorted by user_name at %d", i)
				}
			}
			credentials := 0
			for _, a := range all {
				if a.Type == "credential" {
					credentials++
					if a.SecretKey == "" {
						t.Fatalf("credential without secret_key: %+v", a)
					}
				} else if a.Type != "agency" || a.SecretKey != "" {
					t.Fatalf("bad agency entry %+v", a)
				}
			}
			if credentials == 0 || credentials == 2500 {
				t.Errorf("want a mix of agency and credential, got %d credentials", credentials)
			}
		})
	}
}

func TestAuthorizationPagingModesDiffer(t *testing.T) {
	// The client-side detection hint: in record-offset mode, offset=1 starts
	// with the first page's second entry; in page mode it is the next page.
	cases := []struct {
		reason        string
		recordOffsets bool
		wantFirst     string
	}{
		{"page mode: offset 1 is the second page", false, "gen-user-00010"},
		{"record mode: offset 1 skips one record", true, "gen-user-00001"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			e := newEnv(t)
			e.sim.GenerateAuthorizations(proj, 25)
			e.sim.SetAuthorizationPaging(tc.recordOffsets)
			_, p, raw := e.authPage(t, "?limit=10&offset=1")
			if len(p.Auth) == 0 || p.Auth[0].UserName != tc.wantFirst {
				t.Errorf("got %s", raw)
			}
		})
	}
}

func TestAuthorizationQuery(t *testing.T) {
	cases := []struct {
		reason     string
		query      string
		wantStatus int
		wantFirst  string
		wantCount  int
	}{
		{"defaults: user_name asc, everything", "", 200, "gen-user-00000", 12},
		{"desc order", "?order=desc", 200, "gen-user-00011", 12},
		{"sort by create_time desc", "?sort_by=create_time&order=desc", 200, "gen-user-00011", 12},
		{"limit 1000 is allowed", "?limit=1000", 200, "gen-user-00000", 12},
		{"offset past the end is an empty page", "?limit=5&offset=3", 200, "", 0},
		{"limit 0 is rejected", "?limit=0", 400, "", 0},
		{"limit 1001 is rejected", "?limit=1001", 400, "", 0},
		{"non-numeric limit is rejected", "?limit=ten", 400, "", 0},
		{"negative offset is rejected", "?offset=-1", 400, "", 0},
		{"unknown sort_by is rejected", "?sort_by=type", 400, "", 0},
		{"unknown order is rejected", "?order=up", 400, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			e := newEnv(t)
			e.sim.GenerateAuthorizations(proj, 12)
			status, p, raw := e.authPage(t, tc.query)
			if status != tc.wantStatus {
				t.Fatalf("status %d %s", status, raw)
			}
			if status != 200 {
				var body map[string]string
				_ = json.Unmarshal(raw, &body)
				if body["error_code"] != "ModelArts.0101" || body["error_msg"] == "" {
					t.Errorf("error body %s", raw)
				}
				return
			}
			if len(p.Auth) != tc.wantCount || (tc.wantCount > 0 && p.Auth[0].UserName != tc.wantFirst) {
				t.Errorf("got %s", raw)
			}
		})
	}

	t.Run("sort by create_time differs from user_name on the default fixture", func(t *testing.T) {
		e := newEnv(t)
		_, byName, _ := e.authPage(t, "?sort_by=user_name")
		_, byTime, _ := e.authPage(t, "?sort_by=create_time")
		if byName.Auth[0].UserName != "iam-user01" || byTime.Auth[0].UserName != "iam-user02" {
			t.Errorf("by name %v, by time %v", byName.Auth, byTime.Auth)
		}
	})
}

func TestAuthorizationListField(t *testing.T) {
	cases := []struct {
		reason      string
		field       string
		wantContent bool
	}{
		{"default is auth", "", false},
		{"switch to content", "content", true},
		{"anything else resets to auth", "bogus", false},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			e := newEnv(t)
			if tc.field != "" {
				// From content, so that a setter doing nothing cannot pass.
				e.sim.SetAuthorizationListField("content")
				e.sim.SetAuthorizationListField(tc.field)
			}
			r := e.getSigned(t, authPath)
			_, hasAuth := r.body["auth"]
			list, hasContent := r.body["content"].([]any)
			if hasContent != tc.wantContent || hasAuth == tc.wantContent {
				t.Fatalf("body %s", r.raw)
			}
			if tc.wantContent && len(list) != 2 {
				t.Errorf("content %v", list)
			}
		})
	}
}
