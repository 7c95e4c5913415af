//! One YAML event-to-tree builder for every Go YAML reader the engine imitates.
//!
//! Manifests (go-yaml v2 under `sigs.k8s.io/yaml`), kustomize's resource files (kyaml, on
//! go-yaml v3) and kustomization files (go-yaml v2 again, through kustomize's conversion) agree
//! on the shape of a tree and differ in what a scalar means and in a few mapping rules. The
//! [`TreeBuilder`] holds what they share: the stack of open collections, anchors and aliases
//! with their expansion budgets, `<<` merge keys, duplicate keys, the nesting limit and the first
//! line of a document. A [`ScalarResolver`] decides the rest: what a tagged, plain or quoted
//! scalar resolves to, what a key becomes in a JSON object, and which [`Rules`] apply.
//!
//! The builder is fed events by a reader that owns the parser (each reader splits streams and
//! positions errors its own way); its methods return the problem as text, which the reader
//! places at the event it was reading.

use granit_parser::{ScalarStyle, Tag};
use serde_json::{Map, Value};

/// Nesting deeper than this is refused: no manifest needs it and it bounds recursion.
pub const MAX_DEPTH: usize = 256;

/// Why a document cannot become a tree: the builder's own limits and the reader's rules, in
/// words a user can act on (the reader adds the position).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// Lists and mappings nest deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A list or mapping ends that never started (a parser fault).
    #[error("unbalanced collection end")]
    Unbalanced,
    /// An alias names no anchor defined before it in the document.
    #[error("alias to an unknown anchor")]
    UnknownAnchor,
    /// A `<<` merge list holds something else than mappings.
    #[error("a `<<` merge list may only hold mappings")]
    MergeListItem,
    /// A `<<` merge key's value is neither a mapping nor a list of mappings.
    #[error("a `<<` merge key needs a mapping or a list of mappings")]
    MergeValue,
    /// The reader refuses the document, as the Go reader it imitates does.
    #[error("{0}")]
    Refused(String),
}

/// What a mapping key means to a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A `<<` merge key: its value (a mapping or a list of mappings) is merged into the mapping.
    Merge,
    /// A key the reader drops together with its value.
    Drop,
    /// A key of the JSON object.
    Name {
        /// The key's text in the object.
        text: String,
        /// Whether YAML typed the key as a string; see [`ScalarResolver::nested_non_string_key`].
        string: bool,
    },
}

/// What a reader does with a key a mapping gives twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateKeys {
    /// Refuse the document (an error at the repeat).
    #[default]
    Refuse,
    /// Keep the last value, as go-yaml v2's `Unmarshal` (under `sigs.k8s.io/yaml`, so
    /// kubectl and Argo CD) and Go's `encoding/json` do; the builder records the repeat.
    LastWins,
}

/// How `<<` merge keys apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeKeys {
    /// When the mapping closes, so explicit keys win wherever they stand (go-yaml v2's
    /// `Unmarshal` into an untyped value, kyaml's de-anchoring).
    Deferred,
    /// As [`MergeKeys::Deferred`], and a second `<<` in one mapping is refused (kyaml).
    DeferredOnce,
    /// Where the `<<` stands: its keys overwrite those before it, and keys after it overwrite
    /// them; in a list the earlier mappings win (go-yaml v2 decoding into a map, as
    /// `sigs.k8s.io/yaml`'s `YAMLToJSON` does).
    InPlace,
}

/// How far aliases may expand a stream, in nodes (a scalar, or a list or mapping itself,
/// counts one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Expansion any document may use, however short; `None` for no budget per document.
    pub document_base: Option<usize>,
    /// Expansion allowed per character of text: for a document, of its text read so far
    /// (aliases of what is written out are fine, exponential growth is not); for the stream, of
    /// the whole text.
    pub per_char: usize,
    /// Expansion all documents of a stream may use together, beyond `per_char` for each
    /// character of the stream: a stream of many small alias bombs is refused too.
    pub stream_base: usize,
    /// Whether nodes written out count against the stream's budget too, not only expansions.
    pub count_written: bool,
}

