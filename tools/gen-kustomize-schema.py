#!/usr/bin/env python3
"""Reconstruct the type table kustomize v5.5.0 uses for strategic-merge patches and scope.

kustomize (kyaml) embeds the Kubernetes v1.21.2 OpenAPI document. The shared facts file samples the
OpenAPI of v1.21.2 .. v1.36.0 around the newest one, so this script rolls it back to v1.21.2:

  * kinds: a current kind existed in v1.21.2 iff its `<Kind>List.items` list has no `since`
    (kinds without a List kind are decided by the same test on their own lists, else kept);
    kinds removed since (`removedKinds` with lastSeen v1.21.2) take the definition of the same
    kind in the nearest surviving version of their group (their own definitions are gone);
  * lists: those with a `since` did not exist in v1.21.2 and are dropped; metadata changed later
    (`history.changes`) is rolled back to its v1.21.2 value;
  * scope: kinds with only cluster REST paths, minus the ones `kubectl kustomize` v5.5.0 was
    probed to namespace anyway (the *Review kinds: kyaml's table omits them).

Output (gitops-render/data/kustomize-schema.json), compact JSON:
  {"kinds": {"<apiVersion>/<Kind>": "<definition>"}, "cluster": ["<apiVersion>/<Kind>", ...],
   "defs": {"<definition>": {"<field>": "<shape>"}}}
shape: "<definition>" | "{}<shape>" (map) | "[]<shape>" (list replaced whole) |
       "[]<shape>|k1,k2" (associative list merged by keys) | "[]<shape>|" (merged as a set).
Primitive leaves (string, object, ...) are left out: nothing below them is walked.

Usage: python3 tools/gen-kustomize-schema.py [k8s-merge-keys.json] [output]
"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data", "k8s-merge-keys.json")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "gitops-render", "data", "kustomize-schema.json")
data = json.load(open(src))

BASE = "v1.21.2"
PRIMITIVES = {"string", "integer", "number", "boolean", "object", "any"}
# Probed with `kubectl kustomize` (v5.5.0) and `namespace: zz`: these get a namespace although
# their REST paths are cluster-only.
# (APIService was once listed here; kubectl leaves its metadata.namespace alone and sets only
# spec.service.namespace: fixture 046-namespace-apiservice.)
PROBED_NAMESPACED = {
    "authentication.k8s.io/v1/TokenReview",
    "authorization.k8s.io/v1/SelfSubjectAccessReview",
    "authorization.k8s.io/v1/SelfSubjectRulesReview",
    "authorization.k8s.io/v1/SubjectAccessReview",
}

# (definition, field) -> list entry, rolled back to v1.21.2.
lists = {}
for entry in data["lists"]:
    if entry.get("since"):
        continue
    lists[(entry["definition"], entry["field"])] = dict(entry)
for change in sorted(data["history"]["changes"], key=lambda c: data["history"]["versions"].index(c["to"]), reverse=True):
    entry = lists.get((change["definition"], change["field"]))
    if entry is None:
        continue
    for attr, (old, _new) in change["changed"].items():
        entry[attr] = old
new_lists = {(e["definition"], e["field"]) for e in data["lists"] if e.get("since")}
defs_with_old_lists = {d for (d, _f) in lists}
defs_with_new_lists = {e["definition"] for e in data["lists"] if e.get("since")}


def existed_in_base(definition):
    if definition in defs_with_old_lists:
        return True
    return definition not in defs_with_new_lists


def list_suffix(entry):
    strategy = (entry.get("strategy") or "").split(",")
    if "merge" not in strategy:
        return None
    keys = entry.get("listMapKeys") or ([entry["mergeKey"]] if entry.get("mergeKey") else [])
    return ",".join(keys)


def shape_of(definition, field, shape):
    if shape.startswith("{}"):
        inner = shape_of(definition, None, shape[2:])
        return None if inner is None else "{}" + inner
    if shape.startswith("[]"):
        if field is not None and (definition, field) in new_lists:
            return None
        inner = shape_of(definition, None, shape[2:])
        entry = lists.get((definition, field)) if field is not None else None
        suffix = list_suffix(entry) if entry else None
        if suffix is None:
            return None if inner is None else "[]" + inner
        return "[]" + (inner or "string") + "|" + suffix
    if shape in PRIMITIVES:
        return None
    if data["definitions"].get(shape, {}).get("scalar"):
        return None
    return shape


# Kinds without a List kind that the tests above cannot date: probed to have no schema in
# kustomize v5.5.0 (a finalizers patch replaces the list instead of merging it).
PROBED_ABSENT = {"policy/v1/Eviction", "authentication.k8s.io/v1/SelfSubjectReview"}

kinds = {}
cluster = []
for gvk, info in data["kinds"].items():
    definition = info["definition"]
    if gvk in PROBED_ABSENT:
        continue
    list_items = data["kinds"].get(gvk + "List")
    if list_items is not None:
        if (list_items["definition"], "items") not in lists:
            continue
    elif not existed_in_base(definition):
        continue
    kinds[gvk] = definition
    if info.get("namespaced") is False and gvk not in PROBED_NAMESPACED:
        cluster.append(gvk)

for gvk, info in data["removedKinds"].items():
    if info.get("lastSeen") != BASE:
        continue
    api_version, kind = gvk.rsplit("/", 1)
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    # The same kind in a surviving version: same group first, then any group (Ingress moved
    # from extensions to networking.k8s.io).
    candidates = [k for k in kinds if k.rsplit("/", 1)[1] == kind]
    same_group = [k for k in candidates if k.startswith(group + "/")]
    pick = sorted(same_group or candidates, key=lambda k: (not k.split("/")[-2] == "v1", k))
    if pick:
        kinds[gvk] = kinds[pick[0]]
    else:
        kinds[gvk] = "io.k8s.api.core.v1.ObjectMetaOnly"
    if info.get("namespaced") is False and gvk not in PROBED_NAMESPACED:
        cluster.append(gvk)

defs = {"io.k8s.api.core.v1.ObjectMetaOnly": {"metadata": "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}}
todo = list(kinds.values())
while todo:
    name = todo.pop()
    if name in defs:
        continue
    fields = {}
    for field, shape in sorted(data["definitions"].get(name, {}).get("fields", {}).items()):
        s = shape_of(name, field, shape)
        if s is None:
            continue
        fields[field] = s
        todo.append(s.lstrip("[]{}").split("|")[0])
    defs[name] = fields
defs = {k: v for k, v in defs.items() if k in data["definitions"] or k.endswith("ObjectMetaOnly")}

PREFIX = "io.k8s."
def short(s):
    return s.replace(PREFIX, "")
table = {
    "source": "gen-kustomize-schema.py from k8s-merge-keys.json rolled back to " + BASE,
    "kinds": {k: short(v) for k, v in sorted(kinds.items())},
    "cluster": sorted(cluster),
    "defs": {short(k): {f: short(s) for f, s in v.items()} for k, v in sorted(defs.items())},
}
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as f:
    json.dump(table, f, separators=(",", ":"), sort_keys=True)
    f.write("\n")
print(f"{out}: {len(kinds)} kinds, {len(cluster)} cluster-scoped, {len(defs)} definitions", file=sys.stderr)
