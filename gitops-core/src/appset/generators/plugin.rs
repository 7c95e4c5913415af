//! The plugin generator: parameter sets answered by an HTTP service, called through
//! [`Plugins`] (the client lives in an adapter crate).
//!
//! `configMapRef.name` names a ConfigMap in the set's namespace with `baseUrl`, `token` and
//! optionally `requestTimeout` (seconds, an integer; unset or `0`: the client's 30 s). The
//! token is always a Secret reference, resolved as Argo CD resolves it: `$<secret>:<key>`
//! is `<key>` of the Secret `<secret>`, a bare `$<key>` is `<key>` of `argocd-secret`; the
//! value is trimmed of surrounding white space.
//!
//! The call is `POST {baseUrl}/api/v1/getparams.execute` with `Authorization: Bearer
//! <token>` and the body `{"applicationSetName": ..., "input": {"parameters": ...}}` (the
//! spec's `input.parameters`, `null` when unset). The answer's `output.parameters` is a list
//! of maps, each one parameter set:
//!
//! - Go mode: the map as is, with `generator: {input: {parameters: ...}}` (the spec's input
//!   parameters) set over whatever the plugin answered under `generator`;
//! - flat mode: the map flattened as Argo CD flattens (`a.b`, `list.0`, scalars as Go's
//!   `%v`). `generator.input.parameters` is not added: Argo CD adds it as a map, which its
//!   flat templates cannot substitute, so a template that names it keeps it as written in
//!   both;
//!
//! then `values`, rendered against the set. `requeueAfterSeconds` defaults to 30 minutes.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::pull_request::SecretRef;
use super::{Context, GeneratorError, SourceError, append_values, config_map_data};
use crate::appset::params::{Mode, Params, flatten_into};

/// The Secret a bare `$<key>` token reads, as in Argo CD.
pub const DEFAULT_TOKEN_SECRET: &str = "argocd-secret";

/// The path of the one call a plugin answers, relative to its `baseUrl`.
pub const GETPARAMS_PATH: &str = "api/v1/getparams.execute";

/// One call of a plugin service: where, with which token, and what to send.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginCall {
    /// The ConfigMap the settings come from (for errors).
    pub config_map: String,
    /// `baseUrl`.
    pub base_url: String,
    /// The Secret key holding the bearer token (`token: $<secret>:<key>`).
    pub token: SecretRef,
    /// `requestTimeout` in seconds, `None` for the client's default (30 s).
    pub timeout_seconds: Option<u64>,
    /// The JSON body to POST.
    pub body: Value,
}

impl PluginCall {
    /// The URL to POST to: `baseUrl` with a `/` added when missing, then [`GETPARAMS_PATH`].
    pub fn url(&self) -> String {
        if self.base_url.ends_with('/') {
            format!("{}{GETPARAMS_PATH}", self.base_url)
        } else {
            format!("{}/{GETPARAMS_PATH}", self.base_url)
        }
    }
}

/// Calls plugin services.
pub trait Plugins {
    /// POSTs `call.body` to [`PluginCall::url`] with the bearer token read from
    /// `call.token`, and returns the answer's JSON. Errors name the URL and the status, and
    /// never the token.
    fn call(&self, call: &PluginCall) -> Result<Value, SourceError>;
}

fn field(at: &str, message: impl Into<String>) -> GeneratorError {
    GeneratorError::Field { field: at.to_string(), message: message.into() }
}

/// Argo CD's reading of a ConfigMap `token` (see the module documentation).
pub fn token_ref(token: &str) -> Option<SecretRef> {
    let rest = token.strip_prefix('$')?;
    let (secret_name, key) = match rest.split_once(':') {
        // Argo CD splits on every `:` and keeps the second part: `$s:a:b` reads key `a`.
        Some((name, tail)) => (name.to_string(), tail.split(':').next().unwrap_or("").to_string()),
        None => (DEFAULT_TOKEN_SECRET.to_string(), rest.to_string()),
    };
    Some(SecretRef { secret_name, key })
}

