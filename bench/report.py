#!/usr/bin/env python3
"""bench/report.py - turn bench/run's raw figures into latest.json,
latest.md and latest.png (gnuplot).

    report.py RAW META OUTDIR

RAW holds "contestant key value" lines, META "key value" lines, both
written by bench/run. Ratios are to stunnel and to the direct path, and
for the WebSocket, CONNECT and node.js pairs to the ssltunneld TLS pair
too; the targets of issue #5 and those of the new transports are checked
on ratios of this one run.
"""
import json
import os
import subprocess
import sys
import tempfile

NAMES = {
    "ssltunneld": "ssltunneld pair",
    "ssltunneld-ws": "ssltunneld pair, WebSocket",
    "ssltunneld-connect": "ssltunneld pair, HTTP CONNECT",
    "ssltunneld-hc": "ssltunneld relayed pair (Hybrid Connections)",
    "node-wstunnel": "node-websocket-tunnel protocol (node.js)",
    "stunnel": "stunnel pair",
    "haproxy": "HAProxy TLS pair",
    "socat": "socat pair (OpenSSL)",
    "relay": "HAProxy relay, no TLS",
    "direct": "direct, no tunnel",
}
TLS_PEERS = ("stunnel", "haproxy", "socat")
# Compared with the ssltunneld TLS pair figure by figure.
TRANSPORTS = ("ssltunneld-ws", "ssltunneld-connect", "ssltunneld-hc",
              "node-wstunnel")
# Other processes busy on this many CPUs during a turn mark it as noisy.
FOREIGN_NOISE = 0.1
# Issue 14: memory per idle connection across both ends, userspace path.
MEM_TARGET_KIB = 20

# key, column title, unit, higher is better, decimals, chart label
FIGURES = [
    ("tput_p1_gbit", "throughput 1 stream", "Gbit/s", True, 2, "Gbit/s 1"),
    ("tput_p16_gbit", "throughput 16 streams", "Gbit/s", True, 2,
     "Gbit/s 16"),
    ("hs_c1_rate", "handshakes c=1", "conn/s", True, 0, "conn/s c=1"),
    ("hs_c32_rate", "handshakes c=32", "conn/s", True, 0, "conn/s c=32"),
    ("lat_p50_us", "latency p50", "µs", False, 1, "RTT p50"),
    ("lat_p99_us", "latency p99", "µs", False, 1, "RTT p99"),
    ("mem_per_conn_kib", "memory per idle conn", "KiB", False, 1,
     "KiB/idle conn"),
    ("mem_per_conn_hi_kib", "memory per idle conn at scale", "KiB", False, 1,
     "KiB/idle conn at scale"),
    ("cpu_s_per_gb", "CPU per GB", "CPU-s/GB", False, 2, "CPU-s/GB"),
]


def read_pairs(path, split_contestant):
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 2 if split_contestant else 1)
            if split_contestant and len(parts) == 3:
                out.setdefault(parts[0], {})[parts[1]] = parts[2]
            elif not split_contestant and len(parts) == 2:
                out[parts[0]] = parts[1]
    return out


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def derive(raw):
    """Per contestant: the measured keys as numbers (or strings) plus
    memory per connection and CPU per GB."""
    res = {}
    for name, kv in raw.items():
        r = {k: (num(v) if num(v) is not None else v) for k, v in kv.items()}
        for sfx in ("", "_hi"):
            ok = num(kv.get(f"idle{sfx}_ok"))
            base = num(kv.get("rss_base_kb"))
            held = num(kv.get(f"rss_idle{sfx}_kb"))
            if ok and base is not None and held is not None:
                r[f"mem_per_conn{sfx}_kib"] = (held - base) / ok
                pb = num(kv.get("pss_base_kb"))
                ph = num(kv.get(f"pss_idle{sfx}_kb"))
                if pb is not None and ph is not None:
                    r[f"pss_per_conn{sfx}_kib"] = (ph - pb) / ok
        cpu = [num(kv.get(f"tput_p{s}_cpu_s")) for s in (1, 16)]
        nbytes = [num(kv.get(f"tput_p{s}_bytes")) for s in (1, 16)]
        if name != "direct" and None not in cpu and None not in nbytes \
                and sum(nbytes) > 0:
            r["cpu_s_per_gb"] = sum(cpu) / (sum(nbytes) / 1e9)
            relay = [num(kv.get(f"tput_p{s}_relay_cpu_s")) for s in (1, 16)]
            if None not in relay:
                r["relay_cpu_s_per_gb"] = sum(relay) / (sum(nbytes) / 1e9)
                if sum(cpu) > 0:
                    r["relay_cpu_share"] = sum(relay) / sum(cpu)
        res[name] = r
    return res