/// The mapping rules of a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Keys given twice.
    pub duplicates: DuplicateKeys,
    /// `<<` merge keys.
    pub merges: MergeKeys,
    /// Whether a list or mapping in key position is refused where it opens (otherwise where it
    /// is placed as the key).
    pub refuse_collection_key_at_open: bool,
    /// Alias expansion limits.
    pub budget: Budget,
}

/// A key a mapping gives twice, read under [`DuplicateKeys::LastWins`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// Index of the document, as given to [`TreeBuilder::start_document`].
    pub document: usize,
    /// The key's path in the document, such as `metadata.labels.app` or
    /// `spec.containers[0].image`.
    pub path: String,
    /// The line of the occurrence whose value was kept.
    pub line: usize,
}

/// The part of a YAML reader that differs between Go's readers: what scalars and keys mean.
pub trait ScalarResolver {
    /// A resolved scalar: its value plus whatever the reader needs to use it as a key.
    type Scalar: Clone;

    /// The reader's mapping rules.
    fn rules(&self) -> Rules;

    /// Resolves a scalar from its text, style and tag; `as_key` when it is a mapping key.
    fn resolve(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        as_key: bool,
    ) -> Result<Self::Scalar, TreeError>;

    /// The value of a scalar where it is a value (in a list, under a key, the document root).
    fn value(&self, scalar: Self::Scalar) -> Result<Value, TreeError>;

    /// What a scalar key on `line` means, decided when its value is placed.
    fn key(&self, scalar: Self::Scalar, line: usize) -> Result<Key, TreeError>;

    /// The text of a pending key, for the path of a repeated key.
    fn key_text(&self, scalar: &Self::Scalar) -> Option<String>;

    /// The error for a key given twice under [`DuplicateKeys::Refuse`].
    fn duplicate_key(&self, key: &str) -> String {
        format!("duplicate key `{key}` in a mapping")
    }

    /// The error for a mapping that ends (on `end_line`) after a key without its value.
    fn key_without_value(&self, end_line: usize) -> String {
        let _ = end_line;
        "mapping key without a value".to_string()
    }

    /// The error for a list or mapping in key position.
    fn collection_key(&self) -> String {
        "a mapping key must be a scalar".to_string()
    }

    /// The error for a second `<<` key (on `line`) under [`MergeKeys::DeferredOnce`].
    fn second_merge_key(&self, line: usize) -> String {
        format!("second `<<` merge key (line {line}) in one mapping")
    }

    /// The error for a nested (not root) mapping with a key YAML did not type as a string,
    /// the first such `key` being on `line`; `None` when such mappings are fine.
    fn nested_non_string_key(&self, key: &str, line: usize) -> Option<String> {
        let _ = (key, line);
        None
    }

    /// The error for aliases expanding past the budget: of the document (`Some` of what it
    /// allowed at that point) or of the stream (`None`).
    fn too_many_nodes(&self, document_allowed: Option<usize>) -> String {
        match document_allowed {
            Some(allowed) => format!(
                "document expands to too many nodes through aliases (more than {allowed} at this point; \
                 an alias bomb?); refusing to read it"
            ),
            None => "the documents of this stream together expand to too many nodes through aliases; \
                     refusing to read further (split the stream into several files)"
                .to_string(),
        }
    }
}

/// A node under construction: a scalar keeps what its resolver said about it until it is placed.
#[derive(Debug, Clone)]
enum Node<S> {
    Scalar(S),
    Value(Value),
}

enum Open<S> {
    Seq(Vec<Value>),
    Map(MapBuilder<S>),
}

