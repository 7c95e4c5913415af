//! Reading a stream as kyaml does: the split at `---` lines, the first document of each piece,
//! and the scalar rules of kustomize's two Go readers for the shared tree builder.

use gitops_core::yaml::tree::{Budget, DuplicateKeys, Key, MergeKeys, Rules, ScalarResolver, TreeBuilder, TreeError};
use granit_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::Value;

use super::Dialect;
use super::scalars::{Scalar, resolve};
use gitops_core::yaml::emit::{analyze, is_blank_or_end};

/// One piece of the stream between document separators.
pub(super) struct Chunk<'a> {
    pub(super) text: &'a str,
    /// One-based line of the stream the piece starts on.
    pub(super) first_line: usize,
}

/// kyaml's `splitDocuments`: a separator is a line starting with `---` that follows a newline
/// (so a `---` on the first line belongs to the first document), and only blanks or a comment
/// may follow it on its line.
pub(super) fn split_documents(text: &str) -> impl Iterator<Item = Result<Chunk<'_>, (usize, String)>> + '_ {
    let mut pos = 0usize;
    let mut line = 1usize;
    let mut done = text.is_empty();
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let rest = &text[pos..];
        let Some((at, sep_len)) = find_separator(rest) else {
            done = true;
            return Some(Ok(Chunk { text: rest, first_line: line }));
        };
        let chunk = Chunk { text: &rest[..at], first_line: line };
        let separator = &rest[at..at + sep_len];
        let after = separator.get(4..).unwrap_or_default().trim();
        if !after.is_empty() && !after.starts_with('#') {
            done = true;
            let sep_line = line + chunk.text.matches('\n').count() + 1;
            return Some(Err((sep_line, format!("invalid document separator: {}", separator.trim()))));
        }
        line += chunk.text.matches('\n').count() + 2;
        pos += at + sep_len;
        Some(Ok(chunk))
    })
}

/// go-yaml refuses a piece whose first token is a `...` document end marker; the YAML parser
/// used here would accept it. Returns the marker's line.
pub(super) fn starts_with_document_end(text: &str) -> Option<usize> {
    for (i, line) in text.trim_start_matches('\u{feff}').split('\n').enumerate() {
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let marker = line.strip_prefix("...")?;
        return (marker.is_empty() || marker.starts_with([' ', '\t'])).then_some(i + 1);
    }
    None
}

/// The first match of `\n---.*\n` in `s`: its start and length.
pub(super) fn find_separator(s: &str) -> Option<(usize, usize)> {
    s.match_indices("\n---").find_map(|(at, _)| s[at + 4..].find('\n').map(|end| (at, end + 5)))
}

/// Reads the first document of a piece, as kyaml's decoder does: whatever follows it (even
/// text that is not YAML) is never looked at. `line_offset` turns lines of the piece into lines
/// of the stream.
pub(super) fn parse_first_document(
    text: &str,
    line_offset: usize,
    builder: &mut TreeBuilder<Scalars>,
) -> Result<Option<Value>, (usize, String)> {
    if let Some(line) = starts_with_document_end(text) {
        return Err((
            line + line_offset,
            "did not find expected node content (a `...` document end before any content)".into(),
        ));
    }
    let mut parser = Parser::new_from_str(text);
    builder.start_document(0, 0);
    let mut started = false;
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(ok) => ok,
            // The document is complete; go-yaml would not have read further.
            Err(_) if started && builder.is_complete() => break,
            Err(e) => return Err((e.marker().line() + line_offset, e.info().to_string())),
        };
        let line = span.start.line() + line_offset;
        let at = |problem: String| (line, problem);
        match event {
            Event::DocumentStart(..) if started => break,
            Event::DocumentStart(..) => started = true,
            Event::DocumentEnd => break,
            Event::Scalar(value, style, anchor, tag) => {
                if style == ScalarStyle::DoubleQuoted {
                    let raw = span.start.byte_offset().zip(span.end.byte_offset()).and_then(|(a, b)| text.get(a..b));
                    if raw.is_some_and(has_escaped_slash) {
                        return Err(at(
                            "found unknown escape character `\\/` (go-yaml does not accept it; write `/`)".into()
                        ));
                    }
                }
                builder.scalar(&value, style, tag.as_deref(), anchor, line).map_err(|e| at(e.to_string()))?;
            }
            Event::SequenceStart(_, anchor, _) => builder.open_sequence(anchor, line).map_err(|e| at(e.to_string()))?,
            Event::MappingStart(_, anchor, _) => builder.open_mapping(anchor, line).map_err(|e| at(e.to_string()))?,
            Event::SequenceEnd | Event::MappingEnd => builder.close(line).map_err(|e| at(e.to_string()))?,
            // An aliased key is reported without a line, as kustomize gives none for it.
            Event::Alias(id) => builder.alias(id, 0, 0).map_err(|e| at(e.to_string()))?,
            _ => {}
        }
    }
    Ok(builder.finish_document().map(|(v, _)| v).filter(|v| !v.is_null()))
}

/// The scalars of kustomize's two readers, for the shared tree builder.
pub(super) struct Scalars {
    pub(super) dialect: Dialect,
}

impl ScalarResolver for Scalars {
    type Scalar = Scalar;

    fn rules(&self) -> Rules {
        let v2 = self.dialect == Dialect::SigsV2;
        Rules {
            // A repeated key is no error for go-yaml v2 outside strict mode: the last wins.
            duplicates: if v2 { DuplicateKeys::LastWins } else { DuplicateKeys::Refuse },
            // go-yaml v2 merges where the `<<` stands; kyaml's de-anchoring merges at the end
            // and refuses a second `<<`.
            merges: if v2 { MergeKeys::InPlace } else { MergeKeys::DeferredOnce },
            refuse_collection_key_at_open: true,
            // Every node counts, alias expansions at their full size, so an alias bomb fails
            // instead of exhausting memory.
            budget: Budget { document_base: None, per_char: 4, stream_base: 100_000, count_written: true },
        }
    }

