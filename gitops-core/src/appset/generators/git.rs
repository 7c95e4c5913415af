//! The git generator: one parameter set per matching directory (`directories`) or per
//! object in each matching file (`files`) of a repository at a revision.
//!
//! Directories: every directory of the tree except hidden ones (a segment starting with `.`)
//! and their subtrees, kept when it matches at least one include item and no exclude item
//! ([`go_path_match`]; exclusion wins whatever the order; a malformed pattern matches
//! nothing), in path order.
//!
//! Files: the union of the files each include pattern lists, minus those any exclude
//! pattern lists ([`git_pathspec_match`], or [`doublestar_match`] under the new globbing),
//! in sorted path order. A file is read as one YAML/JSON object (an empty file is an empty
//! object), or else as a list of objects, one parameter set each; only the first YAML
//! document is read, as `yaml.Unmarshal` does.
//!
//! Path parameters (under `<pathParamPrefix>.` when set): flat `path`, `path.basename`,
//! `path.basenameNormalized`, `path[N]` (N indexes the `/`-split path; empty segments are
//! skipped, their index kept) and for files `path.filename`, `path.filenameNormalized`,
//! where `path` is the file's directory; go `path: {path, basename, basenameNormalized,
//! segments, [filename, filenameNormalized]}`. Then `values`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::pathmatch::{doublestar_match, git_pathspec_match, go_path_match};
use super::{Context, GeneratorError, RepoTree, append_values};
use crate::appset::params::{Mode, Params, flatten_into, normalize};

/// One `directories` or `files` item.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    path: String,
    exclude: bool,
}

fn items(spec: &Value, key: &str) -> Result<Vec<Item>, GeneratorError> {
    let field = format!("git.{key}");
    match spec.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let at = format!("{field}[{i}]");
                let path = item.get("path").and_then(Value::as_str).ok_or_else(|| GeneratorError::Field {
                    field: format!("{at}.path"),
                    message: "must be a string".into(),
                })?;
                let exclude = match item.get("exclude") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(GeneratorError::Field {
                            field: format!("{at}.exclude"),
                            message: "must be a boolean".into(),
                        });
                    }
                };
                Ok(Item { path: path.to_string(), exclude })
            })
            .collect(),
        Some(_) => Err(GeneratorError::Field { field, message: "must be a list of {path, exclude}".into() }),
    }
}

/// Runs a `git` generator spec against `cx.inputs.repositories`.
pub fn generate(spec: &Value, cx: &Context<'_>) -> Result<Vec<Params>, GeneratorError> {
    let repos = cx
        .inputs
        .repositories
        .ok_or_else(|| GeneratorError::MissingInput { kind: "git".into(), what: "the repositories".into() })?;
    let repo_url = super::opt_str(spec, "git", "repoURL")?
        .ok_or_else(|| GeneratorError::Field { field: "git.repoURL".into(), message: "is required".into() })?;
    let revision = super::opt_str(spec, "git", "revision")?.unwrap_or("");
    let prefix = super::opt_str(spec, "git", "pathParamPrefix")?.unwrap_or("");
    let directories = items(spec, "directories")?;
    let files = items(spec, "files")?;
    if directories.is_empty() && files.is_empty() {
        return Err(GeneratorError::Field { field: "git".into(), message: "needs `directories` or `files`".into() });
    }
    let tree = repos.tree(repo_url, revision).ok_or_else(|| GeneratorError::NoRepository {
        repo_url: repo_url.to_string(),
        revision: revision.to_string(),
    })?;
    let mut out = Vec::new();
    if !directories.is_empty() {
        for dir in matching_directories(tree, &directories) {
            let mut p = path_params(cx.mode(), prefix, &dir, None);
            append_values("git.values", spec.get("values"), &mut p, cx)?;
            out.push(p);
        }
        return Ok(out);
    }
    for path in matching_files(tree, &files, cx.inputs.new_git_file_globbing) {
        let content = tree.read(&path).unwrap_or_default();
        for object in read_file(&path, &content)? {
            let mut p = match cx.mode() {
                Mode::Go => Params::Go(object),
                Mode::Flat => {
                    let mut flat = BTreeMap::new();
                    for (k, v) in &object {
                        flatten_into(k, v, &mut flat);
                    }
                    Params::Flat(flat)
                }
            };
            let dir = go_dir(&path);
            let file_params = path_params(cx.mode(), prefix, &dir, Some(&path));
            match (&mut p, file_params) {
                (Params::Flat(m), Params::Flat(add)) => m.extend(add),
                (Params::Go(m), Params::Go(add)) => m.extend(add),
                _ => unreachable!("one mode"),
            }
            append_values("git.values", spec.get("values"), &mut p, cx)?;
            out.push(p);
        }
    }
    Ok(out)
}

