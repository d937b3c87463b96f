package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type datasource struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	URL       string `json:"url"`
	Access    string `json:"access"`
	UID       string `json:"uid"`
	IsDefault bool   `json:"isDefault"`
	org       string
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
func provision(dir string, logf func(string, ...any)) (*provisioned, error) {
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
				err = p.addDatasources(d.path, d.doc)
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

func (p *provisioned) addDatasources(path string, doc map[string]any) error {
	list, err := listOfMaps(doc["datasources"], "datasources")
	if err != nil {
		return fmt.Errorf("provisioning: %s: %v", path, err)
	}
	for i, m := range list {
		ds := datasource{Name: str(m["name"]), Type: str(m["type"]), URL: str(m["url"]),
			Access: str(m["access"]), UID: str(m["uid"]), IsDefault: truthy(m["isDefault"]), org: str(m["orgId"])}
		if ds.org == "" {
			ds.org = "1"
		}
		if ds.Name == "" || ds.Type == "" {
			return fmt.Errorf("provisioning: %s: datasource %d needs a name and a type", path, i+1)
		}
		p.Datasources = append(p.Datasources, ds)
	}
	return nil
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

func truthy(v any) bool {
	switch strings.ToLower(str(v)) {
	case "true", "yes", "on":
		return true
	}
	return false
}
