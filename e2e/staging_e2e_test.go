//go:build e2e

package e2e_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// attackMarker is in every byte string the attacker writes.
const attackMarker = "ATTACKER-OBSBOX-E2E"

// The attacker's content for every staged file: a unit that would run its
// command as root.
const attackPayload = `[Unit]
Description=` + attackMarker + `
[Service]
ExecStart=/bin/touch /PWNED
`

// Two attackers, both the login user deploy on the host, for the whole apply:
//   - loop: keeps replacing every file in its staging folder (the case);
//   - after-check: waits until the unit files are staged and the apply
//     script's checksum check (the probe's ran before the upload) has run,
//     then keeps replacing every staged unit file (no configuration check
//     looks at those): the window the old script left open between its
//     check and install_file.
var attackers = map[string]string{
	"loop": `while :; do
	for f in "$S"/*; do [ -f "$f" ] || continue; printf '%s' "$P" > "$f.x.$$" 2>/dev/null && mv -f "$f.x.$$" "$f" 2>/dev/null; done
done`,
	"after-check": `units() { find "$S" -maxdepth 1 -type f -size -64k ! -name '*.part' ! -name '*.x.*' -exec grep -l '^\[Unit\]' {} + 2>/dev/null; }
until [ -n "$(units)" ]; do :; done
until grep -qsx sha256sum /proc/[0-9]*/comm; do :; done
while grep -qsx sha256sum /proc/[0-9]*/comm; do :; done
while :; do
	for f in $(units); do
		grep -q ` + attackMarker + ` "$f" 2>/dev/null && continue
		printf '%s' "$P" > "$f.x.$$" 2>/dev/null && mv -f "$f.x.$$" "$f" 2>/dev/null && echo "$f" >> /tmp/attacker.swaps
	done
done`,
}

// installedSums lists the sha256 of every file obsbox installs on h1.
func installedSums(t *testing.T, s *stack) map[string]string {
	t.Helper()
	out, err := s.c.SSH("h1", "find /etc/obsbox /opt/obsbox /etc/systemd/system -path '/etc/systemd/system/*' ! -name 'obsbox-*' -prune -o -type f -print0 | xargs -0 sha256sum")
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		sum, name, ok := strings.Cut(l, "  ")
		if ok {
			sums[name] = sum
		}
	}
	if len(sums) == 0 {
		t.Fatal("no installed files found")
	}
	return sums
}