fn hidden(path: &str) -> bool {
    path.split('/').any(|s| s.starts_with('.'))
}

/// The directories kept by the include and exclude items, in path order.
fn matching_directories(tree: &dyn RepoTree, items: &[Item]) -> Vec<String> {
    let all: BTreeSet<String> =
        tree.directories().into_iter().filter(|d| !d.is_empty() && d != "." && !hidden(d)).collect();
    all.into_iter()
        .filter(|dir| {
            let hit = |item: &Item| go_path_match(&item.path, dir).unwrap_or(false);
            items.iter().any(|i| !i.exclude && hit(i)) && !items.iter().any(|i| i.exclude && hit(i))
        })
        .collect()
}

fn matching_files(tree: &dyn RepoTree, items: &[Item], doublestar: bool) -> Vec<String> {
    let all = tree.files();
    let hit = |pattern: &str, path: &str| {
        if doublestar { doublestar_match(pattern, path) } else { git_pathspec_match(pattern, path) }.unwrap_or(false)
    };
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    for item in items.iter().filter(|i| !i.exclude) {
        chosen.extend(all.iter().filter(|p| hit(&item.path, p)).cloned());
    }
    for item in items.iter().filter(|i| i.exclude) {
        chosen.retain(|p| !hit(&item.path, p));
    }
    chosen.into_iter().collect()
}

/// The objects a file gives (see the module documentation).
fn read_file(path: &str, content: &[u8]) -> Result<Vec<Map<String, Value>>, GeneratorError> {
    let bad = |message: String| GeneratorError::BadFile { path: path.to_string(), message };
    let text = std::str::from_utf8(content).map_err(|_| bad("not UTF-8".into()))?;
    // JSON allows tabs where YAML does not (indentation): a `.json` file that is valid JSON is
    // read as JSON, whatever a YAML reader would make of it.
    let as_json = if path.ends_with(".json") { serde_json::from_str::<Value>(text).ok() } else { None };
    let first = match as_json {
        Some(value) => value,
        None => {
            let docs = crate::yaml::parse_documents(text).map_err(|e| bad(e.to_string()))?;
            docs.into_iter().next().map(|d| d.value).unwrap_or(Value::Null)
        }
    };
    match first {
        Value::Null => Ok(vec![Map::new()]),
        Value::Object(m) => Ok(vec![m]),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(m) => Ok(m),
                Value::Null => Ok(Map::new()),
                other => Err(bad(format!("item {i} of the list is not an object: {other}"))),
            })
            .collect(),
        other => Err(bad(format!("it is a scalar ({other}), not an object or a list of objects"))),
    }
}

/// Go's `path.Base`.
fn go_base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `path.Dir` for the relative, clean paths Git lists.
fn go_dir(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, _)) if !dir.is_empty() => dir.to_string(),
        Some(_) => "/".into(),
        None => ".".into(),
    }
}

