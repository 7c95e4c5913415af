//! fasttemplate, the default (`goTemplate: false`) way Argo CD fills a string: every
//! `{{ key }}` is replaced by the flat parameter `key` (the tag's text, spaces trimmed). A key
//! that is missing is left as written, spacing included; there are no functions.

use std::collections::BTreeMap;

/// Why a string does not fill.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlatError {
    /// A `{{` with no `}}` after it.
    #[error("`{{{{` at byte {at} has no closing `}}}}` in {text:?}")]
    Unclosed {
        /// Byte offset of the opening `{{`.
        at: usize,
        /// The string.
        text: String,
    },
}

/// Fills `text` with `params` as fasttemplate does (see the module documentation).
pub fn render(text: &str, params: &BTreeMap<String, String>) -> Result<String, FlatError> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(FlatError::Unclosed { at: offset + start, text: text.to_string() });
        };
        let tag = &after[..end];
        let key = tag.trim();
        match params.get(key) {
            Some(value) if !key.is_empty() => out.push_str(value),
            _ => {
                out.push_str("{{");
                out.push_str(tag);
                out.push_str("}}");
            }
        }
        let consumed = start + 2 + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BTreeMap<String, String> {
        [("name", "web"), ("metadata.labels.env", "prod"), ("path[0]", "apps")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn replaces_dotted_keys_with_spaces_trimmed() {
        let p = params();
        assert_eq!(render("{{name}}-{{ metadata.labels.env }}", &p).unwrap(), "web-prod");
        assert_eq!(render("{{path[0]}}/x", &p).unwrap(), "apps/x");
    }

    #[test]
    fn unknown_keys_stay_verbatim() {
        let p = params();
        assert_eq!(render("a-{{ nope  }}-{{name}}", &p).unwrap(), "a-{{ nope  }}-web");
        assert_eq!(render("{{}}", &p).unwrap(), "{{}}");
        assert_eq!(render("{{ .name }}", &p).unwrap(), "{{ .name }}", "no Go syntax in flat mode");
    }

    #[test]
    fn untouched_without_tags_and_unclosed_is_an_error() {
        let p = params();
        assert_eq!(render("plain }} text", &p).unwrap(), "plain }} text");
        let e = render("x {{name", &p).unwrap_err();
        assert_eq!(e, FlatError::Unclosed { at: 2, text: "x {{name".into() });
    }
}