    fn resolve(&self, text: &str, style: ScalarStyle, tag: Option<&Tag>, as_key: bool) -> Result<Scalar, TreeError> {
        let resolved = if style == ScalarStyle::Folded && self.dialect == Dialect::Kyaml && !as_key {
            resolve(self.dialect, &refold_like_kyaml(text), style, tag)
        } else {
            resolve(self.dialect, text, style, tag)
        };
        resolved.map_err(TreeError::Refused)
    }

    fn value(&self, scalar: Scalar) -> Result<Value, TreeError> {
        match scalar.invalid {
            Some(why) => Err(TreeError::Refused(why.to_string())),
            None => Ok(scalar.value),
        }
    }

    fn key(&self, key: Scalar, line: usize) -> Result<Key, TreeError> {
        if key.merge {
            return Ok(Key::Merge);
        }
        if self.dialect == Dialect::SigsV2 {
            let text = key.into_v2_key().ok_or_else(|| {
                TreeError::Refused(format!("key on line {line} is null; kustomize cannot use it as a map key"))
            })?;
            return Ok(Key::Name { text, string: true });
        }
        // kyaml's de-anchoring drops a quoted `"<<"` key together with its value.
        if key.string_key && key.value.as_str() == Some("<<") {
            return Ok(Key::Drop);
        }
        let null = key.value.is_null() && !key.string_key;
        let string = key.string_key;
        let text = key.into_key_text();
        if null {
            return Err(TreeError::Refused(format!("key `{text}` (line {line}) is null; kustomize refuses it")));
        }
        Ok(Key::Name { text, string })
    }

    fn key_text(&self, _key: &Scalar) -> Option<String> {
        // Paths are only for reporting repeated keys, which kustomize does not.
        None
    }

    fn duplicate_key(&self, key: &str) -> String {
        format!("mapping key `{key}` is defined twice (kustomize refuses duplicate keys)")
    }

    fn key_without_value(&self, end_line: usize) -> String {
        format!("mapping key without a value (mapping ends at line {end_line})")
    }

    fn collection_key(&self) -> String {
        "a mapping key must be a scalar, not a list or mapping".to_string()
    }

    fn second_merge_key(&self, line: usize) -> String {
        format!("second `<<` merge key (line {line}) in one mapping; kustomize refuses it")
    }

    fn nested_non_string_key(&self, key: &str, line: usize) -> Option<String> {
        // kustomize decodes the document root into map[string]interface{}, which stringifies
        // keys; nested mappings with a non-string key become map[interface{}]interface{},
        // which encoding/json refuses.
        Some(format!(
            "key `{key}` (line {line}) is not a string; kustomize cannot convert a nested mapping with such a key \
             to JSON: quote it"
        ))
    }

    fn too_many_nodes(&self, _document_allowed: Option<usize>) -> String {
        "document expands to too many nodes (alias bomb?); refusing to read it".to_string()
    }
}

/// Whether a double-quoted scalar's source uses the `\/` escape, which YAML 1.2 allows but
/// go-yaml refuses.
pub(super) fn has_escaped_slash(raw: &str) -> bool {
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b == b'\\' && bytes.next() == Some(b'/') {
            return true;
        }
    }
    false
}

/// kyaml re-encodes every document with go-yaml v3 and parses it again. A folded (`>`) scalar
/// keeps its style, and go-yaml's folded writer adds a blank line after each line that starts
/// without a space whenever the value itself does not start with a space (it tests the first
/// character of the value instead of the next line), so a line break before a more-indented
/// line comes back doubled. This replays that writer and go-yaml's folded reader on the value.
/// Re-folding of lines longer than 80 columns is not replayed.
pub(super) fn refold_like_kyaml(value: &str) -> String {
    let body = value.trim_end_matches('\n');
    let trailing = &value[body.len()..];
    if !value.contains('\n') || !analyze(value).block_allowed {
        return value.to_string();
    }
    let extra_breaks = !is_blank_or_end(value.trim_start_matches('\n').chars().next());
    // The emitted lines: (content, whether the emitter put an extra empty line before it).
    let mut s = String::with_capacity(value.len() + 8);
    let mut leading_blank = false;
    let mut leading_break = false;
    let mut trailing_breaks = 0usize;
    let mut previous_led_by_space = true;
    let mut started = false;
    for line in body.split('\n') {
        if line.is_empty() {
            trailing_breaks += 1;
            continue;
        }
        // The writer's extra empty line after a previous line that did not start with a blank.
        if started && extra_breaks && !previous_led_by_space {
            trailing_breaks += 1;
        }
        let trailing_blank = line.starts_with([' ', '\t']);
        if started && !leading_blank && !trailing_blank && leading_break {
            if trailing_breaks == 0 {
                s.push(' ');
            }
        } else if leading_break {
            s.push('\n');
        }
        s.extend(std::iter::repeat_n('\n', trailing_breaks));
        trailing_breaks = 0;
        leading_blank = trailing_blank;
        previous_led_by_space = trailing_blank;
        s.push_str(line);
        leading_break = true;
        started = true;
    }
    // With `+` chomping the extra line after the last line survives too.
    if trailing.len() >= 2 && extra_breaks && !previous_led_by_space {
        s.push('\n');
    }
    s.push_str(trailing);
    s
}
