#!/usr/bin/env python3
"""Sanity checks for a file made by gen_contacts.py (standard library only).

Usage:
    python3 scripts/check_contacts.py FILE.ndjson [--labels labels.csv] [--queries q.txt]
                                      [--metadata PhoneNumberMetadata.xml] [--max-errors 20]

Checks: every line is JSON in canonical compact form; ids unique and legal; field types match the
contract (custom fields against index-config/default.toml's definitions); timestamps ordered; every
phone is valid per libphonenumber metadata (by default the PhoneNumberMetadata.xml shipped with the
`phonenumber` crate in ~/.cargo/registry, i.e. what contactdex itself uses): numbers with a country
code must be valid in that country, numbers without one valid in at least one of the generated
regions; phones (international forms) and e-mails (lower-cased, gmail dots/+tag removed) shared by
two contacts must be explained by a labelled pair or cluster; labels refer to existing ids, earlier
first, with the evidence their kind implies. Prints statistics; exit code 1 on any failure.
"""

import argparse
import collections
import csv
import glob
import json
import os
import re
import sys
import unicodedata
import xml.etree.ElementTree as ET

ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DATE_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
SOURCES = {"whatsapp", "instagram", "email", "messenger", "telegram", "webchat", "import", "api"}
STATUSES = {"active", "inactive", "blocked"}
TIERS = {"Bronze", "Silver", "Gold", "Premium"}
PRODUCTS = {"Product A", "Product B", "Product C", "Product D", "Product E"}
GEN_REGIONS = ["BR", "US", "GB", "DE", "ES", "MX", "AR", "FR", "RU", "CN", "JP", "IT", "PL", "SA", "AE", "EG"]
DUP_KINDS = {"channel_email_only", "channel_phone_only", "name_typo", "nickname", "accents_dropped", "name_swapped",
             "phone_reformatted", "email_variant", "reimport", "same_cluster"}
HARD_KINDS = {"namesake", "family_shared_phone", "colleague_shared_domain"}


def find_metadata():
    pats = [os.path.expanduser("~/.cargo/registry/src/*/phonenumber-*/assets/PhoneNumberMetadata.xml"),
            "/usr/local/cargo/registry/src/*/phonenumber-*/assets/PhoneNumberMetadata.xml"]
    for p in pats:
        hits = sorted(glob.glob(p))
        if hits:
            return hits[-1]
    return None


class Meta:
    def __init__(self, path):
        root = ET.parse(path).getroot()
        self.by_cc = collections.defaultdict(list)
        self.region = {}
        for t in root.iter("territory"):
            rid, cc = t.get("id"), t.get("countryCode")
            pats = []
            for typ in ("fixedLine", "mobile"):
                e = t.find(typ)
                if e is not None and e.find("nationalNumberPattern") is not None:
                    pats.append(re.compile(re.sub(r"\s+", "", e.find("nationalNumberPattern").text)))
            npfp = t.get("nationalPrefixForParsing")
            info = {"id": rid, "cc": cc, "pats": pats, "np": t.get("nationalPrefix"),
                    "npfp": re.compile(re.sub(r"\s+", "", npfp)) if npfp else None}
            self.by_cc[cc].append(info)
            self.region[rid] = info

    @staticmethod
    def ok(info, nsn):
        return any(p.fullmatch(nsn) for p in info["pats"])

    def intl(self, digits):
        """digits after '+' / '00' -> (cc, nsn) if valid, else None."""
        for k in (1, 2, 3):
            cc = digits[:k]
            if cc in self.by_cc:
                nsn = digits[k:]
                if any(self.ok(info, nsn) for info in self.by_cc[cc]):
                    return cc, nsn
                return None
        return None

    def national(self, digits):
        """digits without a country code -> [(cc, nsn)] valid in some generated region."""
        out = []
        for rid in GEN_REGIONS:
            info = self.region[rid]
            cands = [digits]
            if info["npfp"] is not None:
                m = info["npfp"].match(digits)
                if m and m.end() > 0:
                    cands.append(digits[m.end():])
            if info["np"] and digits.startswith(info["np"]):
                cands.append(digits[len(info["np"]):])
            if digits.startswith(info["cc"]):
                cands.append(digits[len(info["cc"]):])
            for c in cands:
                if self.ok(info, c):
                    out.append((info["cc"], c))
                    break
        return out


