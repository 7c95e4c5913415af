#!/usr/bin/env python3
"""Derive gitops-core's compact Kubernetes schema table from the shared facts file.

Input:  ../shared/data/k8s-merge-keys.json (Kubernetes OpenAPI v1.36.0, lists and type graph)
Output: gitops-core/data/k8s-schema.json

The engine needs three things from the OpenAPI document and nothing else:
  * which (group, version, kind) maps to which definition, and which kinds are cluster-scoped;
  * the non-scalar fields of each definition (to find nested types such as Quantity);
  * strategic-merge metadata of lists and maps (merge keys, set lists, retainKeys, replace).
Keeping only that makes the embedded table small and quick to load.

Usage: python3 tools/gen-k8s-schema.py [path/to/k8s-merge-keys.json]
"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data", "k8s-merge-keys.json")
data = json.load(open(src))

PREFIX = "io.k8s."


def short(name):
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def shape(s):
    # '[]X' list, '{}X' map, else a definition or primitive; definitions are shortened.
    if s.startswith("[]"):
        return "[]" + shape(s[2:])
    if s.startswith("{}"):
        return "{}" + shape(s[2:])
    if s in ("string", "integer", "number", "boolean", "object", "any"):
        return s
    return short(s)


defs = {}
for name, d in data["definitions"].items():
    fields = {f: shape(s) for f, s in d.get("fields", {}).items()}
    entry = {}
    if fields:
        entry["fields"] = fields
    if d.get("scalar"):
        entry["scalar"] = True
    defs[short(name)] = entry

for l in data["lists"]:
    d = defs.setdefault(short(l["definition"]), {})
    strategy = (l.get("strategy") or "").split(",")
    meta = None
    if "merge" in strategy:
        if l.get("mergeKey"):
            # SSA's listMapKeys refine SMP's single merge key (ports: containerPort+protocol);
            # matching on the full key avoids Kubernetes' known TCP/UDP same-port collision.
            keys = l.get("listMapKeys") or [l["mergeKey"]]
            if l["mergeKey"] not in keys:
                keys = [l["mergeKey"]] + keys
            meta = {"keys": keys}
        else:
            meta = {"set": True}
        if "retainKeys" in strategy:
            meta["retainKeys"] = True
    if meta:
        d.setdefault("lists", {})[l["field"]] = meta

for m in data["fieldMeta"]:
    strategy = (m.get("strategy") or "").split(",")
    d = defs.setdefault(short(m["definition"]), {})
    if "retainKeys" in strategy:
        d.setdefault("retainKeys", []).append(m["field"])
    if "replace" in strategy:
        d.setdefault("replace", []).append(m["field"])

kinds = {}
for gvk, k in data["kinds"].items():
    parts = gvk.split("/")
    if len(parts) == 2:
        group, version, kind = "", parts[0], parts[1]
    else:
        group, version, kind = parts[0], parts[1], parts[2]
    if k.get("resource") is None:
        continue  # List kinds and option bodies have no REST path of their own
    kinds.setdefault(f"{group}/{kind}", {})[version] = short(k["definition"])

scope = set()
for gvk in data["clusterScopedKinds"]:
    parts = gvk.split("/")
    group, kind = ("", parts[1]) if len(parts) == 2 else (parts[0], parts[2])
    scope.add(f"{group}/{kind}")
for gvk, k in data["removedKinds"].items():
    parts = gvk.split("/")
    group, kind = ("", parts[1]) if len(parts) == 2 else (parts[0], parts[2])
    if k.get("namespaced") is False:
        scope.add(f"{group}/{kind}")

out = {
    "source": {
        "from": "shared/data/k8s-merge-keys.json",
        "kubernetesVersion": data["source"]["kubernetesVersion"],
        "sha256": data["source"]["sha256"],
        "generator": "tools/gen-k8s-schema.py",
    },
    "kinds": dict(sorted(kinds.items())),
    "clusterScoped": sorted(scope),
    "definitions": dict(sorted(defs.items())),
}
dst = os.path.join(root, "gitops-core", "data", "k8s-schema.json")
with open(dst + ".tmp", "w") as f:
    json.dump(out, f, separators=(",", ":"), sort_keys=False)
    f.write("\n")
os.replace(dst + ".tmp", dst)
print(f"wrote {dst}: {len(kinds)} kinds, {len(defs)} definitions, {len(scope)} cluster-scoped")