// TestFinding3_StagedFileSwapDuringApply is issue 11's acceptance for
// finding 3: while apply runs through deploy, a process of deploy keeps
// replacing the files in its staging folder. apply either fails cleanly or
// installs exactly the genuine content, and no installed file ever holds
// the attacker's bytes; no staged secret stays behind.
func TestFinding3_StagedFileSwapDuringApply(t *testing.T) {
	s := newStack(t, 1)
	s.webhook = "http://" + s.c.Hosts[0].Address + ":9/"
	s.writeInventory(invData{})
	inv, err := os.ReadFile(s.inv)
	if err != nil {
		t.Fatal(err)
	}
	// h1 carries every role and is reached through deploy (passwordless sudo).
	withDeploy := strings.Replace(string(inv), `labels  = { env = "e2e" }`, "labels  = { env = \"e2e\" }\n  ssh { user = \"deploy\" }", 1)
	if withDeploy == string(inv) {
		t.Fatal("could not make h1 use deploy")
	}
	if err := os.WriteFile(s.inv, []byte(withDeploy), 0o644); err != nil {
		t.Fatal(err)
	}
	const staging = "/var/tmp/obsbox-staging-deploy"

	// A root watcher on the host records any moment an installed file holds
	// the attacker's bytes, for the whole test.
	if _, err := s.c.SSH("h1", `setsid sh -c 'while :; do grep -rl `+attackMarker+` /etc/systemd/system /etc/obsbox /opt/obsbox >> /root/attack-hits 2>/dev/null; [ -e /PWNED ] && echo /PWNED >> /root/attack-hits; sleep 0.1; done' </dev/null >/dev/null 2>&1 & echo $! > /root/watcher.pid`); err != nil {
		t.Fatal(err)
	}
	defer s.c.SSH("h1", "kill $(cat /root/watcher.pid)")

	attacked := map[string]map[string]string{}    // attacker -> installed sums, when apply succeeded
	attackedWeb := map[string]map[string]string{} // attacker -> web.yml files, hashes checked and masked
	for _, name := range []string{"after-check", "loop"} {
		t.Run(name, func(t *testing.T) {
			// deploy makes its staging folder now, as the run would, and attacks.
			script := "S=" + staging + "; P='" + attackPayload + "'; mkdir -p -m 700 \"$S\"; " + attackers[name]
			if _, err := s.c.SSHAs("deploy", "h1", "setsid sh -c "+shQuote(script)+" </dev/null >/dev/null 2>&1 & echo $! > /tmp/attacker.pid"); err != nil {
				t.Fatal(err)
			}
			r := s.obsbox("apply")
			if _, err := s.c.SSHAs("deploy", "h1", "kill $(cat /tmp/attacker.pid)"); err != nil {
				t.Fatal(err)
			}
			t.Logf("apply under attack %q: %s", name, r)
			if name == "after-check" {
				// Without a swap after the check this case would prove nothing.
				n, _ := s.c.SSHAs("deploy", "h1", "sort -u /tmp/attacker.swaps 2>/dev/null | wc -l")
				t.Logf("staged unit files replaced after the check: %s", strings.TrimSpace(n))
				if strings.TrimSpace(n) == "0" {
					t.Errorf("the attacker never replaced a staged file after the check")
				}
			}
			if r.code == 0 {
				attacked[name] = installedSums(t, s)
				attackedWeb[name] = webConfigs(t, s)
			} else if !strings.Contains(r.stderr+r.stdout, "h1") {
				t.Errorf("a failed apply must name the host: %s", r)
			}
			out, err := s.c.SSH("h1", "ls -A "+staging+" 2>/dev/null | grep '^secret-' || true")
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(out) != "" {
				t.Errorf("staged secrets left behind: %s", out)
			}
			// Start over from a bare host for the next attacker and the clean run.
			if u := s.obsbox("uninstall", "--yes"); u.code != 0 {
				t.Fatalf("uninstall: %s", u)
			}
		})
	}

	// The clean run, no attacker: the reference.
	s.c.SSH("h1", "rm -rf "+staging)
	if r := s.obsbox("apply"); r.code != 0 {
		t.Fatalf("clean apply: %s", r)
	}
	clean := installedSums(t, s)
	cleanWeb := webConfigs(t, s)
	// Each install makes its own host key and certificate (and so its key
	// pairs: the key never passes the staging folder) and salts its own
	// bcrypt hash, so those differ between any two installs. web.yml is
	// staged like the rest: it is compared with its hash checked against
	// the password and masked.
	perInstall := func(f string) bool {
		return strings.HasSuffix(f, "/tls/host.key") || strings.HasSuffix(f, "/tls/host.crt") ||
			strings.HasSuffix(f, "/tls/server.pem") || strings.HasSuffix(f, "/web.yml")
	}
	for name, sums := range attacked {
		for f, sum := range clean {
			if perInstall(f) {
				continue
			}
			if sums[f] != sum {
				t.Errorf("%s: after the attacked apply %s had sha256 %q, a clean run installs %s", name, f, sums[f], sum)
			}
		}
		for f := range sums {
			if _, ok := clean[f]; !ok {
				t.Errorf("%s: the attacked apply installed %s, which a clean run does not", name, f)
			}
		}
	}
	for name, webs := range attackedWeb {
		for f, want := range cleanWeb {
			if webs[f] != want {
				t.Errorf("%s: after the attacked apply %s was\n%s\na clean run installs\n%s", name, f, webs[f], want)
			}
		}
	}
	if _, ok := attacked["after-check"]; !ok {
		t.Logf("note: apply under the after-check attacker failed (cleanly)")
	}
	hits, _ := s.c.SSH("h1", "sort -u /root/attack-hits 2>/dev/null; true")
	if strings.TrimSpace(hits) != "" {
		t.Errorf("an installed file held the attacker's bytes: %s", hits)
	}
}

var bcryptHash = regexp.MustCompile(`\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}`)

// webConfigs returns every installed web.yml on h1, each bcrypt hash in it
// checked against the stack's password and then masked.
func webConfigs(t *testing.T, s *stack) map[string]string {
	t.Helper()
	password, err := os.ReadFile(filepath.Join(s.dir, ".obsbox-web-password"))
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(string(password))
	out, err := s.c.SSH("h1", `for f in $(find /etc/obsbox -name web.yml | sort); do printf '== %s\n' "$f"; cat "$f"; done`)
	if err != nil {
		t.Fatal(err)
	}
	webs := map[string]string{}
	for _, part := range strings.Split(out, "== ")[1:] {
		path, body, _ := strings.Cut(part, "\n")
		for _, h := range bcryptHash.FindAllString(body, -1) {
			if bcrypt.CompareHashAndPassword([]byte(h), []byte(pw)) != nil {
				t.Errorf("%s holds a hash that is not the stack's password's", path)
			}
		}
		webs[path] = bcryptHash.ReplaceAllString(body, "<bcrypt of the password>")
	}
	if len(webs) == 0 {
		t.Error("no web.yml installed on h1")
	}
	return webs
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
