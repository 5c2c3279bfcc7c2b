#!/bin/sh
# scenarios.sh - the scenario suite (tests/scenario, issue 13) is what it
# says it is: every script listed in SCENARIO_TESTS numbers its scenarios
# in its header comment ("#  N. ..."), 1, 2, 3... with none skipped or
# repeated, and the suite holds at least SCENARIO_MIN (60) of them. Prints
# the count per script.
#
# Runs under automake's test harness (top_srcdir exported).
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
min=${SCENARIO_MIN:-60}
mk=$top_srcdir/tests/scenario/Makefile.inc
[ -f "$mk" ] || { echo "scenarios.sh: $mk is missing" >&2; exit 99; }

# The scripts SCENARIO_TESTS lists (a backslash-continued assignment).
scripts=$(awk '/^SCENARIO_TESTS *=/ { on = 1 }
	on { for (i = 1; i <= NF; i++) if ($i ~ /\.sh$/) print $i
	     if ($NF != "\\") on = 0 }' "$mk")
[ -n "$scripts" ] || { echo "FAIL: SCENARIO_TESTS lists no script in $mk"; exit 1; }

total=0 bad=0
for s in $scripts; do
	f=$top_srcdir/$s
	if [ ! -f "$f" ]; then
		echo "FAIL: $s is listed in SCENARIO_TESTS but missing"
		bad=1
		continue
	fi
	# the header: the comment lines from line 2 to the first other line
	nums=$(awk 'NR == 1 { next } !/^#/ { exit }
		/^# +[0-9]+\. / { sub(/^# +/, ""); sub(/\..*/, ""); print }' "$f")
	n=0
	for k in $nums; do
		n=$((n + 1))
		if [ "$k" != "$n" ]; then
			echo "FAIL: $s: scenario $k where $n was due (numbered 1, 2, 3... in the header)"
			bad=1
			break
		fi
	done
	if [ "$n" = 0 ]; then
		echo "FAIL: $s: no numbered scenario in its header comment"
		bad=1
	fi
	printf '%4d  %s\n' "$n" "$s"
	total=$((total + n))
done
printf '%4d  scenarios in all (at least %d wanted)\n' "$total" "$min"
if [ "$total" -lt "$min" ]; then
	echo "FAIL: $total scenarios, fewer than $min"
	bad=1
fi
exit "$bad"
