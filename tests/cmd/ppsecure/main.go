// Command ppsecure makes the key material of the secured test deployment
// and serves its OAuth2 issuer; tests/broker/secure.sh runs it.
//
// How this works:
//
//	ppsecure init -dir DIR
//	    DIR must hold secret.key (written by `bin/pulsar tokens
//	    create-secret-key`). Writes the certificates of pki.WriteSet, the
//	    tokens admin.token (role pp-admin, a superuser), proxy.token
//	    (pp-proxy, the proxy's own role) and client.token (pp-client, the
//	    role the tests publish as), none expiring, and
//	    oauth2-credentials.json ({client_id, client_secret} of an OAuth2
//	    client whose tokens carry role pp-client).
//	ppsecure token -key FILE -sub ROLE [-ttl 20s]
//	    Prints a token for ROLE signed with the key in FILE.
//	ppsecure issuer -dir DIR -addr 127.0.0.1:8455 [-ttl 1h]
//	    Serves the OAuth2 issuer (package oauth2issuer) for the client in
//	    DIR/oauth2-credentials.json, until SIGTERM. It prints "ready URL"
//	    once it listens.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pulsar-producer/pulsar-producer/tests/oauth2issuer"
	"github.com/pulsar-producer/pulsar-producer/tests/pki"
)

// Roles of the deployment (secure.sh grants them).
const (
	AdminRole  = "pp-admin"
	ProxyRole  = "pp-proxy"
	ClientRole = "pp-client"
	// OAuth2ClientID is the id in oauth2-credentials.json.
	OAuth2ClientID = "pp-oauth2-client"
)

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ppsecure: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: ppsecure init|token|issuer ...")
	}
	switch os.Args[1] {
	case "init":
		cmdInit(os.Args[2:])
	case "token":
		cmdToken(os.Args[2:])
	case "issuer":
		cmdIssuer(os.Args[2:])
	default:
		die("unknown command %q", os.Args[1])
	}
}

func cmdInit(args []string) {
	fs := flag.NewFlagSet("init", flag.ExitOnError)
	dir := fs.String("dir", "", "run directory (holds secret.key)")
	_ = fs.Parse(args)
	if *dir == "" {
		die("init: -dir is required")
	}
	key, err := os.ReadFile(filepath.Join(*dir, "secret.key"))
	if err != nil || len(key) < 32 {
		die("init: reading the secret key: %v (%d bytes)", err, len(key))
	}
	if _, err := pki.WriteSet(*dir); err != nil {
		die("init: certificates: %v", err)
	}
	for name, role := range map[string]string{"admin.token": AdminRole, "proxy.token": ProxyRole, "client.token": ClientRole} {
		if err := os.WriteFile(filepath.Join(*dir, name), []byte(pki.MintHS256(key, role, time.Time{}, nil)), 0o600); err != nil {
			die("init: %v", err)
		}
	}
	creds, _ := json.Marshal(map[string]string{"client_id": OAuth2ClientID, "client_secret": pki.RandomHex(24)})
	if err := os.WriteFile(filepath.Join(*dir, "oauth2-credentials.json"), creds, 0o600); err != nil {
		die("init: %v", err)
	}
}

func cmdToken(args []string) {
	fs := flag.NewFlagSet("token", flag.ExitOnError)
	keyFile := fs.String("key", "", "secret key file")
	sub := fs.String("sub", ClientRole, "role")
	ttl := fs.Duration("ttl", 0, "lifetime; 0 for none")
	_ = fs.Parse(args)
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		die("token: %v", err)
	}
	var exp time.Time
	if *ttl != 0 {
		exp = time.Now().Add(*ttl)
	}
	fmt.Println(pki.MintHS256(key, *sub, exp, nil))
}

func cmdIssuer(args []string) {
	fs := flag.NewFlagSet("issuer", flag.ExitOnError)
	dir := fs.String("dir", "", "run directory")
	addr := fs.String("addr", "127.0.0.1:8455", "listen address")
	host := fs.String("host", "localhost", "host name in the published URLs")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime")
	_ = fs.Parse(args)
	key, err := os.ReadFile(filepath.Join(*dir, "secret.key"))
	if err != nil {
		die("issuer: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(*dir, "oauth2-credentials.json"))
	if err != nil {
		die("issuer: %v", err)
	}
	var creds struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(raw, &creds); err != nil {
		die("issuer: oauth2-credentials.json: %v", err)
	}
	set := pki.SetIn(*dir)
	is, err := oauth2issuer.Start(oauth2issuer.Config{
		Addr: *addr, Host: *host, CertFile: set.Server, KeyFile: set.ServerKey,
		SecretKey: key, TTL: *ttl,
		Clients: map[string]oauth2issuer.Client{creds.ID: {Secret: creds.Secret, Role: ClientRole}},
	})
	if err != nil {
		die("issuer: %v", err)
	}
	fmt.Println("ready", is.URL)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	is.Close()
	d, t, n := is.Counts()
	fmt.Printf("stopped: %d discovery, %d token requests, %d tokens issued\n", d, t, n)
}