/// Reads the spec and its ConfigMap into the call to make (no I/O).
pub fn call(spec: &Value, cx: &Context<'_>) -> Result<PluginCall, GeneratorError> {
    let name = match spec.get("configMapRef").and_then(|r| r.get("name")) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(field("plugin.configMapRef.name", "is required (the ConfigMap of the plugin)")),
    };
    let parameters = match spec.get("input") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(input)) => match input.get("parameters") {
            None | Some(Value::Null) => Value::Null,
            Some(p @ Value::Object(_)) => p.clone(),
            Some(_) => return Err(field("plugin.input.parameters", "must be a map")),
        },
        Some(_) => return Err(field("plugin.input", "must be {parameters: {...}}")),
    };
    let at = "plugin.configMapRef.name";
    let data = config_map_data(cx, "plugin", at, &name)?;
    let cm = format!("ConfigMap {}/{name}", cx.namespace);
    let base_url = data
        .get("baseUrl")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| field(at, format!("{cm}: data.baseUrl is required")))?
        .clone();
    let token = data.get("token").map(String::as_str).unwrap_or("");
    let token = token_ref(token).ok_or_else(|| {
        field(
            at,
            format!(
                "{cm}: data.token must reference a Secret key, as $<secret>:<key> or $<key> (in {DEFAULT_TOKEN_SECRET})"
            ),
        )
    })?;
    if token.secret_name.is_empty() || token.key.is_empty() {
        return Err(field(at, format!("{cm}: data.token names no Secret or no key ($<secret>:<key>)")));
    }
    let timeout_seconds = match data.get("requestTimeout") {
        None => None,
        Some(t) => match t.trim_start_matches('+').parse::<i64>() {
            Ok(0) => None,
            Ok(n) if n > 0 => Some(n as u64),
            _ => {
                return Err(field(
                    at,
                    format!("{cm}: data.requestTimeout must be a positive number of seconds, not {t:?}"),
                ));
            }
        },
    };
    let body = json!({"applicationSetName": cx.appset, "input": {"parameters": parameters}});
    Ok(PluginCall { config_map: name, base_url, token, timeout_seconds, body })
}

/// The parameter sets of a plugin's answer, before `values` (see the module documentation).
/// `input_parameters` is what the request sent as `input.parameters`.
pub fn params(answer: &Value, input_parameters: &Value, mode: Mode, url: &str) -> Result<Vec<Params>, GeneratorError> {
    let bad =
        |message: String| GeneratorError::Source { kind: "plugin".into(), message: format!("POST {url}: {message}") };
    let list = match answer.get("output").and_then(|o| o.get("parameters")) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad("the answer's output.parameters is not a list of maps".into())),
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let empty = Map::new();
        let map = match item {
            Value::Object(m) => m,
            Value::Null => &empty,
            _ => return Err(bad(format!("the answer's output.parameters[{i}] is not a map"))),
        };
        out.push(match mode {
            Mode::Go => {
                let mut m = map.clone();
                m.insert("generator".into(), json!({"input": {"parameters": input_parameters}}));
                Params::Go(m)
            }
            Mode::Flat => {
                let mut m = BTreeMap::new();
                for (k, v) in map {
                    flatten_into(k, v, &mut m);
                }
                Params::Flat(m)
            }
        });
    }
    Ok(out)
}

