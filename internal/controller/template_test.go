package controller

import (
	"strings"
	"testing"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
)

func target(data map[string]string) *v1alpha1.SecretTarget {
	return &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{Data: data}}
}

// TestRenderSecretData covers each path of the template context and the
// sprig functions the docs use.
func TestRenderSecretData(t *testing.T) {
	values := map[string][]byte{"token": []byte("s3cr3t"), "app_key": []byte("k"), "a1.app_key": []byte("k1")}
	apps := map[string]any{templateKeyApps: []map[string]any{
		{"id": "a1", "name": "one", "app_key": "k1", "app_secret": "s1", "app_codes": []string{"c1", "c2"}},
	}}
	cases := []struct {
		reason, template, want string
	}{
		{"top-level field", `{{ .token }}`, "s3cr3t"},
		{".data with index", `{{ index .data "token" }}`, "s3cr3t"},
		{"a key that is no identifier, through .data", `{{ index .data "a1.app_key" }}`, "k1"},
		{"sprig upper", `{{ .token | upper }}`, "S3CR3T"},
		{"sprig b64enc", `{{ .token | b64enc }}`, "czNjcjN0"},
		{"sprig b64dec", `{{ "czNjcjN0" | b64dec }}`, "s3cr3t"},
		{"sprig toJson and dict", `{{ dict "auth" .token | toJson }}`, `{"auth":"s3cr3t"}`},
		{"sprig printf and trim", `{{ printf "  TOKEN=%s  " .token | trim }}`, "TOKEN=s3cr3t"},
		{"sprig default", `{{ index .data "missing" | default "none" }}`, "none"},
		{"sprig sha256sum", `{{ "x" | sha256sum }}`, "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"},
		{".apps range", `{{ range .apps }}{{ .id }}={{ .name }}:{{ .app_key }}/{{ .app_secret }}/{{ join ";" .app_codes }}{{ end }}`, "a1=one:k1/s1/c1;c2"},
		{"a .env file", "TOKEN={{ .token }}\nKEY={{ .app_key }}\n", "TOKEN=s3cr3t\nKEY=k\n"},
		{"docs/usage.md's dockerconfigjson, an action over several lines", `{{ dict "auths" (dict "swr.cn-north-4.myhuaweicloud.com"
     (dict "auth" (printf "token:%s" .token | b64enc))) | toJson }}
`, `{"auths":{"swr.cn-north-4.myhuaweicloud.com":{"auth":"dG9rZW46czNjcjN0"}}}` + "\n"},
	}
	for _, c := range cases {
		got, err := renderSecretData(target(map[string]string{"out": c.template}), values, apps)
		if err != nil {
			t.Errorf("%s: %v", c.reason, err)
			continue
		}
		if string(got["out"]) != c.want {
			t.Errorf("%s: got %q, want %q", c.reason, got["out"], c.want)
		}
		if len(got) != 1 {
			t.Errorf("%s: the template defines the whole data, got keys %v", c.reason, sortedKeys(got))
		}
	}
}

func TestRenderSecretDataWithoutTemplate(t *testing.T) {
	values := map[string][]byte{"token": []byte("v")}
	for _, tg := range []*v1alpha1.SecretTarget{nil, {}, {Template: &v1alpha1.SecretTemplate{Type: "Opaque"}}} {
		got, err := renderSecretData(tg, values, nil)
		if err != nil || string(got["token"]) != "v" || len(got) != 1 {
			t.Errorf("without template.data the default data is kept: got %v, %v", got, err)
		}
	}
}

// TestTemplateErrors: a failure names the key and never carries a value.
func TestTemplateErrors(t *testing.T) {
	values := map[string][]byte{"token": []byte("s3cr3t-value")}
	cases := []struct {
		reason, template, wantText string
	}{
		{"does not parse", `{{ .token `, "does not parse"},
		{"unknown function", `{{ .token | upperr }}`, `function "upperr" not defined`},
		{"removed function: env", `{{ env "HOME" }}`, `function "env" not defined`},
		{"removed function: randAlpha", `{{ randAlpha 4 }}`, `function "randAlpha" not defined`},
		{"missing field", `{{ .tokne }}`, "failed to render"},
		{"fail quoting a value", `{{ fail .token }}`, "failed to render"},
		{"b64dec of a value", `{{ .token | b64dec | mustFromJson }}`, "failed to render"},
	}
	for _, c := range cases {
		_, err := renderSecretData(target(map[string]string{"ok": "x", "bad.key": c.template}), values, nil)
		if err == nil {
			t.Errorf("%s: want an error", c.reason)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, `["bad.key"]`) || !strings.Contains(msg, c.wantText) {
			t.Errorf("%s: %q should name the key and say %q", c.reason, msg, c.wantText)
		}
		if strings.Contains(msg, "s3cr3t") {
			t.Errorf("%s: the error leaks the value: %q", c.reason, msg)
		}
	}
}

// Templates cannot make the operator allocate without bound: repeat, until
// and untilStep refuse sizes past a Secret's 1 MiB, and so does the output.
func TestTemplateSizeGuards(t *testing.T) {
	values := map[string][]byte{"token": []byte("tok")}
	for _, tmpl := range []string{
		`{{ repeat 2000000000 "x" }}`,
		`{{ range until 2000000000 }}x{{ end }}`,
		`{{ range untilStep 0 2000000000 1 }}x{{ end }}`,
		`{{ range until 10000 }}{{ range until 10000 }}{{ $.token }}{{ end }}{{ end }}`,
	} {
		target := &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{Data: map[string]string{"big": tmpl}}}
		_, err := renderSecretData(target, values, nil)
		if err == nil || !strings.Contains(err.Error(), `"big"`) {
			t.Errorf("%s: err = %v, want a refusal naming the key", tmpl, err)
		}
	}
	target := &v1alpha1.SecretTarget{Template: &v1alpha1.SecretTemplate{Data: map[string]string{
		"ok": `{{ repeat 3 .token }}{{ range until 2 }}-{{ end }}`,
	}}}
	out, err := renderSecretData(target, values, nil)
	if err != nil || string(out["ok"]) != "toktoktok--" {
		t.Errorf("small repeat/until: %q, %v", out["ok"], err)
	}
}
