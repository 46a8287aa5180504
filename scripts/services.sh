# Helpers that make sure the services the tests use are there. Sourced by scripts/test.

export PORTCULLIS_TEST_POSTGRES_URL=${PORTCULLIS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    if [ -z "${APT_UPDATED:-}" ]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_answers() {
    psql "$PORTCULLIS_TEST_POSTGRES_URL" -qtAc 'SELECT 1' >/dev/null 2>&1
}

# PostgreSQL on 127.0.0.1:5432 that the `postgres` user reaches without a password.
ensure_postgres() {
    command -v psql >/dev/null || apt_install postgresql-client
    pg_answers && return 0
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        echo "installing PostgreSQL for the tests..."
        apt_install postgresql
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    if ! pg_answers; then
        # A fresh Debian cluster asks for passwords over TCP: trust local connections,
        # as a throwaway test server may.
        local hba="/etc/postgresql/$version/main/pg_hba.conf"
        as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
        sleep 1
    fi
    pg_answers || { echo "error: PostgreSQL does not answer at $PORTCULLIS_TEST_POSTGRES_URL" >&2; return 1; }
}

# Debian's Chromium and its driver, for the browser tests.
ensure_chromium() {
    if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
        echo "installing Chromium for the browser tests..."
        apt_install chromium chromium-driver
    fi
}

# axe-core, which the page tests load into the browser for the accessibility checks
# (tests/browser/package.json, at the version its lock file pins).
ensure_axe() {
    [ -f tests/browser/node_modules/axe-core/axe.min.js ] && return 0
    command -v npm >/dev/null || apt_install npm
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

# Databases left by earlier runs (each API test makes its own).
drop_test_databases() {
    local server
    for server in "$PORTCULLIS_TEST_POSTGRES_URL" ${PORTCULLIS_TEST_OUTAGE_POSTGRES_URL:-}; do
        # One connection drops them all, each statement on its own (no transaction).
        psql "$server" -qtAc "SELECT format('DROP DATABASE IF EXISTS %I;', datname) FROM pg_database
                              WHERE datname LIKE 'portcullis\_test\_%'" | psql "$server" -q >/dev/null
    done
}

# A second PostgreSQL cluster, on 127.0.0.1:5433, that the outage test stops and starts
# to prove the server rides out a database that goes away and comes back.
ensure_outage_postgres() {
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    if [ ! -d "/etc/postgresql/$version/outage" ]; then
        as_root pg_createcluster -p 5433 "$version" outage >/dev/null
        as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "/etc/postgresql/$version/outage/pg_hba.conf"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" outage start 2>/dev/null || true
    export PORTCULLIS_TEST_OUTAGE_CLUSTER="$version outage"
    export PORTCULLIS_TEST_OUTAGE_POSTGRES_URL=postgres://postgres@127.0.0.1:5433/postgres
}

# wrk, the HTTP load generator of bench/.
ensure_wrk() {
    command -v wrk >/dev/null || apt_install wrk
}

# HAProxy, in front of the instances of scripts/cluster.
ensure_haproxy() {
    command -v haproxy >/dev/null || { echo "installing HAProxy for the cluster tests..."; apt_install haproxy; }
}

# nginx in front of a protected page proves forward auth (`auth_request`). The tests run
# their own nginx with their own configuration; the package's service is not needed.
ensure_nginx() {
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || {
        echo "installing nginx for the forward-auth tests..."
        apt_install nginx-light
    }
}
