# Shared by the bench scripts (sourced): a wrk rate and a criterion ceiling, each on its core.
# The server runs on core 0, the load on core 1; the ceilings run on core 0 with the server idle.

# The host's speed drifts by 5-15 % from one minute to the next (neighbours on the same
# hardware), so a ceiling measured minutes after a run can flatter or wrong it: the scripts
# follow each run at once by the ceiling it is judged against.
ceiling_seconds() { # criterion --exact name -> seconds per iteration (criterion's estimate)
  taskset -c 0 cargo bench --locked -p portcullis --bench crypto -- --warm-up-time 1 --measurement-time 4 --exact "$1" 2>/dev/null \
    | sed -nE 's/.*time: +\[[^ ]+ [^ ]+ ([0-9.]+) ([^ ]+).*/\1 \2/p' \
    | awk '{ f = ($2 == "ns") ? 1e-9 : ($2 == "ms") ? 1e-3 : ($2 == "s") ? 1 : 1e-6; printf "%.9f", $1 * f }'
}

rate() { # url body connections -> requests/s (keep-alive, 10 s, the form body with $AUTH)
  BODY="$2" AUTH="$AUTH" taskset -c 1 wrk -t1 -c"$3" -d10s -s bench/form-post.lua "$1" | awk '/Requests\/sec/ { print $2 }'
}
