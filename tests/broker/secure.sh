#!/usr/bin/env bash
# secure.sh: a secured Pulsar deployment for the tests: a standalone broker
# with TLS, token authentication and authorization, a Pulsar proxy in front
# of it with mutual TLS and token authentication, and an OAuth2 issuer.
#
# How this works:
#   * It uses the distribution broker.sh installs (`broker.sh install`,
#     never modified) and keeps everything else under its own run directory,
#     $PP_CACHE/secure: conf copies, data, logs, key material, pid files.
#     The plain standalone of broker.sh (6650/8080) and the cluster of
#     cluster.sh are never touched, and no port of theirs is used.
#   * "start" wipes the previous run, makes a token secret key with
#     `bin/pulsar tokens create-secret-key`, then (tests/cmd/ppsecure init)
#     a fresh CA, certificates and tokens, edits copies of standalone.conf
#     and proxy.conf in place (keys stay unique: the standalone bookie reads
#     the same file and turns a repeated key into a list), starts the broker,
#     the proxy and the issuer, each in its own session with a pid file,
#     waits until all three answer, and provisions the tenant.
#   * Only a pid whose pid file names it and whose environment carries this
#     run's marker (PP_SECURE_COMPONENT=<run dir>:<name>, set at launch) is
#     ever signalled, with its process group; start also stops what it
#     launched if it fails or is interrupted.
#
# Ports (127.0.0.1 only; override with the variables in brackets):
#   broker  6660 binary, plaintext [PP_SECURE_PLAIN_PORT]   (token auth too)
#           6661 binary, TLS       [PP_SECURE_TLS_PORT]
#           8090 HTTP admin        [PP_SECURE_HTTP_PORT]    (token auth too)
#           8453 HTTPS admin       [PP_SECURE_HTTPS_PORT]
#           its bookie on a random port, metadata in RocksDB (no port)
#   proxy   6671 binary, TLS, client certificate required [PP_SECURE_PROXY_PORT]
#           8454 HTTPS, client certificate required        [PP_SECURE_PROXY_HTTPS_PORT]
#           8091 HTTP (metrics)                             [PP_SECURE_PROXY_HTTP_PORT]
#   issuer  8455 HTTPS OAuth2 issuer [PP_SECURE_ISSUER_PORT]
#
# Security:
#   * TLS: one test CA signs server.pem (localhost, 127.0.0.1), used by the
#     broker, the proxy and the issuer, and client.pem (CN pp-client), which
#     the proxy requires of its clients (tlsRequireTrustedClientCertOnConnect).
#     The broker asks no client certificate. The proxy reaches the broker
#     over TLS (tlsEnabledWithBroker), trusting the same CA.
#   * Tokens: AuthenticationProviderToken with secret.key (HS256) on the
#     broker and on the proxy. Roles: pp-admin (superuser, the admin
#     token), pp-proxy (the proxy's own role: superuser and proxyRoles, so
#     the broker authorizes the client's role the proxy forwards),
#     pp-client (produce and consume on namespace pp/secure, granted at
#     start). authenticationRefreshCheckSeconds is 5 on both, so a connection
#     whose token expired is challenged within 5 s.
#   * OAuth2: the issuer (package tests/oauth2issuer) signs its tokens with
#     secret.key, role pp-client, one-hour lifetime; its client is in
#     oauth2-credentials.json.
#
# For the suites: `secure.sh env` prints the shell assignments below (the
# runner exports them); tokens are never printed, only the files holding
# them, except PP_SECURE_TOKEN, which the env command reads from a file.
#   PP_SECURE_URL              pulsar+ssl://localhost:6661 (the broker over TLS)
#   PP_SECURE_PLAIN_URL        pulsar://127.0.0.1:6660 (same broker, plaintext, token still required)
#   PP_SECURE_PROXY_URL        pulsar+ssl://localhost:6671 (the proxy: needs PP_SECURE_CLIENT_CERT/KEY)
#   PP_SECURE_ADMIN_URL        https://localhost:8453
#   PP_SECURE_CA               the CA file (tlsTrustCertsFilePath)
#   PP_SECURE_CLIENT_CERT, PP_SECURE_CLIENT_KEY   the client certificate and key (mTLS)
#   PP_SECURE_TOKEN            a valid token of role pp-client (no expiry)
#   PP_SECURE_TOKEN_FILE       the same token in a file (authTokenFile)
#   PP_SECURE_ADMIN_TOKEN_FILE a superuser token in a file (admin REST calls, creating topics)
#   PP_SECURE_SECRET_KEY       the HS256 key file, to mint tokens (e.g. expiring ones:
#                              $PP_SECURE_DIR/bin/ppsecure token -key $PP_SECURE_SECRET_KEY -ttl 20s)
#   PP_SECURE_NAMESPACE        pp/secure, where pp-client may produce and consume
#   PP_SECURE_OAUTH2_ISSUER    https://localhost:8455
#   PP_SECURE_OAUTH2_CREDENTIALS  the privateKey file ({client_id, client_secret})
#   PP_SECURE_DIR              the run directory (certificates: see pki.SetIn)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TESTS="$(dirname "$HERE")"
PP_CACHE="${PP_CACHE:-$HOME/.cache/pulsar-producer}"
RUN_DIR="${PP_SECURE_DIR:-$PP_CACHE/secure}"
LOCK_FILE="$PP_CACHE/secure.lock"
PLAIN_PORT="${PP_SECURE_PLAIN_PORT:-6660}"
TLS_PORT="${PP_SECURE_TLS_PORT:-6661}"
HTTP_PORT="${PP_SECURE_HTTP_PORT:-8090}"
HTTPS_PORT="${PP_SECURE_HTTPS_PORT:-8453}"
PROXY_PORT="${PP_SECURE_PROXY_PORT:-6671}"
PROXY_HTTPS_PORT="${PP_SECURE_PROXY_HTTPS_PORT:-8454}"
PROXY_HTTP_PORT="${PP_SECURE_PROXY_HTTP_PORT:-8091}"
ISSUER_PORT="${PP_SECURE_ISSUER_PORT:-8455}"
NAMESPACE="pp/secure"
START_TIMEOUT="${PP_SECURE_START_TIMEOUT:-300}"
STOP_TIMEOUT="${PP_SECURE_STOP_TIMEOUT:-20}"
BROKER_MEM="${PP_SECURE_BROKER_MEM:--Xms256m -Xmx512m -XX:MaxDirectMemorySize=512m}"
PROXY_MEM="${PP_SECURE_PROXY_MEM:--Xms64m -Xmx192m -XX:MaxDirectMemorySize=192m}"
# G1 without AlwaysPreTouch, as broker.sh: starts faster on a small machine.
JVM_GC="-XX:+UseG1GC -XX:+PerfDisableSharedMem"

