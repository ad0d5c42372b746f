package cloudclient

import (
	"errors"
	"fmt"
	"strings"
)

// AuthMethod is how a Client authenticates its requests.
type AuthMethod string

const (
	// AuthAKSK signs every request with an access key / secret key pair.
	AuthAKSK AuthMethod = "AKSK"
	// AuthPassword sends an IAM token obtained with user name and password.
	AuthPassword AuthMethod = "Password"
)

// Credentials are an account's secrets. Never log or print them.
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
	UserName      string
	Password      string
	DomainName    string
}

// Secret data keys (the Huawei Terraform provider's names).
const (
	KeyAccessKey     = "access_key"
	KeySecretKey     = "secret_key"
	KeySecurityToken = "security_token"
	KeyUserName      = "user_name"
	KeyPassword      = "password"
	KeyDomainName    = "domain_name"
)

// CredentialsFromSecret reads a credentials Secret's data. Values are trimmed
// of surrounding whitespace; an empty value counts as missing. access_key or
// secret_key selects AK/SK signing (both required, security_token optional);
// otherwise any of user_name, password, domain_name selects IAM password
// authentication (all three required). Errors name keys, never values.
func CredentialsFromSecret(data map[string][]byte) (Credentials, AuthMethod, error) {
	get := func(k string) string { return strings.TrimSpace(string(data[k])) }
	c := Credentials{
		AccessKey:     get(KeyAccessKey),
		SecretKey:     get(KeySecretKey),
		SecurityToken: get(KeySecurityToken),
		UserName:      get(KeyUserName),
		Password:      get(KeyPassword),
		DomainName:    get(KeyDomainName),
	}
	m, err := c.method()
	if err != nil {
		return Credentials{}, "", err
	}
	if m == AuthPassword {
		c.SecurityToken = ""
	}
	return c, m, nil
}

// method picks the authentication method and checks its keys are complete.
func (c Credentials) method() (AuthMethod, error) {
	if c.AccessKey != "" || c.SecretKey != "" {
		if missing := missingKeys(KeyAccessKey, c.AccessKey, KeySecretKey, c.SecretKey); missing != "" {
			return "", fmt.Errorf("credentials Secret is missing key(s) %s for AK/SK signing", missing)
		}
		return AuthAKSK, nil
	}
	if c.UserName != "" || c.Password != "" || c.DomainName != "" {
		if missing := missingKeys(KeyUserName, c.UserName, KeyPassword, c.Password, KeyDomainName, c.DomainName); missing != "" {
			return "", fmt.Errorf("credentials Secret is missing key(s) %s for IAM password authentication", missing)
		}
		return AuthPassword, nil
	}
	return "", errors.New("credentials Secret has none of the keys access_key and secret_key (AK/SK signing) " +
		"or user_name, password and domain_name (IAM password authentication)")
}

// method picks the configuration's authentication method and checks it.
func (cfg Config) method() (AuthMethod, error) {
	switch {
	case cfg.WorkloadIdentity != nil:
		w := cfg.WorkloadIdentity
		if missing := missingKeys("serviceAccountName", w.ServiceAccount, "serviceAccountNamespace", w.Namespace,
			"identityProviderID", w.IdentityProviderID, "audience", w.Audience); missing != "" {
			return "", fmt.Errorf("workloadIdentity: missing %s", missing)
		}
		return AuthWorkloadIdentity, nil
	case cfg.InstanceMetadata != nil:
		return AuthInstanceMetadata, nil
	}
	return cfg.Credentials.method()
}

// missingKeys takes name, value pairs and lists the names whose value is empty.
func missingKeys(pairs ...string) string {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			missing = append(missing, pairs[i])
		}
	}
	return strings.Join(missing, ", ")
}

// secrets lists the values that must never appear in an error text.
func (c Credentials) secrets() []string {
	return []string{c.AccessKey, c.SecretKey, c.SecurityToken, c.Password}
}
