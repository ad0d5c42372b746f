package cloudsim

// ModelArts APIs: workspaces, authorizations, service API auths, DevEnviron tokens.

import (
	"net/http"
	"sort"
	"strconv"
)

func modelArtsError(code, msg string) map[string]string {
	return map[string]string{"error_code": code, "error_msg": msg}
}

func (s *Server) serveWorkspace(w http.ResponseWriter, rt route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.fixture.project(rt.project, false); p != nil {
		for _, ws := range p.Workspaces {
			if ws.ID == rt.workspace {
				if ws.Grants == nil {
					ws.Grants = []Grant{}
				}
				writeJSON(w, http.StatusOK, ws)
				return
			}
		}
	}
	writeJSON(w, http.StatusNotFound, modelArtsError("ModelArts.4302", "The workspace does not exist."))
}

func (s *Server) serveAuthorizations(w http.ResponseWriter, r *http.Request, rt route) {
	q := r.URL.Query()
	sortBy := q.Get("sort_by")
	if sortBy == "" {
		sortBy = "user_name"
	}
	order := q.Get("order")
	if order == "" {
		order = "asc"
	}
	bad := func(msg string) { writeJSON(w, http.StatusBadRequest, modelArtsError("ModelArts.0101", msg)) }
	if sortBy != "user_name" && sortBy != "create_time" {
		bad("Invalid parameter sort_by: must be user_name or create_time.")
		return
	}
	if order != "asc" && order != "desc" {
		bad("Invalid parameter order: must be asc or desc.")
		return
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			bad("Invalid parameter limit: must be an integer from 1 to 1000.")
			return
		}
		limit = n
	}
	offset := 0
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			bad("Invalid parameter offset: must be a non-negative integer.")
			return
		}
		offset = n
	}
	s.mu.Lock()
	var all []Authorization
	if p := s.fixture.project(rt.project, false); p != nil {
		all = append(all, p.Authorizations...)
	}
	recordOffsets, field := s.recordOffsets, s.listField
	s.mu.Unlock()

	less := func(a, b Authorization) bool {
		if sortBy == "create_time" && a.CreateTime != b.CreateTime {
			return a.CreateTime < b.CreateTime
		}
		if a.UserName != b.UserName {
			return a.UserName < b.UserName
		}
		if a.CreateTime != b.CreateTime {
			return a.CreateTime < b.CreateTime
		}
		return a.Content < b.Content
	}
	sort.SliceStable(all, func(i, j int) bool {
		if order == "desc" {
			return less(all[j], all[i])
		}
		return less(all[i], all[j])
	})
	start := offset
	if !recordOffsets {
		start = offset * limit
		if offset != 0 && start/offset != limit { // overflow
			start = len(all)
		}
	}
	page := []Authorization{}
	if start < len(all) {
		end := min(start+limit, len(all))
		page = all[start:end]
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(all), field: page})
}

func (s *Server) serveServiceAPIAuths(w http.ResponseWriter, r *http.Request, rt route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.fixture.project(rt.project, false)
	if wsID := r.URL.Query().Get("workspace_id"); wsID != "" && wsID != "0" {
		found := false
		if p != nil {
			for _, ws := range p.Workspaces {
				found = found || ws.ID == wsID
			}
		}
		if !found {
			writeJSON(w, http.StatusNotFound, modelArtsError("ModelArts.4302", "The workspace does not exist."))
			return
		}
	}
	if p != nil {
		if svc, ok := p.Services[rt.service]; ok {
			if svc.AppAuthAPI.AuthedApps == nil {
				svc.AppAuthAPI.AuthedApps = []AuthedApp{}
			}
			for i := range svc.AppAuthAPI.AuthedApps {
				if svc.AppAuthAPI.AuthedApps[i].AppCodes == nil {
					svc.AppAuthAPI.AuthedApps[i].AppCodes = []string{}
				}
			}
			writeJSON(w, http.StatusOK, svc)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, modelArtsError("ModelArts.3502", "The service does not exist."))
}

func (s *Server) serveDevEnvToken(w http.ResponseWriter, rt route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.fixture.project(rt.project, false); p != nil {
		if inst, ok := p.DevEnvInstances[rt.instance]; ok {
			writeJSON(w, http.StatusOK, map[string]string{"token": inst.Token})
			return
		}
	}
	writeJSON(w, http.StatusBadRequest, modelArtsError("ModelArts.6309", "The instance does not exist."))
}