def ratio(a, b):
    if a is None or b is None or b == 0 or isinstance(a, str) \
            or isinstance(b, str):
        return None
    return a / b


def fmt(v, dec):
    if v is None:
        return "—"
    return f"{v:,.{dec}f}"


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def targets(res):
    """Issue #5's targets, each as (text, ratio or None, goal, met)."""
    s = res.get("ssltunneld", {})
    out = []

    def add(text, mine, theirs, goal, higher):
        r = ratio(mine, theirs)
        met = None if r is None else (r >= goal if higher else r <= goal)
        out.append({"target": text, "ratio": r, "goal": goal, "met": met})

    for peer in ("stunnel", "haproxy"):
        add(f"CPU per GB ≤ 0.5× {peer}", s.get("cpu_s_per_gb"),
            res.get(peer, {}).get("cpu_s_per_gb"), 0.5, False)
    for key, label in (("tput_p1_gbit", "1 stream"),
                       ("tput_p16_gbit", "16 streams")):
        best = max((res.get(p, {}).get(key) for p in TLS_PEERS
                    if isinstance(res.get(p, {}).get(key), float)),
                   default=None)
        add(f"throughput {label} ≥ 1.2× best TLS peer", s.get(key), best,
            1.2, True)
    for key, label in (("hs_c1_rate", "c=1"), ("hs_c32_rate", "c=32")):
        add(f"handshakes {label} ≥ 1.5× stunnel", s.get(key),
            res.get("stunnel", {}).get(key), 1.5, True)
        add(f"handshakes {label} ≥ 1× HAProxy", s.get(key),
            res.get("haproxy", {}).get(key), 1.0, True)
    for peer in ("stunnel", "haproxy"):
        add(f"latency p99 ≤ {peer}", s.get("lat_p99_us"),
            res.get(peer, {}).get("lat_p99_us"), 1.0, False)
    add("memory per idle connection ≤ ¼ stunnel", s.get("mem_per_conn_kib"),
        res.get("stunnel", {}).get("mem_per_conn_kib"), 0.25, False)
    # Issue 14: an absolute figure, its ratio to the target.
    mem = s.get("mem_per_conn_hi_kib", s.get("mem_per_conn_kib"))
    add(f"memory per idle connection at scale ≤ {MEM_TARGET_KIB} KiB "
        f"(issue 14; ratio to {MEM_TARGET_KIB} KiB)", mem,
        float(MEM_TARGET_KIB), 1.0, False)
    return out


def resume_targets(res):
    """Session resumption (issue #14): the ssltunneld pair resuming
    against itself doing full handshakes and against stunnel resuming
    with its session cache."""
    s = res.get("ssltunneld", {})
    st = res.get("stunnel", {})
    out = []
    for c in ("1", "32"):
        mine = s.get(f"hs_resumed_c{c}_rate")
        for text, theirs, goal in (
                (f"resumed handshakes c={c} ≥ 2.5× full ones",
                 s.get(f"hs_c{c}_rate"), 2.5),
                (f"resumed handshakes c={c} ≥ 1.5× stunnel resumed",
                 st.get(f"hs_resumed_c{c}_rate"), 1.5)):
            r = ratio(mine, theirs)
            out.append({"target": text, "ratio": r, "goal": goal,
                        "met": None if r is None else r >= goal})
    return out