def phone_digits(s):
    out = []
    for c in s:
        if c.isdigit():
            out.append(str(unicodedata.digit(c)))
    return "".join(out)


def phone_shape(s):
    t = s.strip()
    if t.startswith("+"):
        return "e164" if re.fullmatch(r"\+\d+", t) else "intl_formatted"
    if t.startswith("00"):
        return "intl_00"
    if re.fullmatch(r"\d+", t):
        return "national_digits"
    if any(not c.isascii() for c in t):
        return "non_ascii_digits"
    return "national_formatted"


def canon_email(e):
    local, _, dom = e.lower().partition("@")
    if dom in ("gmail.com", "googlemail.com"):
        local = local.split("+", 1)[0].replace(".", "")
    return local + "@" + dom


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--labels")
    ap.add_argument("--queries")
    ap.add_argument("--metadata", help="PhoneNumberMetadata.xml (default: from the phonenumber crate in ~/.cargo)")
    ap.add_argument("--max-errors", type=int, default=20)
    args = ap.parse_args()

    errors = collections.Counter()
    examples = collections.defaultdict(list)

    def err(kind, msg):
        errors[kind] += 1
        if len(examples[kind]) < 3:
            examples[kind].append(msg)

    mpath = args.metadata or find_metadata()
    meta = Meta(mpath) if mpath and os.path.exists(mpath) else None
    if meta is None:
        print("warning: no PhoneNumberMetadata.xml found; phone validity not checked", file=sys.stderr)

    ids = {}
    names = {}
    phone_owner = collections.defaultdict(set)
    email_owner = collections.defaultdict(set)
    rec_phone_keys = {}
    rec_emails = {}
    rec_company = {}
    shapes = collections.Counter()
    stats = collections.Counter()
    n = 0
    with open(args.file, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            n += 1
            try:
                o = json.loads(line)
            except ValueError as e:
                err("bad_json", "line %d: %s" % (lineno, e))
                continue
            if json.dumps(o, ensure_ascii=False, separators=(",", ":")) != line:
                err("non_canonical_json", "line %d" % lineno)
            rid = o.get("id")
            if not isinstance(rid, str) or not ID_RE.match(rid):
                err("bad_id", "line %d: %r" % (lineno, rid))
                continue
            if rid in ids:
                err("dup_id", rid)
            ids[rid] = lineno
            extra = set(o) - {"id", "name", "phones", "emails", "tags", "custom", "source", "status", "created_at",
                              "created_by", "last_interaction_at", "photo_url"}
            if extra:
                err("unknown_key", "%s: %s" % (rid, extra))
            nm = o.get("name")
            if nm is not None:
                if not isinstance(nm, str) or not nm.strip():
                    err("bad_name", rid)
                names[rid] = nm
                stats["with_name"] += 1
            ph = o.get("phones", [])
            if not isinstance(ph, list) or not all(isinstance(x, str) for x in ph):
                err("bad_phones", rid)
                ph = []
            if ph:
                stats["with_phone"] += 1
                stats["phones"] += len(ph)
            keys = set()
            for p in ph:
                shapes[phone_shape(p)] += 1
                d = phone_digits(p)
                if len(d) < 5:
                    err("phone_too_short", "%s %r" % (rid, p))
                    continue
                if meta is None:
                    continue
                t = "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in p.strip())
                if t.startswith("+") or t.startswith("00"):
                    got = meta.intl(d[2:] if t.startswith("00") else d)
                    if not got:
                        err("phone_invalid_intl", "%s %r" % (rid, p))
                    else:
                        stats["phone_valid_intl"] += 1
                        keys.add(got)
                        phone_owner[got].add(rid)
                else:
                    got = meta.national(d)
                    if not got:
                        err("phone_invalid_national", "%s %r" % (rid, p))
                    else:
                        stats["phone_valid_national"] += 1
                        if got[0][0] == "55":
                            stats["phone_national_br"] += 1
                        keys.update(got)
            rec_phone_keys[rid] = keys
            em = o.get("emails", [])
            if not isinstance(em, list) or not all(isinstance(x, str) for x in em):
                err("bad_emails", rid)
                em = []
            if em:
                stats["with_email"] += 1
                stats["emails"] += len(em)
            ce = set()
            for e in em:
                local, at, dom = e.partition("@")
                if not at or not local or "." not in dom or " " in e:
                    err("bad_email", "%s %r" % (rid, e))
                if e != e.lower():
                    stats["email_mixed_case"] += 1
                c = canon_email(e)
                ce.add(c)
                email_owner[c].add(rid)
            rec_emails[rid] = ce
            tags = o.get("tags", [])
            if not isinstance(tags, list) or not all(isinstance(x, str) and x for x in tags) or len(tags) > 3:
                err("bad_tags", rid)
            for t in tags:
                stats["tag:" + t] += 1
            cu = o.get("custom", {})
            if not isinstance(cu, dict):
                err("bad_custom", rid)
                cu = {}
            for k, v in cu.items():
                stats["custom:" + k] += 1
                ok = {"customer_tier": lambda v: v in TIERS,
                      "lifetime_value": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
                      "contract_renewal_date": lambda v: isinstance(v, str) and bool(DATE_RE.match(v)),
                      "newsletter": lambda v: isinstance(v, bool),
                      "preferred_products": lambda v: isinstance(v, list) and v and set(v) <= PRODUCTS
                      and len(set(v)) == len(v),
                      "company": lambda v: isinstance(v, str) and bool(v),
                      "city": lambda v: isinstance(v, str) and bool(v)}.get(k)
                if ok is None:
                    err("unknown_custom_field", "%s %s" % (rid, k))
                elif not ok(v):
                    err("bad_custom_value", "%s %s=%r" % (rid, k, v))
            rec_company[rid] = cu.get("company")
            if o.get("source") is not None and o["source"] not in SOURCES:
                err("bad_source", rid)
            stats["source:" + str(o.get("source"))] += 1
            if o.get("status") is not None and o["status"] not in STATUSES:
                err("bad_status", rid)
            stats["status:" + str(o.get("status"))] += 1
            ca, li = o.get("created_at"), o.get("last_interaction_at")
            for t in (ca, li):
                if t is not None and not TS_RE.match(t):
                    err("bad_timestamp", "%s %r" % (rid, t))
            if ca and not ("2022-01-01" <= ca < "2026-01-01"):
                err("created_at_range", "%s %s" % (rid, ca))
            if ca and li and li < ca:
                err("last_before_created", rid)
            if not isinstance(o.get("created_by", ""), str):
                err("bad_created_by", rid)

    # labels -> union-find of planted groups
    parent = {}

    def find(x):
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    labelled = set()
    lab_kinds = collections.Counter()
    if args.labels:
        with open(args.labels, encoding="utf-8") as f:
            rd = csv.reader(f)
            header = next(rd)
            if header != ["id_a", "id_b", "kind", "is_duplicate"]:
                err("labels_header", str(header))
            for row in rd:
                if len(row) != 4:
                    err("labels_row", str(row))
                    continue
                a, b, kind, dup = row
                lab_kinds[(kind, dup)] += 1
                if a not in ids or b not in ids:
                    err("label_unknown_id", str(row))
                    continue
                if ids[a] >= ids[b]:
                    err("label_order", str(row))
                if dup not in ("0", "1") or (dup == "1") != (kind in DUP_KINDS) or kind not in DUP_KINDS | HARD_KINDS:
                    err("label_kind", str(row))
                union(a, b)
                labelled.add((a, b))
                shares_phone = bool(rec_phone_keys.get(a, set()) & rec_phone_keys.get(b, set()))
                shares_email = bool(rec_emails.get(a, set()) & rec_emails.get(b, set()))
                if dup == "1" and kind != "same_cluster" and not (shares_phone or shares_email):
                    # phone-only evidence may be in national form in another region's reading; count only
                    stats["dup_without_detected_shared_point"] += 1
                if kind == "namesake" and names.get(a, "").strip().lower() != names.get(b, "").strip().lower():
                    stats["namesake_name_differs(messy display name)"] += 1
                if kind == "family_shared_phone" and not shares_phone:
                    err("family_without_shared_phone", str(row))
                if kind == "colleague_shared_domain":
                    da = {e.split("@")[1] for e in rec_emails.get(a, ())}
                    db = {e.split("@")[1] for e in rec_emails.get(b, ())}
                    if not (da & db) or rec_company.get(a) != rec_company.get(b):
                        err("colleague_without_shared_domain", str(row))

    # shared contact points must come from planted pairs/clusters
    if args.labels:
        for what, owner in (("phone(intl)", phone_owner), ("email", email_owner)):
            bad = 0
            for key, rids in owner.items():
                if len(rids) > 1:
                    roots = {find(r) for r in rids}
                    if len(roots) > 1:
                        bad += 1
                        if bad <= 3:
                            examples["unexplained_shared_" + what].append("%s: %s" % (key, sorted(rids)[:5]))
            if bad:
                errors["unexplained_shared_" + what] += bad

    # queries
    qstats = collections.Counter()
    if args.queries:
        with open(args.queries, encoding="utf-8") as f:
            qs = f.read().split("\n")
        if qs and qs[-1] == "":
            qs.pop()
        for q in qs:
            if not q.strip() or "\t" in q or q != q.strip():
                err("bad_query", repr(q))
            elif "@" in q:
                qstats["email"] += 1
            elif re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", q):
                qstats["email_domain"] += 1
            elif q.startswith("+"):
                qstats["phone_with_cc"] += 1
            elif re.fullmatch(r"\d{4}", q):
                qstats["last4"] += 1
            elif re.fullmatch(r"[\d ()./-]+", q):
                qstats["phone_national"] += 1
            elif re.search(r"\d", q):
                qstats["name_plus_digits"] += 1
            elif " " in q:
                qstats["multi_word_text"] += 1
            else:
                qstats["single_word_text"] += 1
        qstats["total"] = len(qs)

    pct = lambda x: "%.1f%%" % (100.0 * x / max(1, n))
    print("rows %d, unique ids %d" % (n, len(ids)))
    print("with name %s, with phone %s (%.2f each), with e-mail %s (%.2f each), mixed-case e-mails %d" % (
        pct(stats["with_name"]), pct(stats["with_phone"]), stats["phones"] / max(1, stats["with_phone"]),
        pct(stats["with_email"]), stats["emails"] / max(1, stats["with_email"]), stats["email_mixed_case"]))
    print("phone shapes: " + ", ".join("%s %d" % kv for kv in shapes.most_common()))
    if meta:
        print("phones valid: international %d, national %d (of which read as BR %d); metadata %s" % (
            stats["phone_valid_intl"], stats["phone_valid_national"], stats["phone_national_br"], mpath))
    print("sources: " + ", ".join("%s %s" % (k[7:], pct(v)) for k, v in sorted(stats.items()) if k.startswith("source:")))
    print("status: " + ", ".join("%s %s" % (k[7:], pct(v)) for k, v in sorted(stats.items()) if k.startswith("status:")))
    print("custom: " + ", ".join("%s %s" % (k[7:], pct(v)) for k, v in sorted(stats.items()) if k.startswith("custom:")))
    print("tags: " + ", ".join("%s %s" % (k[4:], pct(v)) for k, v in sorted(stats.items(), key=lambda kv: -kv[1])
                                if k.startswith("tag:")))
    if args.labels:
        print("labels: " + ", ".join("%s/%s %d" % (k, d, v) for (k, d), v in sorted(lab_kinds.items())))
        for k in ("dup_without_detected_shared_point", "namesake_name_differs(messy display name)"):
            if stats[k]:
                print("  note: %s: %d" % (k, stats[k]))
    if args.queries:
        print("queries: " + ", ".join("%s %d" % kv for kv in qstats.most_common()))
    if errors:
        print("FAILED:")
        for k, v in errors.most_common():
            print("  %s: %d  e.g. %s" % (k, v, "; ".join(examples[k][:3])))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
