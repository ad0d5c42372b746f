package cloudclient

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// authServer serves a list of n authorizations with a given offset meaning.
type authServer struct {
	mu      *sync.Mutex
	offsets []string
	n       int
	// recordOffsets: offset counts records instead of pages.
	recordOffsets bool
	// ignoreOffset: every request returns the first page.
	ignoreOffset bool
	// reportTotal is the total_count sent; -1 omits it.
	reportTotal int
	// pageSize overrides the limit the server honours (0: use limit).
	pageSize int
	listKey  string
}

func entry(i int) string {
	return fmt.Sprintf(`{"user_id":"u%04d","user_name":"user-%04d","type":"agency","content":"agency-%d","create_time":%d.0}`, i, i, i, 1700000000000+i)
}

func (s *authServer) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		verifyAKSK(t, r)
		q := r.URL.Query()
		if q.Get("limit") != "1000" {
			t.Errorf("limit %q", q.Get("limit"))
		}
		if s.mu == nil {
			t.Fatal("authServer without mutex")
		}
		s.mu.Lock()
		s.offsets = append(s.offsets, q.Get("offset"))
		s.mu.Unlock()
		off, err := strconv.Atoi(q.Get("offset"))
		if err != nil {
			t.Errorf("offset %q", q.Get("offset"))
		}
		size := 1000
		if s.pageSize > 0 {
			size = s.pageSize
		}
		start := off * size
		if s.recordOffsets {
			start = off
		}
		if s.ignoreOffset {
			start = 0
		}
		body := "{"
		if s.reportTotal >= 0 {
			body += fmt.Sprintf(`"total_count":%d,`, s.reportTotal)
		}
		key := s.listKey
		if key == "" {
			key = "auth"
		}
		body += `"` + key + `":[`
		for i := start; i < start+size && i < s.n; i++ {
			if i > start {
				body += ","
			}
			body += entry(i)
		}
		body += "]}"
		writeJSON(w, 200, body)
	}
}

func TestListAuthorizationsPaging(t *testing.T) {
	cases := []struct {
		reason      string
		srv         authServer
		wantItems   int
		wantTotal   int64
		wantOffsets string
		wantReason  Reason
	}{
		{reason: "page-index server, 2500 entries",
			srv:       authServer{n: 2500, reportTotal: 2500},
			wantItems: 2500, wantTotal: 2500, wantOffsets: "[0 1 2]"},
		{reason: "record-offset server, 2500 entries: detected on the second request",
			srv:       authServer{n: 2500, reportTotal: 2500, recordOffsets: true},
			wantItems: 2500, wantTotal: 2500, wantOffsets: "[0 1 1000 2000]"},
		{reason: "page-index server, exactly one full page",
			srv:       authServer{n: 1000, reportTotal: 1000},
			wantItems: 1000, wantTotal: 1000, wantOffsets: "[0]"},
		{reason: "page-index server, 2000 entries",
			srv:       authServer{n: 2000, reportTotal: 2000},
			wantItems: 2000, wantTotal: 2000, wantOffsets: "[0 1]"},
		{reason: "record-offset server, 2000 entries",
			srv:       authServer{n: 2000, reportTotal: 2000, recordOffsets: true},
			wantItems: 2000, wantTotal: 2000, wantOffsets: "[0 1 1000]"},
		{reason: "list under content instead of auth",
			srv:       authServer{n: 1500, reportTotal: 1500, listKey: "content"},
			wantItems: 1500, wantTotal: 1500, wantOffsets: "[0 1]"},
		{reason: "server capping pages at 100, page index",
			srv:       authServer{n: 250, reportTotal: 250, pageSize: 100},
			wantItems: 250, wantTotal: 250, wantOffsets: "[0 1 2]"},
		{reason: "server capping pages at 100, record offsets",
			srv:       authServer{n: 250, reportTotal: 250, pageSize: 100, recordOffsets: true},
			wantItems: 250, wantTotal: 250, wantOffsets: "[0 1 100 200]"},
		{reason: "total_count larger than the data: stops at the empty page",
			srv:       authServer{n: 1200, reportTotal: 5000},
			wantItems: 1200, wantTotal: 5000, wantOffsets: "[0 1 2]"},
		{reason: "no total_count: stops at a short page",
			srv:       authServer{n: 1200, reportTotal: -1},
			wantItems: 1200, wantTotal: 0, wantOffsets: "[0 1]"},
		{reason: "empty list",
			srv:       authServer{n: 0, reportTotal: 0},
			wantItems: 0, wantTotal: 0, wantOffsets: "[0]"},
		{reason: "server ignoring offset: refused instead of looping",
			srv:        authServer{n: 3000, reportTotal: 3000, ignoreOffset: true},
			wantReason: ReasonInvalidResponse, wantOffsets: "[0 1]"},
		{reason: "server ignoring offset with one-entry pages and a lying total: refused",
			srv:        authServer{n: 5, reportTotal: 1000000, ignoreOffset: true, pageSize: 1},
			wantReason: ReasonInvalidResponse, wantOffsets: "[0 1]"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			srv := tc.srv
			srv.mu = &sync.Mutex{}
			f := newFakeCloud(t, srv.handler(t))
			got, err := mustClient(t, NewPool(Options{}), akskConfig(f.url())).ListAuthorizations(bg, "user_name", "asc")
			if ReasonOf(err) != tc.wantReason {
				t.Fatalf("err %v, want %q", err, tc.wantReason)
			}
			if offsets := fmt.Sprint(srv.offsets); offsets != tc.wantOffsets {
				t.Errorf("offsets %s, want %s", offsets, tc.wantOffsets)
			}
			if err != nil {
				return
			}
			if got.TotalCount != tc.wantTotal || len(got.Items) != tc.wantItems {
				t.Fatalf("total %d items %d, want %d/%d", got.TotalCount, len(got.Items), tc.wantTotal, tc.wantItems)
			}
			for i, a := range got.Items {
				if a.UserID != fmt.Sprintf("u%04d", i) || a.CreateTime != int64(1700000000000+i) {
					t.Fatalf("item %d = %+v (duplicated or out of order)", i, a)
				}
			}
		})
	}
}

// TestListAuthorizationsBounded: a server that always has one more page is cut off.
func TestListAuthorizationsBounded(t *testing.T) {
	calls := 0
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		writeJSON(w, 200, `{"total_count":1e12,"auth":[`+entry(off*2)+`,`+entry(off*2+1)+`]}`)
	})
	_, err := mustClient(t, NewPool(Options{}), akskConfig(f.url())).ListAuthorizations(bg, "", "")
	if !IsInvalidResponse(err) {
		t.Errorf("err %v", err)
	}
	if calls > maxAuthPages {
		t.Errorf("%d calls", calls)
	}
}

// TestListAuthorizationsPageError: an error on a later page fails the list.
func TestListAuthorizationsPageError(t *testing.T) {
	srv := authServer{n: 2500, reportTotal: 2500, mu: &sync.Mutex{}}
	h := srv.handler(t)
	f := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") == "2" {
			writeJSON(w, 429, `{"error_code":"ModelArts.2799","error_msg":"busy"}`)
			return
		}
		h(w, r)
	})
	_, err := mustClient(t, NewPool(Options{}), akskConfig(f.url())).ListAuthorizations(bg, "", "")
	if !IsThrottled(err) {
		t.Errorf("err %v", err)
	}
}