def resume_section(L, res, order, rtg):
    """Handshake rates without and with session resumption."""
    shown = [n for n in order
             if isinstance(res.get(n, {}).get("hs_resumed_c1_rate"), float)]
    if not shown:
        return
    L.append("## Handshakes with session resumption (issue #14)")
    L.append("")
    L.append("Each pair restarted with resumption on: ssltunneld's client "
             "role offers the latest session ticket of its server role "
             "(`session_tickets = true`; the figures above are with "
             "`false`), stunnel its session cache (`sessionResume = yes`; "
             "above: `no`). Per worker: each ssltunneld worker's first "
             "connection is a full handshake.")
    L.append("")
    L.append("| pair | full c=1 | resumed c=1 | × | full c=32 | "
             "resumed c=32 | × | resumed share |")
    L.append("|---|---|---|---|---|---|---|---|")
    for n in shown:
        r = res[n]
        share = r.get("hs_resumed_share")
        L.append("| " + " | ".join(
            [NAMES.get(n, n)] +
            [x for c in ("1", "32") for x in (
                fmt(r.get(f"hs_c{c}_rate"), 0),
                fmt(r.get(f"hs_resumed_c{c}_rate"), 0),
                fmt_ratio(ratio(r.get(f"hs_resumed_c{c}_rate"),
                                r.get(f"hs_c{c}_rate"))))] +
            [f"{100 * share:.1f}%" if isinstance(share, float) else "—"])
            + " |")
    L.append("")
    target_table(L, rtg)


def transport_targets(res):
    """The WebSocket pair against the TLS pair and the node.js pair."""
    s = res.get("ssltunneld", {})
    w = res.get("ssltunneld-ws", {})
    n = res.get("node-wstunnel", {})
    out = []

    def add(text, mine, theirs, goal, higher):
        r = ratio(mine, theirs)
        met = None if r is None else (r >= goal if higher else r <= goal)
        out.append({"target": text, "ratio": r, "goal": goal, "met": met})

    add("WebSocket pair: CPU per GB ≤ 1.15× TLS pair", w.get("cpu_s_per_gb"),
        s.get("cpu_s_per_gb"), 1.15, False)
    for key, label in (("tput_p1_gbit", "1 stream"),
                       ("tput_p16_gbit", "16 streams")):
        add(f"WebSocket pair: throughput {label} ≥ 0.9× TLS pair",
            w.get(key), s.get(key), 0.9, True)
    for key, label in (("tput_p1_gbit", "1 stream"),
                       ("tput_p16_gbit", "16 streams")):
        add(f"WebSocket pair: throughput {label} ≥ 10× node.js pair",
            w.get(key), n.get(key), 10.0, True)
    return out


def target_table(L, tg):
    L.append("| target | ratio | met |")
    L.append("|---|---|---|")
    for t in tg:
        met = "?" if t["met"] is None else ("yes" if t["met"] else "**no**")
        L.append(f"| {t['target']} | {fmt_ratio(t['ratio'])} | {met} |")
    L.append("")


