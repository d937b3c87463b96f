// Command grafana-standin is a TEST-ONLY STAND-IN for Grafana's `grafana` binary,
// used by obsbox's end-to-end tests because real Grafana cannot be had on the
// test machines. It is packed as bin/grafana in a Grafana-shaped release tarball
// (e2e/build-bundles.sh) and does only what those tests observe:
//
//	grafana --version                      prints "grafana version <V>"
//	grafana server --config PATH --homepath DIR [cfg:section.key=value ...]
//	grafana cli [--config PATH --homepath DIR] admin reset-admin-password PASSWORD
//
// The server reads the configuration the way Grafana does (defaults.ini, the
// --config file, GF_* variables, cfg: overrides, $__env{}/$__file{} expansion),
// refuses to start on unreadable or invalid provisioning files or dashboards,
// keeps a small database file in paths.data (where, as in Grafana, the admin
// password from the configuration is applied only when it is first created), and
// serves, over http or (with [server] protocol = https) https only,
// GET /api/health, /metrics (grafana_build_info; behind basic auth when
// [metrics] basic_auth_username and basic_auth_password are set) and, with basic
// auth as the admin, /api/user, /api/org, /api/datasources,
// /api/datasources/uid/{uid} and /api/search.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// version is set at build time: -ldflags "-X main.version=11.2.2".
var version = "0.0.0-standin"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: grafana [--version] server|cli ... (obsbox's test-only Grafana stand-in)")
		return 2
	}
	switch args[0] {
	case "-v", "--version", "-version", "version":
		fmt.Fprintf(stdout, "grafana version %s\n", version)
		return 0
	case "server":
		return serverCommand(args[1:], stdout, stderr, getenv)
	case "cli":
		return cliCommand(args[1:], stdin, stdout, stderr, getenv)
	}
	fmt.Fprintf(stderr, "grafana stand-in: unknown command %q (want server or cli)\n", args[0])
	return 2
}

type options struct {
	config, homepath, pidfile string
	overrides                 []string // cfg:... arguments
	rest                      []string
	version                   bool
}

