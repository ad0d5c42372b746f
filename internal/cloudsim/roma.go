package cloudsim

// ROMA Connect: app details.

import (
	"net/http"
)

func (s *Server) serveRomaApp(w http.ResponseWriter, rt route, reqID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	romaErr := func(msg string) {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"error_code": "ROMA.00000001", "error_msg": msg,
			"error_details": msg, "request_id": reqID,
		})
	}
	p := s.fixture.project(rt.project, false)
	if p == nil {
		romaErr("The instance does not exist.")
		return
	}
	inst, ok := p.RomaInstances[rt.instance]
	if !ok {
		romaErr("The instance does not exist.")
		return
	}
	for _, app := range inst.Apps {
		if app.ID == rt.app {
			if app.Roles == nil {
				app.Roles = []string{}
			}
			writeJSON(w, http.StatusOK, app)
			return
		}
	}
	romaErr("The app does not exist.")
}