def memory_table(L, meta, res, order):
    """Memory per idle connection at both counts, with how many of the
    connections asked for each pair held (a pair that could not hold
    them all is shown with what it reached, not with a made-up figure)."""
    lo, hi = meta.get("idle_conns", "?"), meta.get("idle_conns_hi", "0")
    L.append("## Memory per idle connection")
    L.append("")
    L.append(f"RSS (and PSS) of the whole pair with the connections held, "
             f"less the pair's with none, per connection held, in KiB; at "
             f"{lo} connections, and at {hi} for "
             f"{meta.get('idle_hi_only', '?')}. Target (issue 14): at most "
             f"{MEM_TARGET_KIB} KiB across both ends at scale (userspace "
             f"path).")
    L.append("")
    L.append(f"| contestant | RSS at {lo} | PSS at {lo} | held at {hi} | "
             f"RSS at {hi} | PSS at {hi} |")
    L.append("|---|---|---|---|---|---|")
    for name in order:
        r = res.get(name, {})
        if not isinstance(r.get("mem_per_conn_kib"), float):
            continue
        ok, want = r.get("idle_hi_ok"), r.get("idle_hi_wanted")
        if isinstance(want, float):
            held = f"{fmt(ok if isinstance(ok, float) else 0.0, 0)} of " \
                   f"{fmt(want, 0)}"
            failed = r.get("idle_hi_failed")
            if isinstance(failed, float) and failed > 0:
                held += f" ({fmt(failed, 0)} failed)"
        else:
            held = "not measured"
        L.append(f"| {NAMES.get(name, name)} | "
                 f"{fmt(r.get('mem_per_conn_kib'), 1)} | "
                 f"{fmt(r.get('pss_per_conn_kib'), 1)} | {held} | "
                 f"{fmt(r.get('mem_per_conn_hi_kib'), 1)} | "
                 f"{fmt(r.get('pss_per_conn_hi_kib'), 1)} |")
    L.append("")


