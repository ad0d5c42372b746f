package cloudclient

import (
	"fmt"
	"net/url"
	"strings"
)

// Cloud names the public cloud whose default endpoints apply.
type Cloud string

const (
	// HuaweiCloud is Huawei Cloud (the default when Cloud is empty).
	HuaweiCloud Cloud = "HuaweiCloud"
	// OpenTelekomCloud is T-Systems' Open Telekom Cloud.
	OpenTelekomCloud Cloud = "OpenTelekomCloud"
)

// Endpoints are the base URLs of the services the client calls. An empty
// field means the service is not offered (or, in Config, "use the default").
type Endpoints struct {
	IAM       string
	ModelArts string
	ROMA      string
}

// DefaultEndpoints are the public endpoints of cloud in region. Services a
// cloud does not offer in the region are left empty. An unknown cloud or an
// empty region yields no endpoints at all. An empty cloud means HuaweiCloud.
func DefaultEndpoints(cloud Cloud, region string) Endpoints {
	if region == "" {
		return Endpoints{}
	}
	switch cloud {
	case HuaweiCloud, "":
		e := Endpoints{
			IAM:       "https://iam." + region + ".myhuaweicloud.com",
			ModelArts: "https://modelarts." + region + ".myhuaweicloud.com",
			ROMA:      "https://roma." + region + ".myhuaweicloud.com",
		}
		if region == "ap-southeast-1" {
			e.ModelArts = "https://modelarts.ap-southeast-1.myhuaweicloud.cn"
		}
		return e
	case OpenTelekomCloud:
		e := Endpoints{IAM: "https://iam." + region + ".otc.t-systems.com"}
		if region == "eu-de" {
			e.ModelArts = "https://modelarts.eu-de.otc.t-systems.com"
		}
		return e
	}
	return Endpoints{}
}

// service identifies which endpoint a call goes to.
type service int

const (
	serviceIAM service = iota
	serviceModelArts
	serviceROMA
)

// displayName is the service's name in NotOffered messages.
func (s service) displayName() string {
	switch s {
	case serviceIAM:
		return "IAM"
	case serviceModelArts:
		return "ModelArts"
	default:
		return "ROMA Connect"
	}
}

// field is the CR field that overrides the service's endpoint.
func (s service) field() string {
	switch s {
	case serviceIAM:
		return "endpoints.iam"
	case serviceModelArts:
		return "endpoints.modelarts"
	default:
		return "endpoints.roma"
	}
}

func (e Endpoints) get(s service) string {
	switch s {
	case serviceIAM:
		return e.IAM
	case serviceModelArts:
		return e.ModelArts
	default:
		return e.ROMA
	}
}

// normalizeEndpoint checks one endpoint URL and returns it without a trailing
// slash. Errors name the CR field and never echo the URL (it might carry
// user info).
func normalizeEndpoint(field, raw string, allowHTTP bool) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%s: not a valid URL", field)
	}
	if !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%s: must be an absolute URL such as https://host[:port][/path]", field)
	}
	if u.User != nil {
		return "", fmt.Errorf("%s: must not contain user info; credentials belong in the credentials Secret", field)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
		return "", fmt.Errorf("%s: must not contain a query or fragment", field)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !allowHTTP {
			return "", fmt.Errorf("%s: http:// endpoints need allowInsecureHTTP: true", field)
		}
	default:
		return "", fmt.Errorf("%s: scheme must be https (or http with allowInsecureHTTP: true)", field)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return strings.TrimRight(u.String(), "/"), nil
}
