#!/usr/bin/env python3
"""Precision / recall / F1 of contactdex's dedup pairs against planted labels.

    python3 scripts/eval_dedup.py PAIRS.csv LABELS.csv [--clusters=CLUSTERS.csv] [--thresholds=0.5,0.6,...]

PAIRS.csv: `id_a,id_b,score` from `contactdex dedup --out PAIRS.csv --min-score 0.05`.
LABELS.csv: `id_a,id_b,kind,is_duplicate` from `scripts/gen_contacts.py --labels`.
True duplicates are the connected components of the is_duplicate=1 pairs (a contact
duplicated twice makes three pairs). Any predicted pair outside them is a false positive,
labelled hard negative or not. Also prints recall per planted kind at the default threshold
and blocking recall (true pairs that reached scoring at all, with --min-score 0).
"""
import csv
import sys
from collections import defaultdict


def find(parent, x):
    while parent.setdefault(x, x) != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__)
        sys.exit(2)
    thresholds = [0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99]
    for a in sys.argv[1:]:
        if a.startswith("--thresholds="):
            thresholds = [float(x) for x in a.split("=", 1)[1].split(",")]
    default_t = 0.9
    pairs = []
    with open(args[0], newline="") as f:
        for row in csv.DictReader(f):
            a, b = sorted((row["id_a"], row["id_b"]))
            pairs.append((a, b, float(row["score"])))
    parent = {}
    kinds = {}
    with open(args[1], newline="") as f:
        for row in csv.DictReader(f):
            a, b = sorted((row["id_a"], row["id_b"]))
            if row["is_duplicate"] == "1":
                parent[find(parent, a)] = find(parent, b)
                kinds[(a, b)] = row["kind"]
    comps = defaultdict(list)
    for x in list(parent):
        comps[find(parent, x)].append(x)
    truth = set()
    for members in comps.values():
        members.sort()
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                truth.add((members[i], members[j]))
    best = {}
    for a, b, s in pairs:
        best[(a, b)] = max(s, best.get((a, b), 0.0))
    print(f"true duplicate pairs: {len(truth)}; scored pairs in file: {len(best)}")
    print(f"blocking/scoring recall (true pairs present in the file at any score): "
          f"{sum(1 for p in truth if p in best) / max(1, len(truth)):.4f}")
    print("| threshold | predicted | TP | FP | FN | precision | recall | F1 |")
    print("|---|---|---|---|---|---|---|---|")
    for t in thresholds:
        pred = {p for p, s in best.items() if s >= t}
        tp = len(pred & truth)
        fp = len(pred) - tp
        fn = len(truth) - tp
        prec = tp / len(pred) if pred else 1.0
        rec = tp / len(truth) if truth else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        mark = " (default)" if abs(t - default_t) < 1e-9 else ""
        print(f"| {t}{mark} | {len(pred)} | {tp} | {fp} | {fn} | {prec:.4f} | {rec:.4f} | {f1:.4f} |")
    clusters_file = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--clusters=")), None)
    if clusters_file:
        members = defaultdict(list)
        with open(clusters_file, newline="") as f:
            for row in csv.DictReader(f):
                members[row["cluster_id"]].append(row["id"])
        pred = set()
        for ms in members.values():
            ms.sort()
            for i in range(len(ms)):
                for j in range(i + 1, len(ms)):
                    pred.add((ms[i], ms[j]))
        tp = len(pred & truth)
        prec = tp / len(pred) if pred else 1.0
        rec = tp / len(truth) if truth else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        print(f"\nclusters at the default threshold ({len(members)} clusters, every pair inside one counts): "
              f"predicted {len(pred)}, TP {tp}, FP {len(pred) - tp}, FN {len(truth) - tp}, "
              f"precision {prec:.4f}, recall {rec:.4f}, F1 {f1:.4f}")
    by_kind = defaultdict(lambda: [0, 0])
    for p, k in kinds.items():
        by_kind[k][1] += 1
        if best.get(p, 0.0) >= default_t:
            by_kind[k][0] += 1
    print("\nrecall by planted kind at the default threshold:")
    for k, (hit, n) in sorted(by_kind.items()):
        print(f"  {k}: {hit}/{n} = {hit / n:.3f}")


if __name__ == "__main__":
    main()