def markdown(meta, res, order, tg, ttg, rtg):
    L = []
    L.append("# ssltunnel benchmark: latest run")
    L.append("")
    if meta.get("figures") == "handshakes":
        L.append("**Handshake figures only** (`BENCH_FIGURES=handshakes`): "
                 "throughput, latency, memory and CPU were not measured.")
        L.append("")
    L.append(f"{meta.get('date', '?')} · tree {meta.get('tree', '?')} · "
             f"{meta.get('nproc', '?')} CPUs "
             f"({meta.get('cpu', '?')}) · Linux {meta.get('kernel', '?')} · "
             f"idle CPUs: {meta.get('idle', '?')} · loopback")
    L.append("")
    busy = [num(meta.get(k)) for k in ("busy_before_pct", "busy_after_pct")]
    noisy = {n: res[n].get("foreign_cpus") for n in order
             if isinstance(res[n].get("foreign_cpus"), float)
             and res[n]["foreign_cpus"] >= FOREIGN_NOISE}
    if noisy or any(b is not None and b >= 10 for b in busy):
        L.append("**Warning: other work shared the machine** ("
                 f"{meta.get('busy_before_pct')}% of its CPUs busy before "
                 f"the run, {meta.get('busy_after_pct')}% after"
                 + ("; during the turns of " + ", ".join(
                     f"{n} ({v:.2f} CPUs)" for n, v in noisy.items())
                    if noisy else "")
                 + "): those figures are noisy; rows marked ⚠.")
        L.append("")
    L.append(f"**ssltunneld data path: {meta.get('datapath', '?')}** "
             f"(session {meta.get('ssltunneld_session', '?')}, "
             f"workers = {meta.get('ssltunneld_workers', '?')} per daemon)")
    L.append("")
    L.append("Every pair is a client-side process → mutual TLS 1.3, "
             "AES-128-GCM, ECDHE X25519, ECDSA P-256 certificates → a "
             "server-side process → backend, on 127.0.0.1. The WebSocket "
             "pairs carry the bytes as binary WebSocket messages inside "
             "the TLS stream (an HTTP upgrade of /tunnel first); the "
             "CONNECT pair's client asks for the backend with an HTTP "
             "CONNECT request first. Each cell: "
             "figure (ratio to stunnel / ratio to the direct path). "
             "↑ higher is better, ↓ lower is better.")
    L.append("")
    # A memory-only run (BENCH_MEMORY_ONLY) has no other column.
    cols = [f for f in FIGURES
            if any(isinstance(res.get(n, {}).get(f[0]), float) for n in order)]
    head = ["contestant"] + [f"{t} ({u}) {'↑' if hi else '↓'}"
                             for _, t, u, hi, _, _ in cols]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * len(head))
    st, di = res.get("stunnel", {}), res.get("direct", {})
    for name in order:
        r = res.get(name, {})
        cells = [NAMES.get(name, name) + (" ⚠" if name in noisy else "")]
        for key, _, _, _, dec, _ in cols:
            v = r.get(key)
            v = v if isinstance(v, float) else None
            if v is None:
                cells.append("—")
                continue
            cells.append(f"{fmt(v, dec)} ({fmt_ratio(ratio(v, st.get(key)))}"
                         f" / {fmt_ratio(ratio(v, di.get(key)))})")
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    L.append("![ratios to stunnel](latest.png)")
    L.append("")
    memory_table(L, meta, res, order)
    if meta.get("memory_only") == "1":
        tg = [t for t in tg if t["ratio"] is not None]
    path = "kernel path" if str(meta.get("datapath", "")).startswith("kTLS") \
        else "userspace path"
    L.append(f"## Targets (issue #5, ratios of this run, ssltunneld on its {path})")
    L.append("")
    target_table(L, tg)
    resume_section(L, res, order, rtg)
    shown = [n for n in TRANSPORTS if n in order]
    s = res.get("ssltunneld", {})
    if shown and s:
        L.append("## The new transports next to the ssltunneld TLS pair")
        L.append("")
        L.append("Each figure of the pair as a ratio to the same figure of "
                 "the ssltunneld TLS pair in this run (↑ higher is better, "
                 "↓ lower is better).")
        L.append("")
        head = ["contestant"] + [f"{t} {'↑' if hi else '↓'}"
                                 for _, t, _, hi, _, _ in FIGURES]
        L.append("| " + " | ".join(head) + " |")
        L.append("|" + "---|" * len(head))
        for name in shown:
            r = res.get(name, {})
            L.append("| " + " | ".join(
                [NAMES.get(name, name) + (" ⚠" if name in noisy else "")] +
                [fmt_ratio(ratio(r.get(k), s.get(k)))
                 for k, *_ in FIGURES]) + " |")
        L.append("")
    h = res.get("ssltunneld-hc")
    if h and "ssltunneld-hc" in order:
        w = res.get("ssltunneld-ws", {})
        L.append("## The relayed pair (Hybrid Connections) beside the "
                 "direct WebSocket pair")
        L.append("")
        L.append("Sender → relay → listener: three ssltunneld daemons, "
                 "each connection two WebSockets over TLS joined in the "
                 "relay (both legs decrypted, unmasked and encrypted "
                 "again there).")
        L.append("")
        L.append("| figure | relayed pair (3 processes) | of which the relay "
                 "| WebSocket pair (2 processes) | relayed / WebSocket |")
        L.append("|---|---|---|---|---|")
        for key, title, unit, _, dec in (
                ("tput_p1_gbit", "throughput 1 stream", "Gbit/s", True, 2),
                ("tput_p16_gbit", "throughput 16 streams", "Gbit/s", True, 2),
                ("cpu_s_per_gb", "CPU per GB", "CPU-s/GB", False, 2),
                ("hs_c1_rate", "handshakes c=1", "conn/s", True, 0),
                ("hs_c32_rate", "handshakes c=32", "conn/s", True, 0),
                ("lat_p50_us", "latency p50", "µs", False, 1),
                ("mem_per_conn_kib", "memory per idle conn", "KiB", False,
                 1)):
            mine = h.get(key)
            relay = "—"
            if key == "cpu_s_per_gb" and h.get("relay_cpu_s_per_gb") \
                    is not None:
                relay = (f"{fmt(h.get('relay_cpu_s_per_gb'), dec)} "
                         f"({100 * h.get('relay_cpu_share', 0):.0f}%)")
            L.append(f"| {title} ({unit}) | {fmt(mine, dec)} | {relay} | "
                     f"{fmt(w.get(key), dec)} | "
                     f"{fmt_ratio(ratio(mine, w.get(key)))} |")
        L.append("")
    if ttg and any(n in order for n in ("ssltunneld-ws", "node-wstunnel")):
        L.append("## Targets of the WebSocket transport (ratios of this run)")
        L.append("")
        target_table(L, ttg)
    L.append("## How it was measured")
    L.append("")
    measured = (
        f"* Throughput: iperf3 through the pair's first tunnel, "
        f"{meta.get('tput_secs')} s per run, bits received per second.\n"
        f"* Handshakes: `bench/loadgen` connection loops for "
        f"{meta.get('hs_secs')} s (connect, write 1 KiB, read it back, "
        f"close) to an echo backend; full handshakes, no resumption, but in "
        f"the resumption table.\n"
        f"* Latency: {meta.get('lat_count')} round trips of 64 bytes over "
        f"one established connection, after 200 warm-up ones.\n"
        f"* Memory: RSS summed over every process of the pair (master and "
        f"workers, all threads, socat's forks) with "
        f"{meta.get('idle_conns')} idle connections, and "
        f"{meta.get('idle_conns_hi')} for "
        f"{meta.get('idle_hi_only')} (each checked with the echo of its "
        f"own 16 bytes), less the RSS with none after a second of "
        f"connections that every process served, per connection held. "
        f"Kernel socket memory is not in RSS.\n"
        f"* CPU: user + system time of every process of the pair "
        f"(/proc/PID/stat, exited threads and reaped children included) "
        f"over both iperf3 runs, per 10⁹ bytes received.\n"
        + (f"* ssltunneld, WebSocket: `transport = \"websocket\"` on both "
           f"ends, the server's `connect` fixed to the backend; "
           f"HTTP CONNECT: the client's `destination` is the backend, "
           f"the server has `connect = \"dynamic\"` and an acl allowing "
           f"that one address. Same workers, ciphers and certificates as "
           f"the TLS pair.\n"
           if any(n in order for n in ("ssltunneld-ws", "ssltunneld-connect"))
           else "") +
        (f"* Relayed pair: a sender (`transport = \"relay\"`), a "
         f"relay (`role = \"relay\"`, one relay tunnel per port, all "
         f"its workers accepting) and a listener (`role = \"listener\"`, a "
         f"control channel per worker), SAS tokens, the same ciphers and "
         f"certificates; its CPU is that of all three daemons, the "
         f"relay's share beside it.\n"
         if "ssltunneld-hc" in order else "") +
        (f"* node.js pair: `bench/node-wstunnel.js`, one server and one "
         f"client process, a minimal equivalent of node-websocket-tunnel "
         f"(client: its lib/tunnel.js, server: its server.js) on the npm "
         f"`websocket` package it is built on, with mutual TLS instead "
         f"of Basic authentication. Like the original it has no flow "
         f"control: in a bulk transfer its client reads from iperf3 as "
         f"fast as it can and queues what the TLS socket cannot take yet "
         f"(hundreds of MB of RSS during the throughput runs), so the "
         f"work done on data still queued when iperf3 stops (reading, "
         f"framing, masking) counts in its CPU per GB but not in its "
         f"bytes.\n" if "node-wstunnel" in order else "") +
        f"* Negotiated by each server side with an OpenSSL client: " +
        "; ".join(f"{n}: {res[n].get('tls')}" for n in order
                  if isinstance(res.get(n, {}).get('tls'), str)) + ".")
    if meta.get("memory_only") == "1":
        # BENCH_MEMORY_ONLY: only what was measured is described.
        measured = "\n".join(b for b in measured.split("\n")
                              if not b.startswith(("* Throughput",
                                                   "* Handshakes",
                                                   "* Latency", "* CPU")))
    L.append(measured)
    L.append("")
    L.append("Versions: " + ", ".join(
        meta[k] for k in sorted(meta) if k.startswith("version_")) +
        f". Whole run: {meta.get('elapsed_s', '?')} s.")
    L.append("")
    L.append("Run it again with `bench/run` (or `make bench`); "
             "`bench/run -h` lists its settings.")
    L.append("")
    return "\n".join(L)