fn path_params(mode: Mode, prefix: &str, dir: &str, file: Option<&str>) -> Params {
    let basename = go_base(dir);
    match mode {
        Mode::Flat => {
            let name = if prefix.is_empty() { "path".to_string() } else { format!("{prefix}.path") };
            let mut m = BTreeMap::new();
            m.insert(name.clone(), dir.to_string());
            m.insert(format!("{name}.basename"), basename.clone());
            m.insert(format!("{name}.basenameNormalized"), normalize(&basename));
            if let Some(file) = file {
                let filename = go_base(file);
                m.insert(format!("{name}.filenameNormalized"), normalize(&filename));
                m.insert(format!("{name}.filename"), filename);
            }
            for (i, segment) in dir.split('/').enumerate() {
                if !segment.is_empty() {
                    m.insert(format!("{name}[{i}]"), segment.to_string());
                }
            }
            Params::Flat(m)
        }
        Mode::Go => {
            let mut path = Map::new();
            path.insert("path".into(), Value::String(dir.to_string()));
            path.insert("basename".into(), Value::String(basename.clone()));
            path.insert("basenameNormalized".into(), Value::String(normalize(&basename)));
            if let Some(file) = file {
                let filename = go_base(file);
                path.insert("filenameNormalized".into(), Value::String(normalize(&filename)));
                path.insert("filename".into(), Value::String(filename));
            }
            path.insert(
                "segments".into(),
                Value::Array(dir.split('/').map(|s| Value::String(s.to_string())).collect()),
            );
            let mut m = Map::new();
            if prefix.is_empty() {
                m.insert("path".into(), Value::Object(path));
            } else {
                let mut inner = Map::new();
                inner.insert("path".into(), Value::Object(path));
                m.insert(prefix.to_string(), Value::Object(inner));
            }
            Params::Go(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::appset::generators::{Inputs, MemoryRepositories, MemoryTree};
    use crate::appset::template::Engine;

    const REPO: &str = "https://git.example/fleet.git";

    fn repos() -> MemoryRepositories {
        let tree = MemoryTree::new([
            ("apps/web/kustomization.yaml", "kind: Kustomization\n"),
            ("apps/api/kustomization.yaml", "x: 1\n"),
            ("apps/api/v2/kustomization.yaml", "x: 1\n"),
            ("apps/.hidden/secret/k.yaml", "x: 1\n"),
            ("apps/legacy/k.yaml", "x: 1\n"),
            (
                "clusters/prod/config.json",
                r#"{"cluster": {"name": "prod", "replicas": 1000000, "tags": ["a"]}, "empty": {}}"#,
            ),
            ("clusters/dev/config.json", "- cluster: {name: dev-a}\n- cluster: {name: dev-b}\n"),
            ("clusters/blank/config.json", ""),
            ("clusters/bad/config.json", "just text"),
            ("top.json", "{\"a\": \"b\"}"),
            ("tabs/config.json", "{\n\t\"cluster\": {\n\t\t\"name\": \"tabbed\"\n\t}\n}\n"),
        ]);
        let mut r = MemoryRepositories::default();
        r.insert(REPO, "main", tree);
        r
    }

    fn run(mode: Mode, spec: Value) -> Result<Vec<Params>, GeneratorError> {
        let r = repos();
        let inputs = Inputs { repositories: Some(&r), ..Inputs::default() };
        let cx = Context { engine: Engine::new(mode, &[]).unwrap(), inputs: &inputs, appset: "", namespace: "" };
        generate(&spec, &cx)
    }

    fn paths(ps: &[Params]) -> Vec<String> {
        ps.iter().map(|p| p.flattened()["path"].clone()).collect()
    }

    #[test]
    fn directories_match_one_level_skip_hidden_and_exclusion_wins() {
        let spec = json!({"repoURL": REPO, "revision": "main", "directories": [
            {"path": "apps/legacy", "exclude": true},
            {"path": "apps/*"},
            {"path": "apps/.hidden/*"},
        ]});
        let got = run(Mode::Flat, spec).unwrap();
        assert_eq!(paths(&got), ["apps/api", "apps/web"]);
        let p = got[0].flattened();
        assert_eq!(p["path.basename"], "api");
        assert_eq!(p["path.basenameNormalized"], "api");
        assert_eq!(p["path[0]"], "apps");
        assert_eq!(p["path[1]"], "api");
        assert!(!p.contains_key("path.filename"));

        let spec = json!({"repoURL": REPO, "revision": "main", "directories": [{"path": "apps/**"}, {"path": "[bad"}]});
        assert_eq!(paths(&run(Mode::Flat, spec).unwrap()), ["apps/api", "apps/legacy", "apps/web"], "** is *");
    }

    #[test]
    fn directory_params_in_go_mode_with_prefix_and_values() {
        let spec = json!({"repoURL": REPO, "revision": "main", "pathParamPrefix": "app",
            "directories": [{"path": "apps/web"}], "values": {"ns": "{{ .app.path.basename }}-ns"}});
        let got = run(Mode::Go, spec).unwrap();
        assert_eq!(
            got[0].to_value(),
            json!({"app": {"path": {"path": "apps/web", "basename": "web", "basenameNormalized": "web",
                "segments": ["apps", "web"]}}, "values": {"ns": "web-ns"}})
        );
        let spec = json!({"repoURL": REPO, "revision": "main", "pathParamPrefix": "app", "directories": [{"path": "apps/web"}]});
        let got = run(Mode::Flat, spec).unwrap();
        assert_eq!(got[0].flattened()["app.path.basename"], "web");
        assert_eq!(got[0].flattened()["app.path[1]"], "web");
    }

    #[test]
    fn files_flatten_objects_and_lists_in_sorted_order() {
        let spec = json!({"repoURL": REPO, "revision": "main", "files": [
            {"path": "clusters/*/config.json"}, {"path": "clusters/bad/*", "exclude": true},
        ]});
        let got = run(Mode::Flat, spec).unwrap();
        let names: Vec<String> =
            got.iter().map(|p| p.flattened().get("cluster.name").cloned().unwrap_or_default()).collect();
        assert_eq!(names, ["", "dev-a", "dev-b", "prod"], "blank, dev (a list), prod");
        let prod = got[3].flattened();
        assert_eq!(prod["cluster.replicas"], "1e+06");
        assert_eq!(prod["cluster.tags.0"], "a");
        assert!(!prod.contains_key("empty"));
        assert_eq!(prod["path"], "clusters/prod");
        assert_eq!(prod["path.basename"], "prod");
        assert_eq!(prod["path.filename"], "config.json");
        assert_eq!(prod["path.filenameNormalized"], "config.json");
        assert_eq!(prod["path[1]"], "prod");
    }

    #[test]
    fn file_globs_cross_directories_by_default_and_not_with_new_globbing() {
        let spec = json!({"repoURL": REPO, "revision": "main", "files": [{"path": "apps/*.yaml"}]});
        assert_eq!(run(Mode::Flat, spec.clone()).unwrap().len(), 5, "default pathspec: * crosses /");
        let r = repos();
        let inputs = Inputs { repositories: Some(&r), new_git_file_globbing: true, ..Inputs::default() };
        let cx = Context { engine: Engine::new(Mode::Flat, &[]).unwrap(), inputs: &inputs, appset: "", namespace: "" };
        assert_eq!(generate(&spec, &cx).unwrap().len(), 0);
        let spec = json!({"repoURL": REPO, "revision": "main", "files": [{"path": "apps/**/kustomization.yaml"}]});
        assert_eq!(generate(&spec, &cx).unwrap().len(), 3);
    }

    #[test]
    fn go_mode_files_keep_types_and_root_files_have_dot_path() {
        let spec = json!({"repoURL": REPO, "revision": "main", "files": [{"path": "clusters/prod/config.json"}, {"path": "top.json"}]});
        let got = run(Mode::Go, spec).unwrap();
        assert_eq!(got[0].get("cluster").unwrap()["replicas"], json!(1000000));
        assert_eq!(got[0].get("path").unwrap()["filename"], "config.json");
        assert_eq!(got[0].get("path").unwrap()["segments"], json!(["clusters", "prod"]));
        assert_eq!(
            got[1].get("path").unwrap(),
            json!({"path": ".", "basename": ".", "basenameNormalized": "",
            "filename": "top.json", "filenameNormalized": "top.json", "segments": ["."]})
        );
    }

    #[test]
    fn errors_name_the_file_and_the_repository() {
        let spec = json!({"repoURL": REPO, "revision": "main", "files": [{"path": "clusters/bad/config.json"}]});
        let e = run(Mode::Flat, spec).unwrap_err();
        assert!(e.to_string().starts_with("git: file clusters/bad/config.json does not parse"), "{e}");
        let spec = json!({"repoURL": REPO, "revision": "nope", "directories": [{"path": "*"}]});
        assert_eq!(
            run(Mode::Flat, spec).unwrap_err(),
            GeneratorError::NoRepository { repo_url: REPO.into(), revision: "nope".into() }
        );
        let e = run(Mode::Flat, json!({"repoURL": REPO})).unwrap_err();
        assert_eq!(e.to_string(), "git: needs `directories` or `files`");
    }

    #[test]
    fn json_files_with_tab_indentation_are_read_as_json() {
        let spec = json!({"repoURL": REPO, "revision": "main", "files": [{"path": "tabs/config.json"}]});
        let got = run(Mode::Flat, spec).unwrap();
        assert_eq!(got[0].flattened()["cluster.name"], "tabbed");
    }

    #[test]
    fn go_path_helpers() {
        assert_eq!(go_base("a/b"), "b");
        assert_eq!(go_base(""), ".");
        assert_eq!(go_dir("a/b/c.yaml"), "a/b");
        assert_eq!(go_dir("c.yaml"), ".");
    }
}