struct MapBuilder<S> {
    map: Map<String, Value>,
    /// The pending key and the line it was written on.
    key: Option<(S, usize)>,
    /// Sources named by `<<` keys, applied when the mapping closes (deferred merges).
    merges: Vec<Value>,
    /// A `<<` key was seen.
    merged: bool,
    /// The first key YAML did not type as a string, and its line.
    non_string_key: Option<(String, usize)>,
}

struct Frame<S> {
    open: Open<S>,
    anchor: usize,
}

/// Builds JSON trees from YAML events, one document at a time, under a [`ScalarResolver`].
pub struct TreeBuilder<R: ScalarResolver> {
    resolver: R,
    rules: Rules,
    stack: Vec<Frame<R::Scalar>>,
    anchors: Vec<(usize, Node<R::Scalar>, usize)>,
    root: Option<Value>,
    first_line: usize,
    /// Nodes still allowed for the rest of the stream.
    stream_budget: usize,
    /// Alias expansion (in nodes) of the current document so far.
    document_expansion: usize,
    /// Character offset where the current document starts.
    document_start: usize,
    /// Index of the current document.
    document: usize,
    /// Keys given twice so far.
    repeated: Vec<Repeat>,
}

impl<R: ScalarResolver> TreeBuilder<R> {
    /// A builder for a stream of `input_len` characters.
    pub fn new(resolver: R, input_len: usize) -> Self {
        let rules = resolver.rules();
        let budget = rules.budget;
        TreeBuilder {
            resolver,
            rules,
            stack: Vec::new(),
            anchors: Vec::new(),
            root: None,
            first_line: 0,
            stream_budget: input_len.saturating_mul(budget.per_char).saturating_add(budget.stream_base),
            document_expansion: 0,
            document_start: 0,
            document: 0,
            repeated: Vec::new(),
        }
    }

    /// The resolver.
    pub fn resolver(&self) -> &R {
        &self.resolver
    }

    /// Starts a document with index `index` at character offset `at` of the stream.
    pub fn start_document(&mut self, at: usize, index: usize) {
        self.document = index;
        self.stack.clear();
        self.anchors.clear();
        self.root = None;
        self.first_line = 0;
        self.document_expansion = 0;
        self.document_start = at;
    }

    /// Ends the document: its root, if it has one, and the line its content starts on.
    pub fn finish_document(&mut self) -> Option<(Value, usize)> {
        self.anchors.clear();
        self.root.take().map(|v| (v, self.first_line))
    }

    /// One-based line where the current (or last finished) document's content starts; 0 before
    /// any content.
    pub fn first_line(&self) -> usize {
        self.first_line
    }

    /// Whether the document's root is complete (nothing is open).
    pub fn is_complete(&self) -> bool {
        self.stack.is_empty() && self.root.is_some()
    }

