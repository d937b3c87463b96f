package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// datasource is what the API shows of a provisioned datasource. As in
// Grafana, secureJsonData values are never kept: only which keys are set.
type datasource struct {
	Name             string          `json:"name"`
	Type             string          `json:"type"`
	URL              string          `json:"url"`
	Access           string          `json:"access"`
	UID              string          `json:"uid"`
	IsDefault        bool            `json:"isDefault"`
	BasicAuth        bool            `json:"basicAuth"`
	BasicAuthUser    string          `json:"basicAuthUser"`
	JSONData         map[string]any  `json:"jsonData"`
	SecureJSONFields map[string]bool `json:"secureJsonFields"`
	org              string
}

type dashboard struct {
	Title string `json:"title"`
	UID   string `json:"uid"`
	Type  string `json:"type"`
	File  string `json:"-"`
}

type provisioned struct {
	Datasources []datasource
	Dashboards  []dashboard
}

// provision reads the provisioning folder the way Grafana does at start: every
// YAML file must be readable and valid, and the dashboards the file providers
// point at must be readable JSON with a title. The first problem stops the start.
func provision(dir string, getenv func(string) string, logf func(string, ...any)) (*provisioned, error) {
	p := &provisioned{}
	if _, err := os.Stat(dir); err != nil {
		logf("provisioning folder %s not readable (%v); nothing provisioned", dir, err)
		return p, nil
	}
	for _, kind := range []string{"datasources", "dashboards", "plugins", "alerting", "notifiers"} {
		docs, err := readYAMLDir(filepath.Join(dir, kind))
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			switch kind {
			case "datasources":
				err = p.addDatasources(d.path, d.doc, getenv)
			case "dashboards":
				err = p.addDashboards(d.path, d.doc)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	defaults := map[string]string{} // org -> default datasource
	for _, ds := range p.Datasources {
		if !ds.IsDefault {
			continue
		}
		if other, dup := defaults[ds.org]; dup {
			return nil, fmt.Errorf("datasource provisioning: only one datasource per organization can be marked as default (%q and %q are)", other, ds.Name)
		}
		defaults[ds.org] = ds.Name
	}
	return p, nil
}

type yamlDoc struct {
	path string
	doc  map[string]any
}

func readYAMLDir(dir string) ([]yamlDoc, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("provisioning: cannot read folder %s: %v", dir, err)
	}
	var docs []yamlDoc
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("provisioning: cannot read %s: %v", path, err)
		}
		v, err := parseYAML(string(text))
		if err != nil {
			return nil, fmt.Errorf("provisioning: %s is not valid YAML: %v", path, err)
		}
		if v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("provisioning: %s: the top level must be a mapping", path)
		}
		docs = append(docs, yamlDoc{path, m})
	}
	return docs, nil
}

func (p *provisioned) addDatasources(path string, doc map[string]any, getenv func(string) string) error {
	list, err := listOfMaps(doc["datasources"], "datasources")
	if err != nil {
		return fmt.Errorf("provisioning: %s: %v", path, err)
	}
	for i, m := range list {
		if err := interpolateAll(m, getenv); err != nil {
			return fmt.Errorf("provisioning: %s: datasource %d: %v", path, i+1, err)
		}
		ds, err := readDatasource(m)
		if err != nil {
			return fmt.Errorf("provisioning: %s: datasource %d (%q): %v", path, i+1, str(m["name"]), err)
		}
		p.Datasources = append(p.Datasources, ds)
	}
	return nil
}

// readDatasource reads one datasource and checks that its basic auth and TLS
// settings hold together. Grafana accepts a mismatch at start and fails (or
// silently sends nothing) on the first query; the stand-in refuses to start.
// Error messages name keys, never the secure values.
func readDatasource(m map[string]any) (datasource, error) {
	ds := datasource{Name: str(m["name"]), Type: str(m["type"]), URL: str(m["url"]),
		Access: str(m["access"]), UID: str(m["uid"]), BasicAuthUser: str(m["basicAuthUser"]), org: str(m["orgId"]),
		JSONData: map[string]any{}, SecureJSONFields: map[string]bool{}}
	if ds.org == "" {
		ds.org = "1"
	}
	if ds.Name == "" || ds.Type == "" {
		return ds, fmt.Errorf("needs a name and a type")
	}
	var err error
	if ds.IsDefault, err = boolean(m, "isDefault"); err != nil {
		return ds, err
	}
	if ds.BasicAuth, err = boolean(m, "basicAuth"); err != nil {
		return ds, err
	}
	for _, k := range []string{"basicAuthPassword", "password"} {
		if _, ok := m[k]; ok {
			return ds, fmt.Errorf("%s at the top level is not read by Grafana (9 and later): it belongs in secureJsonData", k)
		}
	}
	if v, ok := m["jsonData"]; ok && v != nil {
		if ds.JSONData, ok = v.(map[string]any); !ok {
			return ds, fmt.Errorf("jsonData must be a mapping")
		}
	}
	secure := map[string]string{}
	if v, ok := m["secureJsonData"]; ok && v != nil {
		sm, ok := v.(map[string]any)
		if !ok {
			return ds, fmt.Errorf("secureJsonData must be a mapping of strings")
		}
		for k, v := range sm {
			switch v.(type) {
			case string, nil:
			default:
				return ds, fmt.Errorf("secureJsonData.%s must be a string", k)
			}
			secure[k] = str(v)
			ds.SecureJSONFields[k] = true
		}
	}

	password := secure["basicAuthPassword"]
	switch {
	case ds.BasicAuth && ds.BasicAuthUser == "":
		return ds, fmt.Errorf("basicAuth is true but basicAuthUser is empty")
	case ds.BasicAuth && password == "":
		return ds, fmt.Errorf("basicAuth is true but secureJsonData.basicAuthPassword is empty")
	case !ds.BasicAuth && (ds.BasicAuthUser != "" || password != ""):
		return ds, fmt.Errorf("basicAuthUser or secureJsonData.basicAuthPassword is set but basicAuth is not true, so Grafana would not send them")
	}

	withCA, err := jsonBool(ds.JSONData, "tlsAuthWithCACert")
	if err != nil {
		return ds, fmt.Errorf("jsonData: %v", err)
	}
	if _, ok := ds.JSONData["tlsAuthWithCACert"]; ok {
		ds.JSONData["tlsAuthWithCACert"] = withCA // shown as the JSON boolean Grafana keeps
	}
	caCert := secure["tlsCACert"]
	switch {
	case withCA && caCert == "":
		return ds, fmt.Errorf("jsonData.tlsAuthWithCACert is true but secureJsonData.tlsCACert is empty")
	case !withCA && caCert != "":
		return ds, fmt.Errorf("secureJsonData.tlsCACert is set but jsonData.tlsAuthWithCACert is not true, so Grafana would not use it")
	case withCA:
		if err := checkCACert(caCert); err != nil {
			return ds, fmt.Errorf("secureJsonData.tlsCACert: %v", err)
		}
	}
	return ds, nil
}

