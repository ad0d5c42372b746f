package controller

import (
	"reflect"
	"testing"

	"github.com/cloudmirror-io/modelarts-operator/internal/cloudclient"
)

// TestAppSecretData: per-app keys always, plain keys with exactly one app,
// and every key present even for an app without codes (an APIC app), so a
// Pod referencing app_code does not fail to start.
func TestAppSecretData(t *testing.T) {
	apig := cloudclient.AuthedApp{AppID: "a1", AppKey: "k1", AppSecret: "s1", AppCodes: []string{"c1", "c2"}}
	apic := cloudclient.AuthedApp{AppID: "a2", AppKey: "k2", AppSecret: "s2"}
	cases := []struct {
		reason string
		apps   []cloudclient.AuthedApp
		want   map[string]string
	}{
		{"no apps: an empty Secret", nil, map[string]string{}},
		{"one app with codes: per-app and plain keys", []cloudclient.AuthedApp{apig}, map[string]string{
			"a1.app_key": "k1", "a1.app_secret": "s1", "a1.app_code": "c1", "a1.app_codes": "c1\nc2",
			"app_key": "k1", "app_secret": "s1", "app_code": "c1", "app_codes": "c1\nc2",
		}},
		{"one app without codes: the code keys are empty, not missing", []cloudclient.AuthedApp{apic}, map[string]string{
			"a2.app_key": "k2", "a2.app_secret": "s2", "a2.app_code": "", "a2.app_codes": "",
			"app_key": "k2", "app_secret": "s2", "app_code": "", "app_codes": "",
		}},
		{"two apps: per-app keys only", []cloudclient.AuthedApp{apig, apic}, map[string]string{
			"a1.app_key": "k1", "a1.app_secret": "s1", "a1.app_code": "c1", "a1.app_codes": "c1\nc2",
			"a2.app_key": "k2", "a2.app_secret": "s2", "a2.app_code": "", "a2.app_codes": "",
		}},
	}
	for _, tc := range cases {
		got := map[string]string{}
		for k, v := range appSecretData(tc.apps) {
			got[k] = string(v)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.reason, got, tc.want)
		}
	}
}
