package cloudsim

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// AdminHandler serves the admin API described in the package documentation.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, map[string]string{"status": "ok"}) }
	fail := func(w http.ResponseWriter, status int, msg string) {
		writeJSON(w, status, map[string]string{"error": msg})
	}
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		data, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err == nil {
			err = json.Unmarshal(data, v)
		}
		if err != nil {
			fail(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
			return false
		}
		return true
	}
	api := func(w http.ResponseWriter, r *http.Request) (API, bool) {
		a := API(r.PathValue("api"))
		if !validAPI(a) {
			fail(w, http.StatusNotFound, "unknown API "+string(a))
			return "", false
		}
		return a, true
	}

	mux.HandleFunc("GET /admin/healthz", func(w http.ResponseWriter, r *http.Request) { ok(w) })

	mux.HandleFunc("GET /admin/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"apis": s.Counters(), "issued_tokens": s.IssuedTokens()})
	})
	mux.HandleFunc("POST /admin/reset-counters", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCounters()
		ok(w)
	})

	mux.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("DELETE /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		ok(w)
	})
	mux.HandleFunc("PUT /admin/faults/{api}", func(w http.ResponseWriter, r *http.Request) {
		a, good := api(w, r)
		var f Fault
		if good && decode(w, r, &f) {
			s.InjectFault(a, f)
			ok(w)
		}
	})
	mux.HandleFunc("POST /admin/faults/{api}", func(w http.ResponseWriter, r *http.Request) {
		a, good := api(w, r)
		var f Fault
		if good && decode(w, r, &f) {
			s.AppendFault(a, f)
			ok(w)
		}
	})
	mux.HandleFunc("DELETE /admin/faults/{api}", func(w http.ResponseWriter, r *http.Request) {
		if a, good := api(w, r); good {
			s.ClearFault(a)
			ok(w)
		}
	})

	mux.HandleFunc("GET /admin/latency", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"latency": s.Latency().String()})
	})
	mux.HandleFunc("POST /admin/latency", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Latency json.RawMessage `json:"latency"`
		}
		if !decode(w, r, &body) {
			return
		}
		d, err := parseDuration(body.Latency)
		if err != nil {
			fail(w, http.StatusBadRequest, "latency: "+err.Error())
			return
		}
		s.SetLatency(d)
		ok(w)
	})

	mux.HandleFunc("PUT /admin/workspaces/{project}/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Status string `json:"status"`
		}
		if !decode(w, r, &body) {
			return
		}
		if err := s.SetWorkspaceStatus(r.PathValue("project"), r.PathValue("id"), body.Status); err != nil {
			fail(w, http.StatusNotFound, err.Error())
			return
		}
		ok(w)
	})

	mux.HandleFunc("POST /admin/devenv/{project}/{id}/rotate", func(w http.ResponseWriter, r *http.Request) {
		tok, err := s.RotateDevEnvToken(r.PathValue("project"), r.PathValue("id"))
		if err != nil {
			fail(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	})

	mux.HandleFunc("POST /admin/services/{project}/{service}/apps", func(w http.ResponseWriter, r *http.Request) {
		var app AuthedApp
		if !decode(w, r, &app) {
			return
		}
		if err := s.AddServiceApp(r.PathValue("project"), r.PathValue("service"), app); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		ok(w)
	})
	mux.HandleFunc("DELETE /admin/services/{project}/{service}/apps/{app}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.RemoveServiceApp(r.PathValue("project"), r.PathValue("service"), r.PathValue("app")); err != nil {
			fail(w, http.StatusNotFound, err.Error())
			return
		}
		ok(w)
	})

	mux.HandleFunc("GET /admin/authorizations/settings", func(w http.ResponseWriter, r *http.Request) {
		rec, field := s.AuthorizationSettings()
		writeJSON(w, http.StatusOK, map[string]any{"record_offsets": rec, "list_field": field})
	})
	mux.HandleFunc("PUT /admin/authorizations/settings", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			RecordOffsets *bool   `json:"record_offsets"`
			ListField     *string `json:"list_field"`
		}
		if !decode(w, r, &body) {
			return
		}
		if body.ListField != nil && *body.ListField != "auth" && *body.ListField != "content" {
			fail(w, http.StatusBadRequest, `list_field must be "auth" or "content"`)
			return
		}
		if body.RecordOffsets != nil {
			s.SetAuthorizationPaging(*body.RecordOffsets)
		}
		if body.ListField != nil {
			s.SetAuthorizationListField(*body.ListField)
		}
		ok(w)
	})
	mux.HandleFunc("POST /admin/authorizations/{project}/generate", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Count int `json:"count"`
		}
		if !decode(w, r, &body) {
			return
		}
		if body.Count < 0 {
			fail(w, http.StatusBadRequest, "count must be >= 0")
			return
		}
		s.GenerateAuthorizations(r.PathValue("project"), body.Count)
		ok(w)
	})

	mux.HandleFunc("POST /admin/revoke-tokens", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeTokens()
		ok(w)
	})
	mux.HandleFunc("PUT /admin/token-ttl", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			TTL json.RawMessage `json:"ttl"`
		}
		if !decode(w, r, &body) {
			return
		}
		d, err := parseDuration(body.TTL)
		if err != nil {
			fail(w, http.StatusBadRequest, "ttl: "+err.Error())
			return
		}
		s.SetTokenTTL(d)
		ok(w)
	})
	mux.HandleFunc("PUT /admin/clock", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Offset json.RawMessage `json:"offset"`
		}
		if !decode(w, r, &body) {
			return
		}
		d, err := parseDuration(body.Offset)
		if err != nil {
			fail(w, http.StatusBadRequest, "offset: "+err.Error())
			return
		}
		if d == 0 {
			s.SetClock(nil)
		} else {
			s.SetClock(func() time.Time { return time.Now().Add(d) })
		}
		ok(w)
	})

	mux.HandleFunc("GET /admin/fixture", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Fixture())
	})
	mux.HandleFunc("PUT /admin/fixture", func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		f, err := ParseFixture(data)
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		s.SetFixture(f)
		ok(w)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "unknown admin endpoint "+r.Method+" "+r.URL.Path)
	})
	return mux
}
