"""Aggregate bench measurements: medians per (subject, workload), ratios to
the workload's reference subject measured in the same run and to the best
peer; print a table and write JSON. Usage: report.py RAW.tsv OUT.json

Input lines (tab-separated): SUBJECT WORKLOAD VALUE UNIT REFERENCE, and
optionally CPU CPU_UNIT (the subject's own CPU time per unit of work).
A unit ending in "/s" is a rate (higher is better); any other unit (us,
bytes, ms/GiB) is a cost (lower is better). "Best peer" is the best median
among the other proxies: not the reference, not g3c's own daemons (proxyd,
fcgend, iplocd subjects) and not the haproxy TCP relay (a ceiling, not a
peer)."""
import json
import math
import statistics
import sys

OURS = ("proxyd", "fcgend", "iplocd")


def is_peer(subject, ref):
    return subject != ref and not subject.startswith(OURS) and not subject.startswith("haproxy")


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else None


rows, cpus, refs, units, cpu_units = {}, {}, {}, {}, {}
with open(sys.argv[1]) as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) not in (5, 7):
            continue
        subject, workload, value, unit, ref = parts[:5]
        try:
            rows.setdefault((subject, workload), []).append(float(value))
        except ValueError:
            continue
        refs[workload] = ref
        units[(subject, workload)] = unit
        if len(parts) == 7:
            try:
                cpus.setdefault((subject, workload), []).append(float(parts[5]))
            except ValueError:
                pass
            cpu_units[(subject, workload)] = parts[6]

medians = {k: median(v) for k, v in rows.items()}
out = []
for (subject, workload), values in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    med = medians[(subject, workload)]
    unit = units[(subject, workload)]
    higher = unit.endswith("/s")
    ref = refs[workload]
    ref_med = medians.get((ref, workload))
    ratio = med / ref_med if ref_med and med is not None else None
    peers = [(m, s) for (s, w), m in medians.items()
             if w == workload and m is not None and is_peer(s, ref) and s != subject]
    best = (max if higher else min)(peers) if peers else None
    peer_ratio = med / best[0] if best and best[0] and med is not None else None
    cpu = median(cpus.get((subject, workload), []))
    out.append({"subject": subject, "workload": workload, "median": med, "unit": unit,
                "runs": values, "reference": ref, "ratio_to_reference": ratio,
                "best_peer": best[1] if best else None, "ratio_to_best_peer": peer_ratio,
                "cpu_per_unit": cpu, "cpu_unit": cpu_units.get((subject, workload)),
                "cpu_runs": cpus.get((subject, workload), [])})


def fmt(v, spec):
    return format(v, spec) if v is not None else "-"


print(f"{'subject':<26} {'workload':<24} {'median':>12} {'unit':<9} {'/ref':>6} "
      f"{'/peer':>6} {'cpu/unit':>10} {'':<8} reference, best peer")
for r in out:
    print(f"{r['subject']:<26} {r['workload']:<24} {fmt(r['median'], '12.1f')} {r['unit']:<9} "
          f"{fmt(r['ratio_to_reference'], '6.2f')} {fmt(r['ratio_to_best_peer'], '6.2f')} "
          f"{fmt(r['cpu_per_unit'], '10.2f')} {r['cpu_unit'] or '':<8} "
          f"{r['reference']}, {r['best_peer'] or '-'}")
with open(sys.argv[2], "w") as f:
    json.dump(out, f, indent=1)
print(f"bench: results in {sys.argv[2]}")
