#!/bin/sh
# tools/mutants.sh: mutation check of the most critical checks.
# Each mutation below is applied, one at a time, to a scratch copy of the
# working tree, the test programs that must catch it are rebuilt there and
# run; it prints "mutant <name> caught|SURVIVED" and exits 1 if any survived
# (or did not apply: the source moved and this list needs updating).
#   MUTANTS_ONLY=name[,name]  run only these
#   MUTANTS_KEEP=1            keep the scratch directory
# Needs root for the key-permission mutants (test_keyperm chowns files);
# as another user those tests are skipped and the mutants count as SURVIVED.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=$(mktemp -d /tmp/hotssl-mutants-XXXXXX)
[ "${MUTANTS_KEEP:-0}" = 1 ] || trap 'rm -rf "$SCRATCH"' EXIT
JOBS=$(nproc 2>/dev/null || echo 2)
# The scratch copy has no ../shared beside it: point the tests at the test
# data the real tree would use.
if [ -z "${HOTSSL_TESTDATA:-}" ] && [ -d "$ROOT/../shared/testdata/postgresql-ssl" ]; then
  HOTSSL_TESTDATA=$(cd "$ROOT/../shared/testdata/postgresql-ssl" && pwd)
  export HOTSSL_TESTDATA
fi

# name ~~ file ~~ exact text ~~ replacement ~~ ctest regex of the catching tests
# [~~ seconds: a mutant that makes its test hang is caught by this timeout]
MUTANTS=$(cat <<'LIST'
publication-wait ~~ core/manager.c ~~     while (atomic_load(&m->readers[slot]) != 0) ~~     while (0 && atomic_load(&m->readers[slot]) != 0) ~~ ^unit\.test_acquire_race$
revocation-lookup ~~ core/revocation.c ~~                 : is_revoked(v->t, gi, crt->serial.p, crt->serial.len)) ~~                 : 0 && is_revoked(v->t, gi, crt->serial.p, crt->serial.len)) ~~ ^unit\.test_crl_dates$
crl-scope ~~ core/verify.c ~~   if (scope == HOTSSL__SCOPE_OUT) ~~   if (0) ~~ ^e2e_verify_matrix$ ~~ 300
ca-file-path-length ~~ core/verify.c ~~   if (d > 1 && max > 0 && plen > max - 1) ~~   if (0) ~~ ^e2e_verify_matrix$ ~~ 300
name-constraints ~~ core/verify.c ~~   if (hotssl__crt_has_name_constraints(crt)) ~~   if (0) ~~ ^e2e_verify_matrix$ ~~ 300
crl-expired ~~ core/revocation.c ~~       any_valid |= rc->this_update <= now && now <= rc->next_update; ~~       any_valid |= rc->this_update <= now; ~~ ^unit\.test_crl_dates$
crl-not-yet-valid ~~ core/revocation.c ~~       any_valid |= rc->this_update <= now && now <= rc->next_update; ~~       any_valid |= now <= rc->next_update; ~~ ^unit\.test_crl_dates$
keyperm-own-user ~~ os/posix/keyperm.c ~~   if ((owner == me && (prot ~~   if ((0 && owner == me && (prot ~~ ^unit\.test_keyperm$
keyperm-root-owner ~~ os/posix/keyperm.c ~~       (owner == 0 && (prot ~~       (0 && owner == 0 && (prot ~~ ^unit\.test_keyperm$
after-fork-reseed ~~ platform/posix/fork.c ~~   r = hotssl__generation_rng_recreate(atomic_load(&m->current), atomic_load(&m->fork_count)); ~~   r = 0; ~~ ^platform\.unit$
fork-detection ~~ core/rng.c ~~   if (atomic_load_explicit(&g->rng_pid, memory_order_acquire) != me) { ~~   if (0 && atomic_load_explicit(&g->rng_pid, memory_order_acquire) != me) { ~~ ^platform\.fork_rng$
retry-window ~~ watcher/watcher.c ~~     w->window_end = now + w->retry_window_ms; ~~     w->window_end = now; ~~ ^watcher\.fake\.thread$ ~~ 20
storm-cap ~~ watcher/watcher.c ~~     if (w->due > w->first_event + max_delay) ~~     if (0 && w->due > w->first_event + max_delay) ~~ ^watcher\.fake\.thread$
all-or-nothing ~~ core/trust.c ~~     if ((r = parse_crl_blob(&o->u.crl, &in->crl_dir_files[i], ca, errbuf, errlen)) != 0) ~~     if ((r = parse_crl_blob(&o->u.crl, &in->crl_dir_files[i], ca, errbuf, errlen)) != 0 && 0) ~~ ^unit\.test_crl_dates$
passphrase-group-kill ~~ os/posix/process.c ~~   if (kill(-(pid_t)c->proc.pid, SIGKILL) != 0) ~~   if (1) ~~ ^unit\.test_passphrase$
wrong-passphrase-garbage ~~ core/identity.c ~~   } else if (ret == MBEDTLS_ERR_PK_PASSWORD_MISMATCH || decrypted_garbage(ret)) { ~~   } else if (ret == MBEDTLS_ERR_PK_PASSWORD_MISMATCH) { ~~ ^unit\.test_passphrase$
key-iteration-cap ~~ core/identity.c ~~   if ((encrypted_pkcs8 || !hotssl__parse_looks_pem(b)) && ~~   if (0 && ~~ ^unit\.test_keycost$ ~~ 10
crl-stale-refuse ~~ core/verify.c ~~   if (tm != HOTSSL__REV_EXPIRED || cv->crl_stale == HOTSSL__CRL_STALE_REFUSE) ~~   if (tm != HOTSSL__REV_EXPIRED) ~~ ^e2e_crl_stale$
served-differs ~~ core/metrics.c ~~     differs = memcmp(in.fingerprint, cur->fingerprint, 32) != 0; ~~     differs = 0; ~~ ^unit\.test_metrics_audit$
dh-safe-prime ~~ core/dh.c ~~     ret = mbedtls_mpi_is_prime_ext(&Q, dh_rounds(bits), mbedtls_ctr_drbg_random, drbg); ~~     ret = 0; ~~ ^e2e_catalogue_start$
dh-applied ~~ core/dh.c ~~   if ((ret = mbedtls_ssl_conf_dh_param_ctx(&g->conf, &dhm)) != 0) { ~~   if ((ret = 0) != 0) { ~~ ^e2e_dh$
handshake-deadline ~~ cli/session.c ~~   if (wait_by(d->net.fd, d->deadline_ms) != 0) ~~   if (0 && wait_by(d->net.fd, d->deadline_ms) != 0) ~~ ^platform\.abuse_thread$ ~~ 150
emfile-spare ~~ cli/serve_modes.c ~~     if (a->spare >= 0) { ~~     if (0 && a->spare >= 0) { ~~ ^platform\.abuse_thread$ ~~ 150
max-connections ~~ cli/serve_common.c ~~   if (live < o->max_connections) ~~   if (1 || live < o->max_connections) ~~ ^platform\.abuse_fork$ ~~ 150
live-revocation-lookup ~~ core/peerrec.c ~~     if (hotssl__revocation_lookup_key(t, r->bytes + e->key_off, e->key_len, r->bytes + e->ser_off, ~~     if (0 && hotssl__revocation_lookup_key(t, r->bytes + e->key_off, e->key_len, r->bytes + e->ser_off, ~~ ^unit\.test_liverev$
generation-counter-publish ~~ core/manager.c ~~     atomic_store(m->gen_counter, g->number); ~~     (void)g->number; ~~ ^unit\.test_liverev$
fork-child-counter-writer ~~ platform/posix/fork.c ~~   m->gen_writer = 0; ~~   (void)m->gen_writer; ~~ ^unit\.test_liverev$
ticket-binding ~~ core/tickets.c ~~   if (memcmp(body + 13, t->id[e], 32) != 0 || memcmp(body + 45, t->trust[e], 32) != 0) ~~   if (0) ~~ ^unit\.test_tickets$
ticket-expiry ~~ core/tickets.c ~~   if (issued > now + 60 || age >= life || life > t->lifetime) ~~   if (issued > now + 60) ~~ ^unit\.test_tickets$
ticket-revoked ~~ core/tickets.c ~~   if (r == 0 && not_revoked(t->ident[e], session) != 0) ~~   if (0) ~~ ^e2e_tickets$
LIST
)
TARGETS="test_liverev test_metrics_audit test_acquire_race test_crl_dates test_keyperm test_platform_unit test_fork_rng test_watcher_fake test_passphrase test_keycost test_tickets hotssl_cli hotssl_verify_paths"

echo "=== mutants: scratch copy in $SCRATCH ==="
(cd "$ROOT" && git ls-files -co --exclude-standard -z | grep -zv '^build\|^\.deps' | xargs -0 cp --parents -t "$SCRATCH")
# The scratch copy has no .deps/: use the tree's local mbedTLS build if any.
mb=""
[ -f "$ROOT/.deps/mbedtls-3.6.6/.hotssl-stamp" ] && mb="-DHOTSSL_MBEDTLS=$ROOT/.deps/mbedtls-3.6.6"
# shellcheck disable=SC2086
cmake -S "$SCRATCH" -B "$SCRATCH/build" -DCMAKE_BUILD_TYPE=Debug -DHOTSSL_BUILD_EXAMPLES=OFF $mb >/dev/null
# shellcheck disable=SC2086
build() { (IFS=' '; cmake --build "$SCRATCH/build" -j"$JOBS" --target $TARGETS >"$SCRATCH/build.log" 2>&1); }
field() { echo "$1" | awk -F' ~~ ' -v n="$2" '{print $n}'; }
regex_all=$(echo "$MUTANTS" | awk -F' ~~ ' '{print $5}' | sort -u | paste -sd'|' -)
if ! build || ! ctest --test-dir "$SCRATCH/build" -R "$regex_all" --timeout 120 >"$SCRATCH/baseline.log" 2>&1; then
  echo "mutants: the unmutated tree does not build or pass the catching tests:"
  tail -n 30 "$SCRATCH/build.log" "$SCRATCH/baseline.log"
  exit 1
fi

survived=0
IFS='
'
for line in $MUTANTS; do
  name=$(field "$line" 1)
  if [ -n "${MUTANTS_ONLY:-}" ] && ! echo ",$MUTANTS_ONLY," | grep -q ",$name,"; then
    continue
  fi
  file=$(field "$line" 2)
  tests=$(field "$line" 5)
  limit=$(field "$line" 6)
  cp "$SCRATCH/$file" "$SCRATCH/$file.orig"
  if ! MUT_LINE="$line" python3 - "$SCRATCH/$file" <<'PY'
import os, sys
f = sys.argv[1]
parts = os.environ["MUT_LINE"].split(" ~~ ")
old, new = parts[2], parts[3]
s = open(f).read()
if s.count(old) != 1:
    sys.exit(1)
open(f, "w").write(s.replace(old, new))
PY
  then
    echo "mutant $name SURVIVED (does not apply: update tools/mutants.sh)"
    survived=$((survived + 1))
    mv "$SCRATCH/$file.orig" "$SCRATCH/$file"
    continue
  fi
  t0=$(date +%s)
  if ! build; then
    result="SURVIVED (the mutant does not build: fix the mutation)"
    survived=$((survived + 1))
  # timeout(1) kills the whole group (ctest and the test) at the limit: a
  # mutant that makes its test hang is caught there (ctest's own --timeout
  # does not override a test's TIMEOUT property).
  elif timeout -k 5 "${limit:-90}" ctest --test-dir "$SCRATCH/build" -R "$tests" >"$SCRATCH/$name.log" 2>&1; then
    result=SURVIVED
    survived=$((survived + 1))
  else
    result=caught
  fi
  echo "mutant $name $result ($tests, $(($(date +%s) - t0)) s)"
  mv "$SCRATCH/$file.orig" "$SCRATCH/$file"
  touch "$SCRATCH/$file"
done
[ "$survived" -eq 0 ] && echo "mutants: all caught" || echo "mutants: $survived SURVIVED"
exit $((survived != 0))
