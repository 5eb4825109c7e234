#!/bin/sh
# Makes the files docker-compose.yml reads its secrets from, in ./secrets (git-ignored, left out
# of the image's build context): a random password per database role and for Grafana, the two
# database URLs built from them, and the wolkvox token, which you write yourself. A file that
# exists is kept, so running this again never changes a password the database already has.
#
#   sh deploy/compose/make-secrets.sh                # then: printf %s 'your-token' > secrets/wolkvox_token
#   sh deploy/compose/make-secrets.sh --token demo   # the demo profile's simulator takes any token
#
# Passwords are 32 hex digits from /dev/urandom: safe inside a URL without escaping.
set -eu
dir=${SECRETS_DIR:-secrets}
token=
if [ "${1:-}" = "--token" ]; then
    token=${2:?--token needs a value}
fi
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

random() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
# The files are readable by the containers' users (the daemon runs as uid 65532, PostgreSQL as
# 999); the directory, mode 0700, keeps other users of the host out.
put() {
    if [ ! -s "$dir/$1" ]; then
        printf %s "$2" > "$dir/$1"
        echo "wrote $dir/$1"
    fi
    chmod 644 "$dir/$1"
}
for name in postgres_password owner_password app_password bi_password grafana_admin_password; do
    put "$name" "$(random)"
done
put owner_database_url "postgres://wolkvox_owner:$(cat "$dir/owner_password")@postgres:5432/wolkvox"
put app_database_url "postgres://wolkvox_app:$(cat "$dir/app_password")@postgres:5432/wolkvox"
if [ -n "$token" ]; then
    put wolkvox_token "$token"
elif [ ! -s "$dir/wolkvox_token" ]; then
    : > "$dir/wolkvox_token"
    chmod 644 "$dir/wolkvox_token"
    echo "now write your wolkvox API token into $dir/wolkvox_token (printf %s 'token' > $dir/wolkvox_token)"
fi
