package templates

import (
	"fmt"
	"strings"
)

// WebConfig is an exporter-toolkit web configuration (--web.config.file):
// what Prometheus, Alertmanager, node_exporter and blackbox_exporter read on
// every request, so a new certificate or password needs no restart.
type WebConfig struct {
	// KeyPairFile holds the key and then the certificate chain, one file so
	// a renewal replaces both at once; relative to the web config's folder.
	KeyPairFile string            // "" = plain http
	Users       map[string]string // user -> bcrypt hash; none = no authentication
}

type webFile struct {
	TLSServerConfig *webTLS `yaml:"tls_server_config,omitempty"`
	BasicAuthUsers  yLabels `yaml:"basic_auth_users,omitempty"` // values single-quoted
}

type webTLS struct {
	CertFile   yStr `yaml:"cert_file"`
	KeyFile    yStr `yaml:"key_file"`
	MinVersion yStr `yaml:"min_version"`
}

// RenderWebConfig renders web.yml.
func RenderWebConfig(c WebConfig) ([]byte, error) {
	var doc webFile
	if c.KeyPairFile != "" {
		doc.TLSServerConfig = &webTLS{CertFile: yStr(c.KeyPairFile), KeyFile: yStr(c.KeyPairFile), MinVersion: "TLS12"}
	}
	for u, h := range c.Users {
		if !strings.HasPrefix(h, "$2") {
			return nil, fmt.Errorf("web config: the password of %q is not a bcrypt hash", u)
		}
	}
	doc.BasicAuthUsers = yLabels(c.Users)
	return yMarshal(yamlHeader, doc)
}

// ClusterTLSFile is Alertmanager's gossip TLS configuration (--cluster.tls-config).
const ClusterTLSFile = "cluster-tls.yml"

type clusterTLSFile struct {
	Server clusterServerTLS `yaml:"tls_server_config"`
	Client clusterClientTLS `yaml:"tls_client_config"`
}

type clusterServerTLS struct {
	CertFile     yStr `yaml:"cert_file"`
	KeyFile      yStr `yaml:"key_file"`
	ClientAuth   yStr `yaml:"client_auth_type"`
	ClientCAFile yStr `yaml:"client_ca_file"`
}

type clusterClientTLS struct {
	CertFile yStr `yaml:"cert_file"`
	KeyFile  yStr `yaml:"key_file"`
	CAFile   yStr `yaml:"ca_file"`
}

// RenderClusterTLSConfig renders the gossip's mutual TLS: each member
// presents the host's certificate and accepts only peers with one from
// the CA bundle. Paths are the component's key pair and CA bundle.
func RenderClusterTLSConfig(keyPair, caBundle string) ([]byte, error) {
	return yMarshal(yamlHeader, clusterTLSFile{
		Server: clusterServerTLS{CertFile: yStr(keyPair), KeyFile: yStr(keyPair), ClientAuth: "RequireAndVerifyClientCert", ClientCAFile: yStr(caBundle)},
		Client: clusterClientTLS{CertFile: yStr(keyPair), KeyFile: yStr(keyPair), CAFile: yStr(caBundle)},
	})
}