BROKER_CONF="$RUN_DIR/standalone.conf"
PROXY_CONF="$RUN_DIR/proxy.conf"
ISSUER_BIN="$RUN_DIR/bin/ppsecure"
LOG_DIR="$RUN_DIR/logs"

usage() {
	cat <<EOF
Usage: $(basename "$0") start|stop|status|env|help

Runs a secured Pulsar deployment for the tests under $RUN_DIR:
a standalone broker (TLS pulsar+ssl://localhost:$TLS_PORT, https://localhost:$HTTPS_PORT,
token auth and authorization), a proxy in front of it (pulsar+ssl://localhost:$PROXY_PORT,
mutual TLS and token auth) and an OAuth2 issuer (https://localhost:$ISSUER_PORT).

  start   Start it fresh (new keys, data wiped) and wait until it is ready;
          prints the start time and memory. "already running" if it is.
  stop    Stop the processes this script started (pid files); nothing else.
  status  Exit 0 if all three are ready; prints each one's pid and memory.
  env     Print the PP_SECURE_* shell assignments (see the top of this file).

Environment: PP_CACHE, PP_SECURE_DIR, PP_SECURE_*_PORT, PP_SECURE_START_TIMEOUT,
PP_SECURE_BROKER_MEM, PP_SECURE_PROXY_MEM.
EOF
}

log() { printf 'secure.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

alive() {
	local state
	state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
	[[ -n "$state" && "$state" != Z* ]]
}

# owned NAME: print the pid of component NAME (broker, proxy, issuer) if its
# pid file names a live process that belongs to this run: launch marks each
# process's environment with PP_SECURE_COMPONENT=<run dir>:<name>, which
# survives bin/pulsar exec-ing java.
owned() {
	local name="$1" pid_file="$RUN_DIR/$1.pid" pid
	[[ -f "$pid_file" ]] || return 1
	pid="$(cat "$pid_file")"
	[[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/environ" ]] || return 1
	tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF -- "PP_SECURE_COMPONENT=$RUN_DIR:$name" || return 1
	alive "$pid" || return 1
	printf '%s\n' "$pid"
}

# rss PID: resident memory of the process in MiB.
rss() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

curl_admin() {
	# curl_admin URL [curl args...]: an admin request with the superuser token.
	local url="$1"
	shift
	curl -fsS --max-time 10 --cacert "$RUN_DIR/ca.pem" \
		-H "Authorization: Bearer $(cat "$RUN_DIR/admin.token")" "$@" "$url"
}

broker_ready() {
	local body
	body="$(curl_admin "https://localhost:$HTTPS_PORT/admin/v2/namespaces/public" 2>/dev/null)" || return 1
	[[ "$body" == *'"public/default"'* ]]
}

# proxy_ready: the proxy forwards an admin request to the broker (over its
# HTTPS port, with the client certificate), so it is up and reaches it.
proxy_ready() {
	local body
	body="$(curl_admin "https://localhost:$PROXY_HTTPS_PORT/admin/v2/namespaces/public" \
		--cert "$RUN_DIR/client.pem" --key "$RUN_DIR/client.key" 2>/dev/null)" || return 1
	[[ "$body" == *'"public/default"'* ]] && port_in_use "$PROXY_PORT"
}

issuer_ready() {
	curl -fsS --max-time 3 --cacert "$RUN_DIR/ca.pem" \
		"https://localhost:$ISSUER_PORT/.well-known/openid-configuration" >/dev/null 2>&1
}

all_ready() { broker_ready && proxy_ready && issuer_ready; }

# set_conf FILE KEY VALUE: replace KEY's line in FILE, or append it.
set_conf() {
	local file="$1" key="$2" value="$3"
	if grep -q "^${key}=" "$file"; then
		sed -i "s|^${key}=.*|${key}=${value}|" "$file"
	else
		# The distribution's files may end without a newline.
		[[ -z "$(tail -c 1 "$file")" ]] || printf '\n' >>"$file"
		printf '%s=%s\n' "$key" "$value" >>"$file"
	fi
}

write_broker_conf() {
	local home="$1" f="$BROKER_CONF"
	cp "$home/conf/standalone.conf" "$f"
	set_conf "$f" advertisedAddress 127.0.0.1
	set_conf "$f" bindAddress 127.0.0.1
	set_conf "$f" brokerServicePort "$PLAIN_PORT"
	set_conf "$f" brokerServicePortTls "$TLS_PORT"
	set_conf "$f" webServicePort "$HTTP_PORT"
	set_conf "$f" webServicePortTls "$HTTPS_PORT"
	set_conf "$f" brokerShutdownTimeoutMs 3000
	set_conf "$f" brokerDeleteInactiveTopicsEnabled false
	set_conf "$f" allowAutoTopicCreation true
	set_conf "$f" forceDeleteNamespaceAllowed true
	set_conf "$f" forceDeleteTenantAllowed true
	# TLS on the binary and HTTPS ports; no client certificate asked.
	set_conf "$f" tlsCertificateFilePath "$RUN_DIR/server.pem"
	set_conf "$f" tlsKeyFilePath "$RUN_DIR/server.key"
	set_conf "$f" tlsTrustCertsFilePath "$RUN_DIR/ca.pem"
	set_conf "$f" tlsRequireTrustedClientCertOnConnect false
	# Tokens and authorization.
	set_conf "$f" authenticationEnabled true
	set_conf "$f" authenticationProviders org.apache.pulsar.broker.authentication.AuthenticationProviderToken
	set_conf "$f" tokenSecretKey "file://$RUN_DIR/secret.key"
	set_conf "$f" authorizationEnabled true
	set_conf "$f" superUserRoles pp-admin,pp-proxy
	set_conf "$f" proxyRoles pp-proxy
	# Check every 5 s whether a connection's token expired, and challenge it.
	set_conf "$f" authenticationRefreshCheckSeconds 5
	# The broker's own clients (the standalone's setup, system topics) use
	# the plaintext ports as the superuser.
	set_conf "$f" brokerClientAuthenticationPlugin org.apache.pulsar.client.impl.auth.AuthenticationToken
	set_conf "$f" brokerClientAuthenticationParameters "file://$RUN_DIR/admin.token"
	set_conf "$f" brokerClientTlsEnabled false
}

write_proxy_conf() {
	local home="$1" f="$PROXY_CONF"
	cp "$home/conf/proxy.conf" "$f"
	set_conf "$f" bindAddress 127.0.0.1
	set_conf "$f" advertisedAddress 127.0.0.1
	set_conf "$f" brokerServiceURL "pulsar://127.0.0.1:$PLAIN_PORT"
	set_conf "$f" brokerServiceURLTLS "pulsar+ssl://127.0.0.1:$TLS_PORT"
	set_conf "$f" brokerWebServiceURL "http://127.0.0.1:$HTTP_PORT"
	set_conf "$f" brokerWebServiceURLTLS "https://127.0.0.1:$HTTPS_PORT"
	set_conf "$f" servicePort ""
	set_conf "$f" servicePortTls "$PROXY_PORT"
	set_conf "$f" webServicePort "$PROXY_HTTP_PORT"
	set_conf "$f" webServicePortTls "$PROXY_HTTPS_PORT"
	# A client may only ask to be proxied to the broker's own ports.
	set_conf "$f" brokerProxyAllowedTargetPorts "$PLAIN_PORT,$TLS_PORT"
	# Client side: TLS with a client certificate required, and tokens.
	set_conf "$f" tlsEnabledInProxy true
	set_conf "$f" tlsCertificateFilePath "$RUN_DIR/server.pem"
	set_conf "$f" tlsKeyFilePath "$RUN_DIR/server.key"
	set_conf "$f" tlsTrustCertsFilePath "$RUN_DIR/ca.pem"
	set_conf "$f" tlsRequireTrustedClientCertOnConnect true
	set_conf "$f" authenticationEnabled true
	set_conf "$f" authenticationProviders org.apache.pulsar.broker.authentication.AuthenticationProviderToken
	set_conf "$f" tokenSecretKey "file://$RUN_DIR/secret.key"
	set_conf "$f" authenticationRefreshCheckSeconds 5
	set_conf "$f" forwardAuthorizationCredentials true
	# Broker side: TLS, as the proxy's own role.
	set_conf "$f" tlsEnabledWithBroker true
	set_conf "$f" brokerClientTrustCertsFilePath "$RUN_DIR/ca.pem"
	set_conf "$f" brokerClientAuthenticationPlugin org.apache.pulsar.client.impl.auth.AuthenticationToken
	set_conf "$f" brokerClientAuthenticationParameters "file://$RUN_DIR/proxy.token"
	set_conf "$f" clusterName standalone
}

lock() {
	mkdir -p "$PP_CACHE"
	exec 9>"$LOCK_FILE"
	flock -w "$((START_TIMEOUT + 300))" 9 || die "could not lock $LOCK_FILE"
}

# launch NAME CMD...: run CMD in its own session, marked as this run's
# component NAME, output to logs/NAME.log, pid to NAME.pid and STARTED.
declare -A STARTED=()
launch() {
	local name="$1"
	shift
	(
		exec 9>&- # the lock must not outlive this script
		cd "$RUN_DIR"
		exec env "PP_SECURE_COMPONENT=$RUN_DIR:$name" setsid "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1
	) &
	STARTED[$name]=$!
	echo $! >"$RUN_DIR/$name.pid"
}

# kill_group PID: SIGTERM the process group PID leads, SIGKILL it after
# STOP_TIMEOUT. Only called with pids owned() vouched for or just started.
kill_group() {
	local pid="$1" start=$SECONDS
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	while alive "$pid"; do
		if ((SECONDS - start >= STOP_TIMEOUT)); then
			log "pid $pid still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.2
	done
	if pgrep -g "$pid" >/dev/null 2>&1; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
}

# stop_all: stop every component this run owns, and those this invocation
# just launched (their marker may not be in place yet).
stop_all() {
	local name pid
	for name in proxy issuer broker; do
		pid="${STARTED[$name]:-}"
		if [[ -z "$pid" ]] || ! alive "$pid"; then
			pid="$(owned "$name")" || pid=""
		fi
		if [[ -n "$pid" ]]; then
			log "stopping $name (pid $pid)"
			kill_group "$pid"
		fi
		rm -f "$RUN_DIR/$name.pid"
	done
}

# failed MSG: print the tail of every log, stop what was started, exit 1.
failed() {
	log "$1"
	local f
	for f in "$LOG_DIR"/*.log; do
		[[ -f "$f" && "$f" != */pulsar_gc_* ]] || continue
		log "last 30 lines of $f:"
		tail -n 30 "$f" >&2 || true
	done
	stop_all
	exit 1
}

cmd_start() {
	lock
	if all_ready; then
		echo "already running"
		return 0
	fi
	local name p
	for name in broker proxy issuer; do
		if owned "$name" >/dev/null; then
			log "a previous start left $name running but not ready; stopping it"
			stop_all
			break
		fi
	done
	for p in "$PLAIN_PORT" "$TLS_PORT" "$HTTP_PORT" "$HTTPS_PORT" "$PROXY_PORT" "$PROXY_HTTPS_PORT" "$PROXY_HTTP_PORT" "$ISSUER_PORT"; do
		port_in_use "$p" && die "port $p is taken by a process this script did not start"
	done

	local home t0 ms
	t0="$(date +%s%N)"
	home="$(bash "$HERE/broker.sh" install)"
	rm -rf "$RUN_DIR"
	mkdir -p "$RUN_DIR/bin" "$LOG_DIR" "$RUN_DIR/data"

	# The key (a JVM start) and the Go build run side by side.
	PULSAR_LOG_DIR="$LOG_DIR" PULSAR_MEM="-Xms32m -Xmx128m" \
		"$home/bin/pulsar" tokens create-secret-key --output "$RUN_DIR/secret.key" >"$LOG_DIR/keygen.log" 2>&1 &
	local keygen=$!
	(cd "$TESTS" && go build -o "$ISSUER_BIN" ./cmd/ppsecure) || die "building tests/cmd/ppsecure failed"
	wait "$keygen" || die "bin/pulsar tokens create-secret-key failed: $(cat "$LOG_DIR/keygen.log")"
	"$ISSUER_BIN" init -dir "$RUN_DIR" || die "ppsecure init failed"
	write_broker_conf "$home"
	write_proxy_conf "$home"

	# Whatever ends this script before the deployment is ready (an error,
	# Ctrl-C) stops what it launched.
	START_OK=0
	trap '[[ $START_OK == 1 ]] || stop_all' EXIT
	PULSAR_STANDALONE_CONF="$BROKER_CONF" PULSAR_LOG_DIR="$LOG_DIR" PULSAR_MEM="$BROKER_MEM" PULSAR_GC="$JVM_GC" \
		launch broker "$home/bin/pulsar" standalone --config "$BROKER_CONF" \
		--no-functions-worker --no-stream-storage --advertised-address 127.0.0.1 \
		--bookkeeper-dir "$RUN_DIR/data/bookkeeper" --metadata-dir "$RUN_DIR/data/metadata"
	PULSAR_PROXY_CONF="$PROXY_CONF" PULSAR_LOG_DIR="$LOG_DIR" PULSAR_MEM="$PROXY_MEM" PULSAR_GC="$JVM_GC" \
		launch proxy "$home/bin/pulsar" proxy
	launch issuer "$ISSUER_BIN" issuer -dir "$RUN_DIR" -addr "127.0.0.1:$ISSUER_PORT"

	local start=$SECONDS
	until broker_ready && proxy_ready && issuer_ready; do
		for name in broker proxy issuer; do
			alive "${STARTED[$name]}" || failed "$name exited during startup"
		done
		((SECONDS - start < START_TIMEOUT)) || failed "not ready after ${START_TIMEOUT}s"
		sleep 0.5
	done
	ms=$((($(date +%s%N) - t0) / 1000000))

	# The tenant and namespace the tests use; pp-client may produce and
	# consume there.
	curl_admin "https://localhost:$HTTPS_PORT/admin/v2/tenants/pp" -X PUT -H 'Content-Type: application/json' \
		-d '{"adminRoles":["pp-admin"],"allowedClusters":["standalone"]}' >/dev/null ||
		failed "creating tenant pp failed"
	curl_admin "https://localhost:$HTTPS_PORT/admin/v2/namespaces/$NAMESPACE" -X PUT >/dev/null ||
		failed "creating namespace $NAMESPACE failed"
	curl_admin "https://localhost:$HTTPS_PORT/admin/v2/namespaces/$NAMESPACE/permissions/pp-client" -X POST \
		-H 'Content-Type: application/json' -d '["produce","consume"]' >/dev/null ||
		failed "granting pp-client failed"
	START_OK=1
	printf 'secure deployment ready in %d.%03ds (broker pid %s, proxy pid %s, issuer pid %s)\n' \
		$((ms / 1000)) $((ms % 1000)) "$(owned broker)" "$(owned proxy)" "$(owned issuer)"
	cmd_status
}

cmd_status() {
	local name pid ok=0
	for name in broker proxy issuer; do
		if pid="$(owned "$name")"; then
			printf '%-7s pid %-8s RSS %s MiB\n' "$name" "$pid" "$(rss "$pid")"
		else
			printf '%-7s not started by this script\n' "$name"
		fi
	done
	if all_ready; then
		echo "ready"
	else
		echo "not ready"
		ok=1
	fi
	return $ok
}

# cmd_env prints NAME=value lines, each value quoted for the shell (eval
# them, or prefix "export ").
cmd_env() {
	[[ -f "$RUN_DIR/client.token" ]] || die "no deployment in $RUN_DIR (run start first)"
	local name value
	while read -r name value; do
		printf '%s=%q\n' "$name" "$value"
	done <<EOF
PP_SECURE_DIR $RUN_DIR
PP_SECURE_URL pulsar+ssl://localhost:$TLS_PORT
PP_SECURE_PLAIN_URL pulsar://127.0.0.1:$PLAIN_PORT
PP_SECURE_PROXY_URL pulsar+ssl://localhost:$PROXY_PORT
PP_SECURE_ADMIN_URL https://localhost:$HTTPS_PORT
PP_SECURE_CA $RUN_DIR/ca.pem
PP_SECURE_CLIENT_CERT $RUN_DIR/client.pem
PP_SECURE_CLIENT_KEY $RUN_DIR/client.key
PP_SECURE_TOKEN $(cat "$RUN_DIR/client.token")
PP_SECURE_TOKEN_FILE $RUN_DIR/client.token
PP_SECURE_ADMIN_TOKEN_FILE $RUN_DIR/admin.token
PP_SECURE_SECRET_KEY $RUN_DIR/secret.key
PP_SECURE_NAMESPACE $NAMESPACE
PP_SECURE_OAUTH2_ISSUER https://localhost:$ISSUER_PORT
PP_SECURE_OAUTH2_CREDENTIALS $RUN_DIR/oauth2-credentials.json
EOF
}

case "${1:-help}" in
start) cmd_start ;;
stop)
	lock
	stop_all
	echo "stopped"
	;;
status) cmd_status ;;
env) cmd_env ;;
help | -h | --help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