    /// Whether the next node is a mapping key.
    pub fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame { open: Open::Map(m), .. }) if m.key.is_none())
    }

    /// Takes the keys given twice so far (under [`DuplicateKeys::LastWins`]).
    pub fn take_repeated(&mut self) -> Vec<Repeat> {
        std::mem::take(&mut self.repeated)
    }

    fn spend_written(&mut self) -> Result<(), TreeError> {
        if self.rules.budget.count_written {
            self.stream_budget = self
                .stream_budget
                .checked_sub(1)
                .ok_or_else(|| TreeError::Refused(self.resolver.too_many_nodes(None)))?;
        }
        Ok(())
    }

    /// Counts an alias expansion of `n` nodes at character offset `at` against the budgets
    /// of the document and of the stream.
    fn spend_alias(&mut self, n: usize, at: usize) -> Result<(), TreeError> {
        let budget = self.rules.budget;
        if let Some(base) = budget.document_base {
            self.document_expansion = self.document_expansion.saturating_add(n);
            let read = at.saturating_sub(self.document_start);
            let allowed = read.saturating_mul(budget.per_char).saturating_add(base);
            if self.document_expansion > allowed {
                return Err(TreeError::Refused(self.resolver.too_many_nodes(Some(allowed))));
            }
        }
        self.stream_budget =
            self.stream_budget.checked_sub(n).ok_or_else(|| TreeError::Refused(self.resolver.too_many_nodes(None)))?;
        Ok(())
    }

    fn note_first_line(&mut self, line: usize) {
        if self.stack.is_empty() && self.first_line == 0 {
            self.first_line = line;
        }
    }

    /// A list starts, on `line`, with anchor id `anchor` (0 for none).
    pub fn open_sequence(&mut self, anchor: usize, line: usize) -> Result<(), TreeError> {
        self.open(Open::Seq(Vec::new()), anchor, line)
    }

    /// A mapping starts, on `line`, with anchor id `anchor` (0 for none).
    pub fn open_mapping(&mut self, anchor: usize, line: usize) -> Result<(), TreeError> {
        let map = MapBuilder { map: Map::new(), key: None, merges: Vec::new(), merged: false, non_string_key: None };
        self.open(Open::Map(map), anchor, line)
    }

    fn open(&mut self, open: Open<R::Scalar>, anchor: usize, line: usize) -> Result<(), TreeError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(TreeError::TooDeep);
        }
        self.spend_written()?;
        self.note_first_line(line);
        if self.rules.refuse_collection_key_at_open && self.expects_key() {
            return Err(TreeError::Refused(self.resolver.collection_key()));
        }
        self.stack.push(Frame { open, anchor });
        Ok(())
    }

    /// The innermost list or mapping ends, on `line`.
    pub fn close(&mut self, line: usize) -> Result<(), TreeError> {
        let frame = self.stack.pop().ok_or(TreeError::Unbalanced)?;
        let value = match frame.open {
            Open::Seq(items) => Value::Array(items),
            Open::Map(mut m) => {
                if m.key.is_some() {
                    return Err(TreeError::Refused(self.resolver.key_without_value(line)));
                }
                // Only the document root may have such keys (kustomize decodes it into a map
                // with string keys; nested ones fail Go's JSON encoding).
                if let Some((key, key_line)) = m.non_string_key.take()
                    && !self.stack.is_empty()
                    && let Some(message) = self.resolver.nested_non_string_key(&key, key_line)
                {
                    return Err(TreeError::Refused(message));
                }
                for source in std::mem::take(&mut m.merges) {
                    merge_into(&mut m.map, source);
                }
                Value::Object(m.map)
            }
        };
        self.place(Node::Value(value), frame.anchor, 0, line)
    }

    /// An alias to anchor id `id`, at character offset `at` and on `line`.
    pub fn alias(&mut self, id: usize, at: usize, line: usize) -> Result<(), TreeError> {
        let (node, size) = self
            .anchors
            .iter()
            .rev()
            .find(|(a, _, _)| *a == id)
            .map(|(_, n, s)| (n.clone(), *s))
            .ok_or(TreeError::UnknownAnchor)?;
        self.spend_alias(size, at)?;
        self.place(node, 0, size, line)
    }

    /// A scalar event on `line`, resolved by the resolver (as a key where one is expected).
    pub fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        anchor: usize,
        line: usize,
    ) -> Result<(), TreeError> {
        let scalar = self.resolver.resolve(text, style, tag, self.expects_key())?;
        self.spend_written()?;
        self.note_first_line(line);
        self.place(Node::Scalar(scalar), anchor, 1, line)
    }

    fn value(&self, node: Node<R::Scalar>) -> Result<Value, TreeError> {
        match node {
            Node::Scalar(s) => self.resolver.value(s),
            Node::Value(v) => Ok(v),
        }
    }

    /// Puts a finished node where it belongs; `line` is where it started.
    fn place(&mut self, node: Node<R::Scalar>, anchor: usize, size_hint: usize, line: usize) -> Result<(), TreeError> {
        if anchor != 0 {
            let size = match &node {
                Node::Value(v) if size_hint == 0 => count_nodes(v),
                _ => size_hint.max(1),
            };
            self.anchors.push((anchor, node.clone(), size));
        }
        let depth = self.stack.len();
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(self.value(node)?);
            return Ok(());
        };
        let m = match &mut top.open {
            Open::Seq(items) => {
                let value = match node {
                    Node::Scalar(s) => self.resolver.value(s)?,
                    Node::Value(v) => v,
                };
                items.push(value);
                return Ok(());
            }
            Open::Map(m) => m,
        };
        let Some((key, key_line)) = m.key.take() else {
            match node {
                Node::Scalar(s) => m.key = Some((s, line)),
                Node::Value(_) => return Err(TreeError::Refused(self.resolver.collection_key())),
            }
            return Ok(());
        };
        match self.resolver.key(key, key_line)? {
            Key::Drop => {}
            Key::Merge => {
                if self.rules.merges == MergeKeys::DeferredOnce && m.merged {
                    return Err(TreeError::Refused(self.resolver.second_merge_key(key_line)));
                }
                m.merged = true;
                let value = match node {
                    Node::Scalar(s) => self.resolver.value(s)?,
                    Node::Value(v) => v,
                };
                if self.rules.merges == MergeKeys::InPlace {
                    merge_in_place(&mut m.map, value)?;
                } else {
                    add_merge(&mut m.merges, value)?;
                }
            }
            Key::Name { text, string } => {
                if !string && m.non_string_key.is_none() {
                    m.non_string_key = Some((text.clone(), key_line));
                }
                let repeat = m.map.contains_key(&text);
                if repeat && self.rules.duplicates == DuplicateKeys::Refuse {
                    return Err(TreeError::Refused(self.resolver.duplicate_key(&text)));
                }
                let value = match node {
                    Node::Scalar(s) => self.resolver.value(s)?,
                    Node::Value(v) => v,
                };
                m.map.insert(text.clone(), value);
                if repeat {
                    let path = self.path_to(depth - 1, &text);
                    self.repeated.push(Repeat { document: self.document, path, line: key_line });
                }
            }
        }
        Ok(())
    }

    /// The path of `key` in the mapping at `depth` of the stack: each enclosing mapping's key
    /// being read and each enclosing list's next index.
    fn path_to(&self, depth: usize, key: &str) -> String {
        let mut out = String::new();
        for frame in &self.stack[..depth] {
            match &frame.open {
                Open::Map(m) => {
                    if let Some(k) = m.key.as_ref().and_then(|(s, _)| self.resolver.key_text(s)) {
                        push_key(&mut out, &k);
                    }
                }
                Open::Seq(items) => {
                    out.push('[');
                    out.push_str(&items.len().to_string());
                    out.push(']');
                }
            }
        }
        push_key(&mut out, key);
        out
    }
}

fn push_key(out: &mut String, key: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(key);
}

/// A deferred `<<` source: a mapping, or a list of mappings where an earlier one wins.
fn add_merge(merges: &mut Vec<Value>, value: Value) -> Result<(), TreeError> {
    match value {
        Value::Object(_) => merges.push(value),
        Value::Array(items) => {
            for item in items {
                if !item.is_object() {
                    return Err(TreeError::MergeListItem);
                }
                merges.push(item);
            }
        }
        _ => return Err(TreeError::MergeValue),
    }
    Ok(())
}

/// A `<<` source merged where it stands.
fn merge_in_place(map: &mut Map<String, Value>, value: Value) -> Result<(), TreeError> {
    match value {
        Value::Object(source) => map.extend(source),
        Value::Array(items) => {
            for item in items.into_iter().rev() {
                let Value::Object(source) = item else {
                    return Err(TreeError::MergeListItem);
                };
                map.extend(source);
            }
        }
        _ => return Err(TreeError::MergeValue),
    }
    Ok(())
}

fn merge_into(map: &mut Map<String, Value>, source: Value) {
    if let Value::Object(src) = source {
        for (k, v) in src {
            map.entry(k).or_insert(v);
        }
    }
}

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(count_nodes).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}
