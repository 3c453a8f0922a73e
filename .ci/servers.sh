# Sourced by the CI scripts that need a running server: `start_server` starts
# `licet server` on SQLite in a fresh directory with the example catalogs and sets
# $work (removed on exit), $server (its URL) and $token (the bootstrap admin token).
# Processes started with `track` are stopped on exit.

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
track() { pids+=("$1"); }

start_server() {
  cargo build --quiet --locked -p licet
  local port=$((20000 + RANDOM % 20000))
  target/debug/licet server --data-dir "$work/data" --listen "127.0.0.1:$port" \
    --catalog-dir examples/catalogs >"$work/stdout" 2>"$work/stderr" &
  track $!
  for _ in $(seq 100); do
    grep -q "listening on" "$work/stdout" 2>/dev/null && break
    sleep 0.1
  done
  token=$(grep -o 'lct_admin_[0-9a-f]*' "$work/stdout" | head -n1)
  case "$token" in
    lct_admin_*) ;;
    *) echo "the server did not print an admin token"; cat "$work/stderr"; exit 1 ;;
  esac
  server="http://127.0.0.1:$port"
}

# `field NAME` prints a top-level field of the JSON document on stdin.
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