// checkCACert wants one or more PEM CERTIFICATE blocks that parse, and nothing else.
func checkCACert(text string) error {
	rest := []byte(text)
	n := 0
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = r
		n++
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM block %d is a %q, not a CERTIFICATE", n, block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("PEM block %d is not a parseable certificate: %v", n, err)
		}
	}
	switch {
	case n == 0:
		return fmt.Errorf("no PEM certificate found")
	case strings.TrimSpace(string(rest)) != "":
		return fmt.Errorf("text after PEM block %d is not PEM", n)
	}
	return nil
}

// boolean reads an optional top-level boolean (isDefault, basicAuth) as
// Grafana's provisioning BoolValue does, with strconv.ParseBool: anything else
// fails the start.
func boolean(m map[string]any, key string) (bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return false, nil
	}
	b, err := strconv.ParseBool(str(v))
	if err != nil {
		return false, fmt.Errorf("%s: %q is not a boolean", key, str(v))
	}
	return b, nil
}

// jsonBool reads a jsonData boolean: only a YAML boolean is one; Grafana reads
// any other value (a string "true" included) as false, so the stand-in refuses it.
func jsonBool(m map[string]any, key string) (bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return false, nil
	}
	switch str(v) {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, fmt.Errorf("%s: %q is not a boolean", key, str(v))
}

// interpolateAll expands every string in a datasource as Grafana's provisioning
// does: $$ is a literal $, then $__env{}, $__file{}, ${VAR} and $VAR.
func interpolateAll(v any, getenv func(string) string) error {
	var walk func(v any) (any, error)
	walk = func(v any) (any, error) {
		switch v := v.(type) {
		case string:
			parts := strings.Split(v, "$$")
			for i, part := range parts {
				e, err := expand(part, getenv)
				if err != nil {
					return nil, err
				}
				parts[i] = os.Expand(e, getenv)
			}
			return strings.Join(parts, "$"), nil
		case map[string]any:
			for k, x := range v {
				y, err := walk(x)
				if err != nil {
					return nil, fmt.Errorf("%s: %v", k, err)
				}
				v[k] = y
			}
		case []any:
			for i, x := range v {
				y, err := walk(x)
				if err != nil {
					return nil, err
				}
				v[i] = y
			}
		}
		return v, nil
	}
	_, err := walk(v)
	return err
}

func (p *provisioned) addDashboards(path string, doc map[string]any) error {
	list, err := listOfMaps(doc["providers"], "providers")
	if err != nil {
		return fmt.Errorf("provisioning: %s: %v", path, err)
	}
	for i, m := range list {
		name := str(m["name"])
		if t := str(m["type"]); t != "" && t != "file" {
			return fmt.Errorf("provisioning: %s: provider %q: the stand-in knows only type file, not %q", path, name, t)
		}
		opts, _ := m["options"].(map[string]any)
		dir := str(opts["path"])
		if dir == "" {
			return fmt.Errorf("provisioning: %s: dashboard provider %d (%q) has no options.path", path, i+1, name)
		}
		if err := p.readDashboards(dir); err != nil {
			return fmt.Errorf("provisioning: dashboard provider %q (%s): %v", name, path, err)
		}
	}
	return nil
}

func (p *provisioned) readDashboards(dir string) error {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot read dashboards: %v", err)
	}
	sort.Strings(files)
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("cannot read dashboard: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(text, &m); err != nil {
			return fmt.Errorf("dashboard %s is not valid JSON: %v", f, err)
		}
		title := str(m["title"])
		if title == "" {
			return fmt.Errorf("dashboard %s: dashboard title cannot be empty", f)
		}
		p.Dashboards = append(p.Dashboards, dashboard{Title: title, UID: str(m["uid"]), Type: "dash-db", File: f})
	}
	return nil
}

func listOfMaps(v any, what string) ([]map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a list", what)
	}
	out := make([]map[string]any, len(items))
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s item %d must be a mapping", what, i+1)
		}
		out[i] = m
	}
	return out, nil
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