// parseOptions accepts the flags Grafana's server and cli take, as -flag or
// --flag, with the value after = or as the next argument. An unknown flag is an
// error, as it is for Grafana.
func parseOptions(args []string) (options, error) {
	var o options
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "cfg:") {
			o.overrides = append(o.overrides, a)
			continue
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			o.rest = append(o.rest, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takeValue := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 == len(args) {
				return "", fmt.Errorf("flag needs an argument: %s", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch name {
		case "config":
			o.config, err = takeValue()
		case "homepath":
			o.homepath, err = takeValue()
		case "pidfile":
			o.pidfile, err = takeValue()
		case "packaging", "configOverrides":
			var v string
			v, err = takeValue()
			if name == "configOverrides" {
				o.overrides = append(o.overrides, strings.Fields(v)...)
			}
		case "v", "version":
			o.version = true
		case "password-from-stdin":
			o.rest = append(o.rest, a)
		default:
			return o, fmt.Errorf("flag provided but not defined: %s", a)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

type logger struct{ w io.Writer }

func (l logger) logf(format string, args ...any) {
	fmt.Fprintf(l.w, "logger=grafana-standin t=%s msg=%q\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

func serverCommand(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	log := logger{stderr}
	o, err := parseOptions(args)
	if err != nil {
		log.logf("%v", err)
		return 2
	}
	if o.version {
		fmt.Fprintf(stdout, "grafana version %s\n", version)
		return 0
	}
	if len(o.rest) > 0 {
		log.logf("unexpected arguments %q", o.rest)
		return 2
	}
	log.logf("starting obsbox's TEST-ONLY Grafana stand-in %s: this is not Grafana", version)
	s, err := newServer(o, getenv, log)
	if err != nil {
		log.logf("Grafana stand-in failed to start: %v", err)
		return 1
	}
	ln, err := s.listen()
	if err != nil {
		log.logf("Grafana stand-in failed to start: %v", err)
		return 1
	}
	if o.pidfile != "" {
		if err := os.WriteFile(o.pidfile, []byte(fmt.Sprintln(os.Getpid())), 0o644); err != nil {
			log.logf("Grafana stand-in failed to start: pidfile: %v", err)
			return 1
		}
	}
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	log.logf("HTTP Server Listen address=%s protocol=%s", ln.Addr(), s.protocol)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.logf("HTTP server: %v", err)
		return 1
	}
	log.logf("stopped")
	return 0
}

// cliCommand implements `grafana cli admin reset-admin-password`, the one way
// to change the admin password of an existing database.
func cliCommand(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	o, err := parseOptions(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if o.version {
		fmt.Fprintf(stdout, "grafana version %s\n", version)
		return 0
	}
	fromStdin := false
	var words []string
	for _, w := range o.rest {
		if strings.TrimLeft(w, "-") == "password-from-stdin" {
			fromStdin = true
			continue
		}
		words = append(words, w)
	}
	if len(words) < 2 || words[0] != "admin" || words[1] != "reset-admin-password" {
		fmt.Fprintln(stderr, "grafana stand-in: cli supports only: admin reset-admin-password [--password-from-stdin] PASSWORD")
		return 2
	}
	var password string
	switch {
	case fromStdin && len(words) == 2:
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		password = strings.TrimRight(string(b), "\r\n")
	case !fromStdin && len(words) == 3:
		password = words[2]
	default:
		fmt.Fprintln(stderr, "grafana stand-in: reset-admin-password needs exactly one password (argument or --password-from-stdin)")
		return 2
	}
	if password == "" {
		fmt.Fprintln(stderr, "grafana stand-in: new password is empty")
		return 1
	}
	cfg, err := loadConfig(o.homepath, o.config, o.overrides, getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	path, err := dbPath(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	db, err := openDB(path, cfg.get("security", "admin_user"), cfg.get("security", "admin_password"))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	db.AdminPasswordSHA256 = hashPassword(password)
	if err := db.save(path); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, "Admin password changed successfully ✔")
	return 0
}

type server struct {
	listenAddr string
	protocol   string      // http or https
	tls        *tls.Config // set for https
	db         *database
	prov       *provisioned
	metricsOn  bool
	// metricsUser and metricsPassword guard /metrics when both are set.
	metricsUser, metricsPassword string
}

// listen opens the server's port; with https, the port speaks only TLS, so a
// plain http request gets Go's 400 "client sent an HTTP request to an HTTPS server".
func (s *server) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.listenAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %v", s.listenAddr, err)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	return ln, nil
}

// serverTLS loads the key pair as Grafana does for protocol = https: both
// keys are required and the files must be readable; obsbox points both at one
// file holding the key and the certificate, which tls.LoadX509KeyPair accepts.
func serverTLS(cfg *config) (*tls.Config, error) {
	certFile, keyFile := cfg.get("server", "cert_file"), cfg.get("server", "cert_key")
	if certFile == "" {
		return nil, fmt.Errorf("cert_file cannot be empty when using HTTPS")
	}
	if keyFile == "" {
		return nil, fmt.Errorf("cert_key cannot be empty when using HTTPS")
	}
	if _, err := os.Stat(certFile); err != nil {
		return nil, fmt.Errorf("cannot find SSL cert_file at %q: %v", certFile, err)
	}
	if _, err := os.Stat(keyFile); err != nil {
		return nil, fmt.Errorf("cannot find SSL key_file at %q: %v", keyFile, err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("[server] cert_file %s / cert_key %s: %v", certFile, keyFile, err)
	}
	minVersion := uint16(tls.VersionTLS12) // Grafana's default min_tls_version
	switch v := cfg.get("server", "min_tls_version"); v {
	case "", "TLS1.2":
	case "TLS1.3":
		minVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("[server] min_tls_version %q: the stand-in accepts only TLS1.2 or TLS1.3", v)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: minVersion}, nil
}

func newServer(o options, getenv func(string) string, log logger) (*server, error) {
	cfg, err := loadConfig(o.homepath, o.config, o.overrides, getenv)
	if err != nil {
		return nil, err
	}
	if static := cfg.path("server", "static_root_path"); static != "" && !fileExists(static) {
		return nil, fmt.Errorf("static root path %s does not exist", static)
	}
	protocol := cfg.get("server", "protocol")
	var tlsConfig *tls.Config
	switch protocol {
	case "", "http":
		protocol = "http"
	case "https":
		if tlsConfig, err = serverTLS(cfg); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("[server] protocol %q: the stand-in serves only http or https", protocol)
	}
	port := cfg.get("server", "http_port")
	if port == "" {
		port = "3000"
	}
	path, err := dbPath(cfg)
	if err != nil {
		return nil, err
	}
	db, err := openDB(path, cfg.get("security", "admin_user"), cfg.get("security", "admin_password"))
	if err != nil {
		return nil, err
	}
	if db.AdminPasswordSHA256 != hashPassword(cfg.get("security", "admin_password")) {
		log.logf("admin user exists in %s: [security] admin_password is not applied (as in Grafana; use grafana cli admin reset-admin-password)", path)
	}
	// Grafana writes its database at every start: a data folder it may not
	// write to fails here, as sqlite fails for Grafana.
	db.Version = version
	if err := db.save(path); err != nil {
		return nil, err
	}
	prov, err := provision(cfg.path("paths", "provisioning"), getenv, log.logf)
	if err != nil {
		return nil, err
	}
	log.logf("provisioned %d datasource(s) and %d dashboard(s)", len(prov.Datasources), len(prov.Dashboards))
	return &server{
		listenAddr:      net.JoinHostPort(cfg.get("server", "http_addr"), port),
		protocol:        protocol,
		tls:             tlsConfig,
		db:              db,
		prov:            prov,
		metricsOn:       cfg.get("metrics", "enabled") != "false",
		metricsUser:     cfg.get("metrics", "basic_auth_username"),
		metricsPassword: cfg.get("metrics", "basic_auth_password"),
	}, nil
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"commit": "obsbox-standin", "database": "ok", "version": version})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if !s.metricsOn {
			http.NotFound(w, r)
			return
		}
		// As Grafana: basic auth only when both are set; a bare 401 otherwise.
		if s.metricsUser != "" && s.metricsPassword != "" {
			user, password, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.metricsUser)) != 1 ||
				subtle.ConstantTimeCompare([]byte(password), []byte(s.metricsPassword)) != 1 {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprintln(w, "# HELP grafana_build_info A metric with a constant '1' value labeled by version, revision, branch, and goversion from which Grafana was built")
		fmt.Fprintln(w, "# TYPE grafana_build_info gauge")
		fmt.Fprintf(w, "grafana_build_info{branch=\"standin\",edition=\"oss\",goversion=%q,revision=\"obsbox-standin\",version=%q} 1\n", runtime.Version(), version)
	})
	admin := func(h func(http.ResponseWriter, *http.Request)) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			user, password, ok := r.BasicAuth()
			if !ok || user != s.db.AdminUser ||
				subtle.ConstantTimeCompare([]byte(hashPassword(password)), []byte(s.db.AdminPasswordSHA256)) != 1 {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/user", admin(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"id": 1, "login": s.db.AdminUser, "isGrafanaAdmin": true, "orgId": 1})
	}))
	mux.HandleFunc("GET /api/org", admin(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"id": 1, "name": "Main Org."})
	}))
	mux.HandleFunc("GET /api/datasources", admin(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, append([]datasource{}, s.prov.Datasources...))
	}))
	mux.HandleFunc("GET /api/datasources/uid/{uid}", admin(func(w http.ResponseWriter, r *http.Request) {
		for _, ds := range s.prov.Datasources {
			if ds.UID != "" && ds.UID == r.PathValue("uid") {
				writeJSON(w, http.StatusOK, ds)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Data source not found"})
	}))
	mux.HandleFunc("GET /api/search", admin(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, append([]dashboard{}, s.prov.Dashboards...))
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "obsbox Grafana stand-in "+version+" (test only, not Grafana)")
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// database stands in for grafana.db.
type database struct {
	Standin             string `json:"standin"`
	Version             string `json:"version"`
	AdminUser           string `json:"admin_user"`
	AdminPasswordSHA256 string `json:"admin_password_sha256"`
}

func dbPath(cfg *config) (string, error) {
	if t := cfg.get("database", "type"); t != "" && t != "sqlite3" {
		return "", fmt.Errorf("[database] type %q: the stand-in supports only sqlite3", t)
	}
	data := cfg.path("paths", "data")
	if data == "" {
		return "", fmt.Errorf("[paths] data is empty")
	}
	name := cfg.get("database", "path")
	if name == "" {
		name = "grafana.db"
	}
	if filepath.IsAbs(name) {
		return name, nil
	}
	return filepath.Join(data, name), nil
}

// openDB reads the database, creating it with the configured admin on first use.
func openDB(path, adminUser, adminPassword string) (*database, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		var db database
		if err := json.Unmarshal(b, &db); err != nil || db.AdminUser == "" {
			return nil, fmt.Errorf("database %s is not a Grafana stand-in database", path)
		}
		return &db, nil
	}
	if !os.IsNotExist(err) {
		return nil, fmt.Errorf("database %s: %v", path, err)
	}
	if adminUser == "" {
		adminUser = "admin"
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("database folder: %v", err)
	}
	return &database{Standin: "obsbox Grafana stand-in (test only)", AdminUser: adminUser, AdminPasswordSHA256: hashPassword(adminPassword)}, nil
}

// save rewrites the file in place, keeping its owner and mode.
func (db *database) save(path string) error {
	b, _ := json.MarshalIndent(db, "", "  ")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("database %s: %v", path, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("database %s: %v", path, err)
	}
	return f.Close()
}

func hashPassword(p string) string {
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:])
}
