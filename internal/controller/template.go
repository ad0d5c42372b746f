package controller

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"text/template"

	"github.com/Masterminds/sprig/v3"

	v1alpha1 "github.com/cloudmirror-io/modelarts-operator/api/v1alpha1"
)

// templateFuncs are sprig's functions, as External Secrets Operator offers
// them, with size guards on repeat, until and untilStep, minus seq and those that read the operator's environment or the network
// (env, expandenv, getHostByName) and those whose output changes on every
// call (random values, fresh keys and certificates, salts, the clock): a
// template using one would rewrite the Secret, and roll its workloads, on
// every sync.
var templateFuncs = func() template.FuncMap {
	fm := sprig.TxtFuncMap()
	for _, name := range []string{
		"env", "expandenv", "getHostByName",
		"now", "ago",
		"randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randBytes", "randInt", "uuidv4", "shuffle",
		"genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey",
		"bcrypt", "htpasswd", "encryptAES",
	} {
		delete(fm, name)
	}
	// Size guards: a Secret holds at most 1 MiB, so no template needs more,
	// and one object's template must not exhaust the operator's memory.
	repeat, until, untilStep := fm["repeat"].(func(int, string) string), fm["until"].(func(int) []int), fm["untilStep"].(func(int, int, int) []int)
	fm["repeat"] = func(count int, str string) (string, error) {
		if count > 0 && len(str) > 0 && count > maxRenderedBytes/len(str) {
			return "", errTemplateTooLarge
		}
		return repeat(count, str), nil
	}
	fm["until"] = func(count int) ([]int, error) {
		if count > maxRangeLength || count < -maxRangeLength {
			return nil, errTemplateTooLarge
		}
		return until(count), nil
	}
	fm["untilStep"] = func(start, stop, step int) ([]int, error) {
		if step != 0 && (stop-start)/step > maxRangeLength {
			return nil, errTemplateTooLarge
		}
		return untilStep(start, stop, step), nil
	}
	delete(fm, "seq") // a range as text; until covers it
	return fm
}()

const (
	// maxRenderedBytes bounds one rendered value: a whole Secret holds at most 1 MiB.
	maxRenderedBytes = 1 << 20
	// maxRangeLength bounds the lists until and untilStep make.
	maxRangeLength = 10000
)

var errTemplateTooLarge = errors.New("the template would render more than a Secret can hold")

// cappedBuffer refuses writes past maxRenderedBytes, so a template's loops
// cannot grow the operator's memory without bound.
type cappedBuffer struct{ bytes.Buffer }

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxRenderedBytes {
		return 0, errTemplateTooLarge
	}
	return b.Buffer.Write(p)
}

var goIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Reserved top-level names of the template context; a Secret key of the same
// name is still reachable through .data.
const (
	templateKeyData = "data"
	templateKeyApps = "apps"
)

// templateError says which template.data key failed and how, in a fixed text
// that never carries a rendered value.
type templateError struct {
	key, what string
}

func (e *templateError) Error() string {
	return fmt.Sprintf("spec.target.template.data[%q]: %s", e.key, e.what)
}

// parseTemplates parses every template.data entry; a failure names the key.
// The parser's message is kept: it is made from the template text only
// (spec, not Secret data).
func parseTemplates(target *v1alpha1.SecretTarget) (map[string]*template.Template, error) {
	if target == nil || target.Template == nil || len(target.Template.Data) == 0 {
		return nil, nil
	}
	keys := sortedKeys(target.Template.Data)
	parsed := make(map[string]*template.Template, len(keys))
	for _, k := range keys {
		t, err := template.New(k).Funcs(templateFuncs).Option("missingkey=error").Parse(target.Template.Data[k])
		if err != nil {
			return nil, &templateError{key: k, what: "the template does not parse: " + err.Error()}
		}
		parsed[k] = t
	}
	return parsed, nil
}

// renderSecretData returns the Secret's data: values as they are without a
// template, or each template rendered over them. extra adds top-level
// fields (ServiceAppAuth's apps). Execution errors are reduced to the key:
// text/template quotes values in them (a failing index, a fail call).
func renderSecretData(target *v1alpha1.SecretTarget, values map[string][]byte, extra map[string]any) (map[string][]byte, error) {
	parsed, err := parseTemplates(target)
	if err != nil || parsed == nil {
		return values, err
	}
	ctx := templateContext(values, extra)
	out := make(map[string][]byte, len(parsed))
	for _, k := range sortedKeys(parsed) {
		var buf cappedBuffer
		if err := parsed[k].Execute(&buf, ctx); err != nil {
			return nil, &templateError{key: k, what: "the template failed to render over the fetched values (a missing field, or a function refused its input)"}
		}
		out[k] = buf.Bytes()
	}
	return out, nil
}

// templateContext is what templates see: .data (every default key), each
// default key that is a Go identifier as a top-level field, and extra.
func templateContext(values map[string][]byte, extra map[string]any) map[string]any {
	data := make(map[string]string, len(values))
	ctx := make(map[string]any, len(values)+len(extra)+1)
	for k, v := range values {
		data[k] = string(v)
		if goIdentifier.MatchString(k) {
			ctx[k] = string(v)
		}
	}
	maps.Copy(ctx, extra)
	ctx[templateKeyData] = data
	return ctx
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
