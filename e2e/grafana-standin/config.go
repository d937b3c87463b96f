package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// iniValues is section -> key -> value; keys outside any section are in "".
type iniValues map[string]map[string]string

func (v iniValues) set(section, key, value string) {
	if v[section] == nil {
		v[section] = map[string]string{}
	}
	v[section][key] = value
}

// parseINI reads Grafana's ini dialect: [section], key = value, ; and # comments.
func parseINI(text, name string) (iniValues, error) {
	v := iniValues{}
	section := ""
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("%s:%d: malformed section header %q", name, i+1, line)
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) == "" {
			return nil, fmt.Errorf("%s:%d: expected \"key = value\", found %q", name, i+1, line)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' && value[len(value)-1] == '"' || value[0] == '`' && value[len(value)-1] == '`') {
			value = value[1 : len(value)-1]
		}
		v.set(section, strings.TrimSpace(key), value)
	}
	return v, nil
}

func (v iniValues) merge(from iniValues) {
	for section, keys := range from {
		for key, value := range keys {
			v.set(section, key, value)
		}
	}
}

// config is the merged configuration, in Grafana's order: defaults.ini,
// cfg:default.* arguments, the --config file (else conf/custom.ini), GF_*
// environment variables, cfg:* arguments; then $__env{}, $__file{} and ${}
// are expanded.
type config struct {
	homepath string
	values   iniValues
}

func loadConfig(homepath, configFile string, overrides []string, getenv func(string) string) (*config, error) {
	if homepath == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		homepath = wd
	}
	homepath, err := filepath.Abs(homepath)
	if err != nil {
		return nil, err
	}
	defaultsPath := filepath.Join(homepath, "conf", "defaults.ini")
	text, err := os.ReadFile(defaultsPath)
	if err != nil {
		return nil, fmt.Errorf("could not find config defaults (%v); make sure the homepath command line parameter is set or the working directory is the homepath", err)
	}
	values, err := parseINI(string(text), defaultsPath)
	if err != nil {
		return nil, err
	}
	argDefaults, argValues := iniValues{}, iniValues{}
	for _, o := range overrides {
		kv := strings.TrimPrefix(o, "cfg:")
		target := argValues
		if strings.HasPrefix(kv, "default.") {
			kv, target = strings.TrimPrefix(kv, "default."), argDefaults
		}
		name, value, ok := strings.Cut(kv, "=")
		dot := strings.LastIndex(name, ".")
		if !ok || dot <= 0 {
			return nil, fmt.Errorf("command line override %q: want cfg:[default.]section.key=value", o)
		}
		target.set(name[:dot], name[dot+1:], value)
	}
	values.merge(argDefaults)

	if configFile == "" {
		if custom := filepath.Join(homepath, "conf", "custom.ini"); fileExists(custom) {
			configFile = custom
		}
	}
	if configFile != "" {
		text, err := os.ReadFile(configFile)
		if err != nil {
			return nil, fmt.Errorf("failed to load custom config file: %v", err)
		}
		custom, err := parseINI(string(text), configFile)
		if err != nil {
			return nil, err
		}
		values.merge(custom)
	}

	for section, keys := range values {
		for key := range keys {
			name := "GF_" + envName(section) + "_" + envName(key)
			if section == "" {
				name = "GF_" + envName(key)
			}
			if v := getenv(name); v != "" {
				values.set(section, key, v)
			}
		}
	}
	values.merge(argValues)

	for section, keys := range values {
		for key, value := range keys {
			expanded, err := expand(value, getenv)
			if err != nil {
				return nil, fmt.Errorf("[%s] %s: %v", section, key, err)
			}
			keys[key] = expanded
		}
	}
	return &config{homepath: homepath, values: values}, nil
}

func envName(s string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(s))
}

var expansion = regexp.MustCompile(`\$__(env|file)\{([^}]*)\}|\$\{([^}]*)\}`)

func expand(value string, getenv func(string) string) (string, error) {
	var firstErr error
	out := expansion.ReplaceAllStringFunc(value, func(m string) string {
		g := expansion.FindStringSubmatch(m)
		switch {
		case g[1] == "env":
			return getenv(g[2])
		case g[1] == "file":
			b, err := os.ReadFile(g[2])
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("$__file{%s}: %v", g[2], err)
			}
			return strings.TrimRight(string(b), "\r\n")
		default:
			return getenv(g[3])
		}
	})
	return out, firstErr
}

func (c *config) get(section, key string) string { return c.values[section][key] }

// path is a [paths]-like value made absolute against the homepath, as Grafana does.
func (c *config) path(section, key string) string {
	p := c.get(section, key)
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.homepath, p)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
