//! Rendered objects as text: a YAML stream (documents separated by `---`) or a JSON list.
//!
//! YAML is written so that Kubernetes' YAML 1.1 reader reads back exactly what was meant:
//! strings such as `yes`, `on`, `0644` or `1.0` are quoted.

use gitops_core::Object;
use serde_json::Value;

/// An object that cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {problem}")]
pub struct Error {
    /// Where the object came from (file and document).
    pub origin: String,
    /// What the YAML writer refused.
    pub problem: String,
}

/// A YAML stream of the objects, each document starting with `---`.
pub fn yaml_stream(objects: &[Object]) -> Result<String, Error> {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        let yaml = serde_saphyr::to_string(o.value())
            .map_err(|e| Error { origin: o.origin().to_string(), problem: e.to_string() })?;
        out.push_str(&yaml);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// A pretty JSON list of the objects.
pub fn json_list(objects: &[Object]) -> String {
    let values: Vec<&Value> = objects.iter().map(Object::value).collect();
    serde_json::to_string_pretty(&values).unwrap_or_else(|_| "[]".to_string()) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_reads_back_as_written() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: \"yes\"\n  b: \"0644\"\n  c: \"1.0\"\n  d: \"on\"\n  e: \"null\"\n  f: \"multi\\nline\\n\"\n  g: \"\"\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: why}\n";
        let objects = gitops_core::manifest::parse("in", text).expect("parse");
        let written = yaml_stream(&objects).expect("yaml");
        let again = gitops_core::manifest::parse("out", &written).expect("reparse");
        assert_eq!(
            objects.iter().map(Object::value).collect::<Vec<_>>(),
            again.iter().map(Object::value).collect::<Vec<_>>()
        );
        let json = json_list(&objects);
        let back: Vec<Value> = serde_json::from_str(&json).expect("json");
        assert_eq!(back.len(), 2);
    }
}