# One distinct colour per contestant (gnuplot's own cycle has eight).
COLORS = ("#9400d3", "#009e73", "#56b4e9", "#e69f00", "#f0e442", "#0072b2",
          "#e51e10", "#202020", "#c080ff", "#8c564b")


def chart(res, order, outdir):
    st = res.get("stunnel", {})
    if not st:
        print("report.py: no stunnel figures to scale to; no chart",
              file=sys.stderr)
        return
    names = order
    with tempfile.TemporaryDirectory() as tmp:
        dat = os.path.join(tmp, "ratios.dat")
        with open(dat, "w") as f:
            f.write("figure " + " ".join(f'"{NAMES.get(n, n)}"'
                                         for n in names) + "\n")
            for key, _, _, hi, _, label in FIGURES:
                row = [f'"{label} {"↑" if hi else "↓"}"']
                for n in names:
                    r = ratio(res.get(n, {}).get(key), st.get(key))
                    row.append("?" if r is None or r <= 0 else f"{r:.4f}")
                f.write(" ".join(row) + "\n")
        plots = ", ".join(
            (f"'{dat}'" if i == 0 else "''") +
            f" using {i + 2}" + (":xtic(1)" if i == 0 else "") +
            f" title columnheader lc rgb '{COLORS[i % len(COLORS)]}'"
            for i in range(len(names)))
        gp = f"""
set terminal pngcairo size 1600,750 font "sans,10"
set output '{os.path.join(outdir, "latest.png")}'
set title "Side by side on loopback, each figure relative to the stunnel pair (= 1)"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set yrange [0.0078125:128]
set ytics ("1/128" 0.0078125, "1/64" 0.015625, "1/32" 0.03125, "1/16" 0.0625, "1/8" 0.125, "1/4" 0.25, "1/2" 0.5, "1" 1, "2" 2, "4" 4, "8" 8, "16" 16, "32" 32, "64" 64, "128" 128)
set ylabel "ratio to stunnel (log scale; ↑ higher is better, ↓ lower is better)"
set grid ytics
set key outside right top
set xtics nomirror
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5
plot {plots}
"""
        subprocess.run(["gnuplot"], input=gp, text=True, check=True)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: report.py RAW META OUTDIR")
    raw = read_pairs(sys.argv[1], True)
    meta = read_pairs(sys.argv[2], False)
    outdir = sys.argv[3]
    order = [c for c in meta.get("contestants", "").split() if c in raw]
    res = derive(raw)
    tg = targets(res)
    ttg = transport_targets(res)
    rtg = resume_targets(res)
    st, di = res.get("stunnel", {}), res.get("direct", {})
    doc = {
        "meta": meta,
        "figures": [{"key": k, "title": t, "unit": u,
                     "higher_is_better": hi} for k, t, u, hi, *_ in FIGURES],
        "results": res,
        "ratio_to_stunnel": {n: {k: ratio(res[n].get(k), st.get(k))
                                 for k, *_ in FIGURES} for n in order},
        "ratio_to_direct": {n: {k: ratio(res[n].get(k), di.get(k))
                                for k, *_ in FIGURES} for n in order},
        "targets": tg,
        "ratio_to_ssltunneld": {n: {k: ratio(res[n].get(k),
                                             res.get("ssltunneld", {}).get(k))
                                    for k, *_ in FIGURES}
                                for n in order if n in TRANSPORTS},
        "transport_targets": ttg,
        "resume_targets": rtg,
    }
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(outdir, "latest.md"), "w") as f:
        f.write(markdown(meta, res, order, tg, ttg, rtg))
    chart(res, order, outdir)


if __name__ == "__main__":
    main()
