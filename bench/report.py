"""Aggregate bench measurements: medians per (subject, workload), ratios to
the workload's reference subject measured in the same run; print a table and
write JSON. Usage: report.py RAW.tsv OUT.json"""
import json
import statistics
import sys

rows = {}
refs = {}
units = {}
with open(sys.argv[1]) as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 5:
            continue
        subject, workload, value, unit, ref = parts
        rows.setdefault((subject, workload), []).append(float(value))
        refs[workload] = ref
        units[(subject, workload)] = unit

out = []
for (subject, workload), values in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    med = statistics.median(values)
    ref_vals = rows.get((refs[workload], workload))
    ratio = med / statistics.median(ref_vals) if ref_vals else None
    out.append({"subject": subject, "workload": workload, "median": med,
                "unit": units[(subject, workload)], "runs": values,
                "reference": refs[workload], "ratio_to_reference": ratio})

print(f"{'subject':<34} {'workload':<22} {'median':>12} {'unit':<10} {'ratio':>7}  reference")
for r in out:
    ratio = f"{r['ratio_to_reference']:.2f}" if r["ratio_to_reference"] is not None else "-"
    print(f"{r['subject']:<34} {r['workload']:<22} {r['median']:>12.1f} {r['unit']:<10} "
          f"{ratio:>7}  {r['reference']}")
with open(sys.argv[2], "w") as f:
    json.dump(out, f, indent=1)
print(f"bench: results in {sys.argv[2]}")
