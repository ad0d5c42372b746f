package cloudsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Fault changes how one API answers. Fields combine: Latency delays, then
// Hang, Malformed, WrongTypes or Status decide the answer (in that order);
// with none of them the request is served normally after Latency.
// Faults are applied after the request is counted and before authentication.
type Fault struct {
	// Status > 0 answers with that status and a ModelArts-style body
	// {"error_code": Code, "error_msg": Message} (ROMA adds error_details and
	// request_id; IAM answers Keystone's {"error": {"code", "title",
	// "message"}} instead). Empty Code/Message get a default for the status
	// (429 → ModelArts.2799, 503 → ModelArts.6101, 401 → APIGW.0301, …).
	Status  int    `json:"status,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// OldMessageField spells the message "error_message", as old ModelArts
	// APIs (DevEnviron) do.
	OldMessageField bool `json:"old_message_field,omitempty"`
	// RetryAfter sets Retry-After in whole seconds, rounded up.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// Latency delays the answer; alone it makes a slow success.
	Latency time.Duration `json:"latency,omitempty"`
	// Malformed answers 200 (201 for IAM) with invalid JSON.
	Malformed bool `json:"malformed,omitempty"`
	// WrongTypes answers 200 (201 for IAM) with valid JSON whose fields
	// have the wrong types.
	WrongTypes bool `json:"wrong_types,omitempty"`
	// Hang never answers until the client cancels or Server.Close is called.
	Hang bool `json:"hang,omitempty"`
	// Times is how many requests the fault applies to; 0 = until cleared.
	Times int `json:"times,omitempty"`
}

// faultJSON is Fault on the admin wire: durations as Go duration strings
// ("1.5s") or numbers of seconds.
type faultJSON struct {
	Status     int             `json:"status,omitempty"`
	Code       string          `json:"code,omitempty"`
	Message    string          `json:"message,omitempty"`
	OldMessage bool            `json:"old_message_field,omitempty"`
	RetryAfter json.RawMessage `json:"retry_after,omitempty"`
	Latency    json.RawMessage `json:"latency,omitempty"`
	Malformed  bool            `json:"malformed,omitempty"`
	WrongTypes bool            `json:"wrong_types,omitempty"`
	Hang       bool            `json:"hang,omitempty"`
	Times      int             `json:"times,omitempty"`
}

// MarshalJSON writes durations as strings such as "1.5s".
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Status: f.Status, Code: f.Code, Message: f.Message, OldMessage: f.OldMessageField, Malformed: f.Malformed,
		WrongTypes: f.WrongTypes, Hang: f.Hang, Times: f.Times}
	if f.RetryAfter != 0 {
		j.RetryAfter, _ = json.Marshal(f.RetryAfter.String())
	}
	if f.Latency != 0 {
		j.Latency, _ = json.Marshal(f.Latency.String())
	}
	return json.Marshal(j)
}

// UnmarshalJSON accepts durations as strings ("250ms") or numbers of seconds.
func (f *Fault) UnmarshalJSON(data []byte) error {
	var j faultJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	ra, err := parseDuration(j.RetryAfter)
	if err != nil {
		return fmt.Errorf("retry_after: %w", err)
	}
	lat, err := parseDuration(j.Latency)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	*f = Fault{Status: j.Status, Code: j.Code, Message: j.Message, OldMessageField: j.OldMessage, RetryAfter: ra, Latency: lat,
		Malformed: j.Malformed, WrongTypes: j.WrongTypes, Hang: j.Hang, Times: j.Times}
	return nil
}

// parseDuration reads a JSON duration: "1.5s" or a number of seconds.
func parseDuration(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return time.ParseDuration(s)
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil {
		return 0, fmt.Errorf("want a duration string or seconds")
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// InjectFault replaces api's faults with f.
func (s *Server) InjectFault(api API, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fc := f
	s.faults[api] = []*Fault{&fc}
}

// AppendFault queues f after api's current faults: once the earlier ones
// are used up (Times), f applies. Use it for sequences such as "two 429s,
// then a malformed body".
func (s *Server) AppendFault(api API, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fc := f
	s.faults[api] = append(s.faults[api], &fc)
}

// ClearFaults removes every fault of every API.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[API][]*Fault{}
}

// ClearFault removes api's faults.
func (s *Server) ClearFault(api API) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.faults, api)
}

// Faults snapshots the pending faults (Times = remaining uses).
func (s *Server) Faults() map[API][]Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[API][]Fault{}
	for a, list := range s.faults {
		for _, f := range list {
			out[a] = append(out[a], *f)
		}
	}
	return out
}

// takeFault consumes one use of api's current fault.
func (s *Server) takeFault(api API) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.faults[api]
	if len(list) == 0 {
		return Fault{}, false
	}
	f := *list[0]
	if list[0].Times > 0 {
		list[0].Times--
		if list[0].Times == 0 {
			list = list[1:]
		}
	}
	if len(list) == 0 {
		delete(s.faults, api)
	} else {
		s.faults[api] = list
	}
	return f, true
}

var defaultFaultCodes = map[int]string{
	http.StatusBadRequest:          "ModelArts.0101",
	http.StatusUnauthorized:        "APIGW.0301",
	http.StatusForbidden:           "ModelArts.0203",
	http.StatusNotFound:            "ModelArts.0002",
	http.StatusTooManyRequests:     "ModelArts.2799",
	http.StatusInternalServerError: "ModelArts.0010",
	http.StatusBadGateway:          "APIGW.0202",
	http.StatusServiceUnavailable:  "ModelArts.6101",
	http.StatusGatewayTimeout:      "APIGW.0203",
}

// applyFault answers the request per the current fault; false means serve normally.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, rt route, reqID string) bool {
	f, ok := s.takeFault(rt.api)
	if !ok {
		return false
	}
	if !s.sleep(r, f.Latency) {
		return true
	}
	if f.RetryAfter > 0 {
		secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	okStatus := http.StatusOK
	if rt.api == APIIAMToken {
		okStatus = http.StatusCreated
	}
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closed:
			writeJSON(w, http.StatusServiceUnavailable, modelArtsError("ModelArts.6101", "The simulator is shutting down."))
		}
		return true
	case f.Malformed:
		if rt.api == APIIAMToken {
			w.Header().Set("X-Subject-Token", "MIIsim-malformed")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(okStatus)
		_, _ = w.Write([]byte(`{"id": "truncated, "name": [`))
		return true
	case f.WrongTypes:
		if rt.api == APIIAMToken {
			w.Header().Set("X-Subject-Token", "MIIsim-wrong-types")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(okStatus)
		_, _ = w.Write([]byte(wrongTypeBodies[rt.api]))
		return true
	case f.Status > 0:
		code, msg := f.Code, f.Message
		if code == "" {
			code = defaultFaultCodes[f.Status]
			if code == "" {
				code = "ModelArts.0001"
			}
		}
		if msg == "" {
			msg = http.StatusText(f.Status)
			if msg == "" {
				msg = "Injected fault"
			}
		}
		if rt.api == APIIAMToken {
			writeJSON(w, f.Status, keystoneError(f.Status, http.StatusText(f.Status), msg))
			return true
		}
		field := "error_msg"
		if f.OldMessageField {
			field = "error_message"
		}
		body := map[string]string{"error_code": code, field: msg}
		if rt.api == APIRomaApp {
			body["error_details"] = msg
			body["request_id"] = reqID
		}
		writeJSON(w, f.Status, body)
		return true
	}
	return false
}

// wrongTypeBodies are valid JSON with the documented fields mistyped.
var wrongTypeBodies = map[API]string{
	APIIAMToken:        `{"token":{"expires_at":12345,"issued_at":true,"methods":"password","project":"p","user":[]}}`,
	APIWorkspace:       `{"id":123,"name":123,"status":{},"status_info":[],"owner":false,"create_time":"yesterday","update_time":{},"auth_type":1,"enterprise_project_id":2,"grants":"none"}`,
	APIAuthorizations:  `{"total_count":"many","auth":{"user_name":1},"content":{"user_name":1}}`,
	APIServiceAPIAuths: `{"enable_app_auth":"yes","app_auth_api":[{"api_id":1}]}`,
	APIRomaApp:         `{"id":1,"name":2,"remark":[],"roles":"admin","create_time":12345,"update_time":false,"created_user":"x","owner":"yes","key":7,"favorite":"no"}`,
	APIDevEnvToken:     `{"token":12345}`,
}
