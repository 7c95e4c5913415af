//! The list generator: one parameter set per element of `elements`, then one per object of
//! `elementsYaml` (a YAML list in a string, so a matrix can fill it from its first child).
//!
//! Flat mode: every value of an element must be a string, except `values`, a map of strings
//! that becomes `values.<k>`. Go mode: the element as it is. `elementsYaml` objects are taken
//! as they are in both modes (in flat mode their non-string values are dropped: Argo CD keeps
//! them, but fasttemplate leaves a placeholder for a non-string value as written, which is
//! what a missing key gives too).

use serde_json::{Map, Value};

use super::{Context, GeneratorError};
use crate::appset::params::{Mode, Params};

/// Runs a `list` generator spec.
pub fn generate(spec: &Value, cx: &Context<'_>) -> Result<Vec<Params>, GeneratorError> {
    let field_err = |field: String, message: String| GeneratorError::Field { field, message };
    let mut out = Vec::new();
    match spec.get("elements") {
        None | Some(Value::Null) => {}
        Some(Value::Array(elements)) => {
            for (i, element) in elements.iter().enumerate() {
                let at = format!("list.elements[{i}]");
                let obj = element.as_object().ok_or_else(|| field_err(at.clone(), "must be an object".into()))?;
                out.push(from_element(&at, obj, cx.mode())?);
            }
        }
        Some(_) => return Err(field_err("list.elements".into(), "must be a list of objects".into())),
    }
    if let Some(text) = super::opt_str(spec, "list", "elementsYaml")? {
        let docs = crate::yaml::parse_documents(text)
            .map_err(|e| field_err("list.elementsYaml".into(), format!("does not parse as YAML: {e}")))?;
        let items = match docs.as_slice() {
            [] => Vec::new(),
            [one] => match &one.value {
                Value::Array(items) => items.clone(),
                Value::Null => Vec::new(),
                _ => return Err(field_err("list.elementsYaml".into(), "must be a YAML list of objects".into())),
            },
            _ => return Err(field_err("list.elementsYaml".into(), "must be one YAML document".into())),
        };
        for (i, item) in items.into_iter().enumerate() {
            let Value::Object(obj) = item else {
                return Err(field_err(format!("list.elementsYaml[{i}]"), "must be an object".into()));
            };
            out.push(match cx.mode() {
                Mode::Go => Params::Go(obj),
                Mode::Flat => Params::Flat(
                    obj.into_iter()
                        .filter_map(|(k, v)| match v {
                            Value::String(s) => Some((k, s)),
                            _ => None,
                        })
                        .collect(),
                ),
            });
        }
    }
    Ok(out)
}

fn from_element(at: &str, obj: &Map<String, Value>, mode: Mode) -> Result<Params, GeneratorError> {
    if mode == Mode::Go {
        return Ok(Params::Go(obj.clone()));
    }
    let not_string = |field: String, v: &Value| GeneratorError::Field {
        field,
        message: format!(
            "must be a string in flat mode (got {v}); quote it, or set goTemplate: true to use other types"
        ),
    };
    let mut flat = std::collections::BTreeMap::new();
    for (k, v) in obj {
        if k == "values" {
            let values = v.as_object().ok_or_else(|| GeneratorError::Field {
                field: format!("{at}.values"),
                message: "must be a map of strings".into(),
            })?;
            for (vk, vv) in values {
                let s = vv.as_str().ok_or_else(|| not_string(format!("{at}.values.{vk}"), vv))?;
                flat.insert(format!("values.{vk}"), s.to_string());
            }
        } else {
            let s = v.as_str().ok_or_else(|| not_string(format!("{at}.{k}"), v))?;
            flat.insert(k.clone(), s.to_string());
        }
    }
    Ok(Params::Flat(flat))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::appset::generators::Inputs;
    use crate::appset::template::Engine;

    fn run(mode: Mode, spec: Value) -> Result<Vec<Params>, GeneratorError> {
        let inputs = Inputs::default();
        let cx = Context { engine: Engine::new(mode, &[]).unwrap(), inputs: &inputs, appset: "", namespace: "" };
        generate(&spec, &cx)
    }

    #[test]
    fn flat_elements_are_strings_and_values_flatten() {
        let got = run(Mode::Flat, json!({"elements": [{"cluster": "a", "values": {"env": "prod"}}, {}]})).unwrap();
        assert_eq!(
            got[0].flattened().into_iter().collect::<Vec<_>>(),
            [("cluster".to_string(), "a".to_string()), ("values.env".to_string(), "prod".to_string())]
        );
        assert!(got[1].is_empty());
    }

    #[test]
    fn flat_non_strings_are_errors_naming_the_element_and_key() {
        let e = run(Mode::Flat, json!({"elements": [{"a": "x"}, {"replicas": 3}]})).unwrap_err();
        assert!(e.to_string().starts_with("list.elements[1].replicas: must be a string in flat mode"), "{e}");
        let e = run(Mode::Flat, json!({"elements": [{"values": {"n": true}}]})).unwrap_err();
        assert!(e.to_string().starts_with("list.elements[0].values.n:"), "{e}");
        let e = run(Mode::Flat, json!({"elements": [{"values": "x"}]})).unwrap_err();
        assert!(e.to_string().contains("map of strings"));
    }

    #[test]
    fn go_elements_are_raw() {
        let got = run(Mode::Go, json!({"elements": [{"n": 3, "m": {"k": [1]}}]})).unwrap();
        assert_eq!(got[0].to_value(), json!({"n": 3, "m": {"k": [1]}}));
    }

    #[test]
    fn elements_yaml_is_appended_unflattened() {
        let spec = json!({"elements": [{"a": "1"}], "elementsYaml": "- a: '2'\n  n: 3\n  m: {k: v}\n"});
        let got = run(Mode::Go, spec.clone()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].to_value(), json!({"a": "2", "n": 3, "m": {"k": "v"}}));
        let got = run(Mode::Flat, spec).unwrap();
        assert_eq!(got[1].to_value(), json!({"a": "2"}), "non-strings stay unrendered in flat mode");
        assert!(run(Mode::Go, json!({"elementsYaml": "a: b"})).is_err());
        assert!(run(Mode::Go, json!({"elementsYaml": ""})).unwrap().is_empty());
    }
}