/// Runs a `plugin` generator spec: its call through `cx.inputs.plugins`, then `values`.
pub fn generate(spec: &Value, cx: &Context<'_>) -> Result<Vec<Params>, GeneratorError> {
    let call = call(spec, cx)?;
    let plugins = cx
        .inputs
        .plugins
        .ok_or_else(|| GeneratorError::MissingInput { kind: "plugin".into(), what: "a plugin client".into() })?;
    let answer =
        plugins.call(&call).map_err(|e| GeneratorError::Source { kind: "plugin".into(), message: e.message })?;
    let mut sets = params(&answer, &call.body["input"]["parameters"], cx.mode(), &call.url())?;
    for p in &mut sets {
        append_values("plugin.values", spec.get("values"), p, cx)?;
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use serde_json::json;

    use super::*;
    use crate::Object;
    use crate::appset::generators::Inputs;
    use crate::appset::template::Engine;
    use crate::object::Origin;

    /// Answers every call with a fixed body and records the calls.
    struct Fixed(Result<Value, SourceError>, RefCell<Vec<PluginCall>>);

    impl Plugins for Fixed {
        fn call(&self, call: &PluginCall) -> Result<Value, SourceError> {
            self.1.borrow_mut().push(call.clone());
            self.0.clone()
        }
    }

    fn cm(name: &str, data: Value) -> Object {
        Object::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "argocd"}, "data": data}),
            Origin::inline("test"),
        )
    }

    fn run(mode: Mode, spec: Value, objects: &[Object], plugins: &Fixed) -> Result<Vec<Params>, GeneratorError> {
        let inputs = Inputs { plugins: Some(plugins), objects: Some(objects), ..Inputs::default() };
        let cx =
            Context { engine: Engine::new(mode, &[]).unwrap(), inputs: &inputs, appset: "set", namespace: "argocd" };
        generate(&spec, &cx)
    }

    #[test]
    fn token_references_read_as_argo_cd_reads_them() {
        let r = |s: &str, k: &str| Some(SecretRef { secret_name: s.into(), key: k.into() });
        assert_eq!(token_ref("$plugin.token"), r("argocd-secret", "plugin.token"));
        assert_eq!(token_ref("$other:plugin.token"), r("other", "plugin.token"));
        assert_eq!(token_ref("$other:a:b"), r("other", "a"));
        assert_eq!(token_ref("literal"), None);
        assert_eq!(token_ref(""), None);
    }

    #[test]
    fn request_and_go_params_carry_the_input_and_values() {
        let objects = [cm("p", json!({"baseUrl": "http://plugin:4355", "token": "$s:tok", "requestTimeout": "5"}))];
        let answer = json!({"output": {"parameters": [
            {"name": "a", "n": 1, "generator": {"x": 1}},
            {"name": "b", "nested": {"k": ["v"]}},
        ]}});
        let plugins = Fixed(Ok(answer), RefCell::default());
        let spec = json!({"configMapRef": {"name": "p"}, "input": {"parameters": {"env": "prod"}},
            "values": {"v": "{{ .name }}-{{ .generator.input.parameters.env }}"}});
        let got = run(Mode::Go, spec, &objects, &plugins).unwrap();
        let calls = plugins.1.borrow();
        assert_eq!(calls[0].url(), "http://plugin:4355/api/v1/getparams.execute");
        assert_eq!(calls[0].token, SecretRef { secret_name: "s".into(), key: "tok".into() });
        assert_eq!(calls[0].timeout_seconds, Some(5));
        assert_eq!(calls[0].body, json!({"applicationSetName": "set", "input": {"parameters": {"env": "prod"}}}));
        assert_eq!(
            got[0].to_value(),
            json!({"name": "a", "n": 1, "generator": {"input": {"parameters": {"env": "prod"}}}, "values": {"v": "a-prod"}})
        );
        assert_eq!(got[1].get("nested"), Some(json!({"k": ["v"]})));
    }

    #[test]
    fn flat_params_are_flattened_without_the_generator_map() {
        let objects = [cm("p", json!({"baseUrl": "http://plugin/", "token": "$tok"}))];
        let answer = json!({"output": {"parameters": [{"name": "a", "n": 1.5, "m": {"k": true}}]}});
        let plugins = Fixed(Ok(answer), RefCell::default());
        let spec = json!({"configMapRef": {"name": "p"}, "values": {"v": "{{name}}"}});
        let got = run(Mode::Flat, spec, &objects, &plugins).unwrap();
        let flat = got[0].flattened();
        assert_eq!(flat["n"], "1.5");
        assert_eq!(flat["m.k"], "true");
        assert_eq!(flat["values.v"], "a");
        assert!(!flat.keys().any(|k| k.starts_with("generator")), "{flat:?}");
        let calls = plugins.1.borrow();
        assert_eq!(calls[0].url(), "http://plugin/api/v1/getparams.execute");
        assert_eq!(calls[0].token.secret_name, "argocd-secret");
        assert_eq!(calls[0].body, json!({"applicationSetName": "set", "input": {"parameters": null}}));
        assert_eq!(calls[0].timeout_seconds, None);
    }

    #[test]
    fn errors_name_the_field_or_the_answer() {
        let ok = Fixed(Ok(json!({"output": {"parameters": []}})), RefCell::default());
        let e = run(Mode::Go, json!({}), &[], &ok).unwrap_err();
        assert_eq!(e.to_string(), "plugin.configMapRef.name: is required (the ConfigMap of the plugin)");
        let spec = json!({"configMapRef": {"name": "p"}});
        let e = run(Mode::Go, spec.clone(), &[], &ok).unwrap_err();
        assert_eq!(e.to_string(), "plugin.configMapRef.name: no ConfigMap argocd/p was found");
        let e = run(Mode::Go, spec.clone(), &[cm("p", json!({"token": "$t"}))], &ok).unwrap_err();
        assert_eq!(e.to_string(), "plugin.configMapRef.name: ConfigMap argocd/p: data.baseUrl is required");
        let e =
            run(Mode::Go, spec.clone(), &[cm("p", json!({"baseUrl": "http://x", "token": "plain"}))], &ok).unwrap_err();
        assert!(e.to_string().contains("data.token must reference a Secret key"), "{e}");
        let bad_timeout = cm("p", json!({"baseUrl": "http://x", "token": "$t", "requestTimeout": "5s"}));
        let e = run(Mode::Go, spec.clone(), &[bad_timeout], &ok).unwrap_err();
        assert!(e.to_string().contains("data.requestTimeout must be a positive number of seconds, not \"5s\""), "{e}");
        let e =
            run(Mode::Go, json!({"configMapRef": {"name": "p"}, "input": {"parameters": [1]}}), &[], &ok).unwrap_err();
        assert_eq!(e.to_string(), "plugin.input.parameters: must be a map");

        let objects = [cm("p", json!({"baseUrl": "http://x", "token": "$t"}))];
        let not_list = Fixed(Ok(json!({"output": {"parameters": {"a": 1}}})), RefCell::default());
        let e = run(Mode::Go, spec.clone(), &objects, &not_list).unwrap_err();
        assert_eq!(
            e.to_string(),
            "plugin: POST http://x/api/v1/getparams.execute: the answer's output.parameters is not a list of maps"
        );
        let failing = Fixed(Err(SourceError::other("POST http://x/...: HTTP 401")), RefCell::default());
        let e = run(Mode::Go, spec.clone(), &objects, &failing).unwrap_err();
        assert_eq!(e.to_string(), "plugin: POST http://x/...: HTTP 401");
        let empty = Fixed(Ok(json!({})), RefCell::default());
        assert_eq!(run(Mode::Go, spec, &objects, &empty).unwrap(), []);
    }
}
