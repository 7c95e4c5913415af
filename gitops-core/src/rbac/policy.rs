//! Policy text read into rules and a role graph, patterns compiled once.

use rustc_hash::FxHashMap;

use super::matcher::{MatchMode, Matcher};
use super::{Error, csv};

/// Argo CD's built-in policy (`role:readonly`, `role:admin`, `admin` in `role:admin`).
pub const BUILTIN_POLICY_CSV: &str = include_str!("builtin-policy.csv");

/// How deep `g` lines are followed from a subject, as casbin's default role manager does.
const MAX_ROLE_DEPTH: usize = 10;

/// What a matching `p` line decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `allow`.
    Allow,
    /// `deny`: wins over every allow of the same enforcement.
    Deny,
    /// Any other word, kept as written (casbin is case-sensitive: `Allow` is not `allow`):
    /// the line never decides anything.
    Other(String),
}

impl Effect {
    fn parse(word: &str) -> Effect {
        match word {
            "allow" => Effect::Allow,
            "deny" => Effect::Deny,
            other => Effect::Other(other.to_string()),
        }
    }
}

/// Where a line came from: the source (a file or ConfigMap key) and its one-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, ConfigMap key or `builtin`.
    pub source: String,
    /// One-based line in that source.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} line {}", self.source, self.line)
    }
}

/// One field of a `p` line: its text and its compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    matcher: Matcher,
}

impl Pattern {
    fn new(text: String, mode: MatchMode) -> Pattern {
        let matcher = Matcher::new(&text, mode);
        Pattern { text, matcher }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `value` matches it.
    pub fn matches(&self, value: &str) -> bool {
        self.matcher.matches(value)
    }

    /// Whether the pattern did not compile (then it never matches).
    pub fn is_broken(&self) -> bool {
        self.matcher.is_broken()
    }
}

/// A `p` line: `p, subject, resource, action, object, effect`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Who it is for (a user, group or role; never a pattern).
    pub subject: String,
    /// `applications`, `clusters`, ... or a pattern.
    pub resource: Pattern,
    /// `get`, `update/*`, `action/apps/Deployment/restart`, ... or a pattern.
    pub action: Pattern,
    /// `<project>/<app>`, a URL, a name, or a pattern.
    pub object: Pattern,
    /// `allow`, `deny` or another word (never applies).
    pub effect: Effect,
    /// Where the line is.
    pub location: Location,
}

impl Rule {
    fn matches(&self, resource: &str, action: &str, object: &str) -> bool {
        self.resource.matches(resource) && self.action.matches(action) && self.object.matches(object)
    }
}

/// A `g` line: `g, member, role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// The user, group or role that gets the role.
    pub member: String,
    /// The role it gets.
    pub role: String,
    /// Where the line is.
    pub location: Location,
}

/// A policy: `p` rules and `g` role assignments, with patterns compiled for one match mode.
///
/// Cheap to query: rules are indexed by subject and roles by member, so a check looks only at
/// the lines of the subject and the roles it has.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    mode: MatchMode,
    rules: Vec<Rule>,
    groupings: Vec<Grouping>,
    rules_by_subject: FxHashMap<String, Vec<usize>>,
    roles_by_member: FxHashMap<String, Vec<usize>>,
}

impl Policy {
    /// An empty policy matching in `mode`.
    pub fn new(mode: MatchMode) -> Policy {
        Policy { mode, ..Policy::default() }
    }

    /// Reads CSV policy text (named `policy.csv` in errors).
    pub fn from_csv(text: &str, mode: MatchMode) -> Result<Policy, Error> {
        Policy::from_sources(&[("policy.csv", text)], mode)
    }

    /// Reads several named CSV texts as one policy, in order; errors name the source and
    /// its line.
    pub fn from_sources(sources: &[(&str, &str)], mode: MatchMode) -> Result<Policy, Error> {
        let mut policy = Policy::new(mode);
        for (name, text) in sources {
            policy.add_csv(name, text)?;
        }
        Ok(policy)
    }

    /// Argo CD's built-in policy, compiled for `mode`.
    pub fn builtin(mode: MatchMode) -> Policy {
        // The text is ours and is checked by a test; an error cannot happen.
        Policy::from_sources(&[("builtin", BUILTIN_POLICY_CSV)], mode).unwrap_or_else(|_| Policy::new(mode))
    }

    /// Adds the lines of `text` (named `source` in errors). On an error nothing is added.
    pub fn add_csv(&mut self, source: &str, text: &str) -> Result<(), Error> {
        let mut rules = Vec::new();
        let mut groupings = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let location = Location { source: source.to_string(), line: i + 1 };
            let bad = |problem: String| Error::Line { location: location.clone(), text: line.to_string(), problem };
            let fields = csv::fields(line).map_err(|e| bad(e.to_string()))?;
            let kind = fields.first().cloned().unwrap_or_default();
            match kind.as_str() {
                "p" => match <[String; 6]>::try_from(fields) {
                    Ok([_, subject, resource, action, object, effect]) => rules.push(Rule {
                        subject,
                        resource: Pattern::new(resource, self.mode),
                        action: Pattern::new(action, self.mode),
                        object: Pattern::new(object, self.mode),
                        effect: Effect::parse(&effect),
                        location,
                    }),
                    Err(f) => {
                        return Err(bad(format!(
                            "a `p` line has 6 fields (p, subject, resource, action, object, effect), this one {}",
                            f.len()
                        )));
                    }
                },
                "g" => match <[String; 3]>::try_from(fields) {
                    Ok([_, member, role]) => groupings.push(Grouping { member, role, location }),
                    Err(f) => {
                        return Err(bad(format!("a `g` line has 3 fields (g, member, role), this one {}", f.len())));
                    }
                },
                "" => return Err(bad("the line type is empty; it must be `p` or `g`".to_string())),
                other => return Err(bad(format!("unknown line type `{other}`; it must be `p` or `g`"))),
            }
        }
        for rule in rules {
            self.rules_by_subject.entry(rule.subject.clone()).or_default().push(self.rules.len());
            self.rules.push(rule);
        }
        for g in groupings {
            self.roles_by_member.entry(g.member.clone()).or_default().push(self.groupings.len());
            self.groupings.push(g);
        }
        Ok(())
    }

    /// Adds every line of `other` after this policy's own (its patterns are compiled again
    /// when the modes differ).
    pub fn extend(&mut self, other: &Policy) {
        for rule in &other.rules {
            let mut rule = rule.clone();
            if other.mode != self.mode {
                rule.resource = Pattern::new(rule.resource.text, self.mode);
                rule.action = Pattern::new(rule.action.text, self.mode);
                rule.object = Pattern::new(rule.object.text, self.mode);
            }
            self.rules_by_subject.entry(rule.subject.clone()).or_default().push(self.rules.len());
            self.rules.push(rule);
        }
        for g in &other.groupings {
            self.roles_by_member.entry(g.member.clone()).or_default().push(self.groupings.len());
            self.groupings.push(g.clone());
        }
    }

    /// The match mode its patterns were compiled for.
    pub fn mode(&self) -> MatchMode {
        self.mode
    }

    /// The `p` lines, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The `g` lines, in order.
    pub fn groupings(&self) -> &[Grouping] {
        &self.groupings
    }

    /// Whether `name` is the first field (the member) of some `g` line: Argo CD only checks
    /// a user's groups that are.
    pub fn has_roles(&self, name: &str) -> bool {
        self.roles_by_member.contains_key(name)
    }

    /// `subject` and every role it has through `g` lines, at most 10 steps away, each once,
    /// nearest first.
    pub fn subject_chain<'a>(&'a self, subject: &'a str) -> Vec<&'a str> {
        chain(&[self], subject)
    }

    /// One casbin enforcement of Argo CD's model: the `p` lines of `subject` and of the roles
    /// it has are matched against the request; a matching deny wins, else a matching allow
    /// is needed.
    pub fn enforce(&self, subject: &str, resource: &str, action: &str, object: &str) -> bool {
        enforce(&[self], subject, resource, action, object)
    }

    /// The `p` lines that apply to `subject` directly or through its roles.
    pub fn permissions_of<'a>(&'a self, subject: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.subject_chain(subject)
            .into_iter()
            .flat_map(move |s| self.rules_by_subject.get(s).into_iter().flatten().map(move |&r| &self.rules[r]))
    }
}

/// [`Policy::subject_chain`] over policies read one after the other (the global policy and a
/// project's runtime policy), without joining them.
pub(crate) fn chain<'a>(layers: &[&'a Policy], subject: &'a str) -> Vec<&'a str> {
    let mut chain = vec![subject];
    let mut level_start = 0;
    for _ in 0..MAX_ROLE_DEPTH {
        let level_end = chain.len();
        for i in level_start..level_end {
            for layer in layers {
                for &g in layer.roles_by_member.get(chain[i]).map_or(&[][..], Vec::as_slice) {
                    let role = layer.groupings[g].role.as_str();
                    if !chain.contains(&role) {
                        chain.push(role);
                    }
                }
            }
        }
        if chain.len() == level_end {
            break;
        }
        level_start = level_end;
    }
    chain
}

/// [`Policy::enforce`] over policies read one after the other.
pub(crate) fn enforce(layers: &[&Policy], subject: &str, resource: &str, action: &str, object: &str) -> bool {
    let mut allowed = false;
    let mut decide = |s: &str| -> bool {
        for layer in layers {
            for &r in layer.rules_by_subject.get(s).map_or(&[][..], Vec::as_slice) {
                let rule = &layer.rules[r];
                match rule.effect {
                    Effect::Deny if rule.matches(resource, action, object) => return false,
                    Effect::Allow if !allowed && rule.matches(resource, action, object) => allowed = true,
                    _ => {}
                }
            }
        }
        true
    };
    // Most subjects have no role of their own; that path allocates nothing.
    if !layers.iter().any(|l| l.has_roles(subject)) {
        return decide(subject) && allowed;
    }
    for s in chain(layers, subject) {
        if !decide(s) {
            return false;
        }
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_policy_reads_cleanly() {
        let p = Policy::from_sources(&[("builtin", BUILTIN_POLICY_CSV)], MatchMode::Glob).unwrap();
        assert_eq!(p.groupings().len(), 2);
        assert!(p.rules().len() > 40);
        assert!(p.rules().iter().all(|r| r.effect == Effect::Allow && !r.object.is_broken()));
    }

    #[test]
    fn bad_lines_name_source_line_and_problem() {
        let cases = [
            (
                "p, alice, applications, get, */*",
                "policy.csv line 2: invalid RBAC policy `p, alice, applications, get, */*`: a `p` line has 6 fields (p, subject, resource, action, object, effect), this one 5",
            ),
            (
                "g, alice",
                "policy.csv line 2: invalid RBAC policy `g, alice`: a `g` line has 3 fields (g, member, role), this one 2",
            ),
            ("g, alice, role:x, extra", "a `g` line has 3 fields (g, member, role), this one 4"),
            ("x, alice, role:x", "unknown line type `x`; it must be `p` or `g`"),
            ("p2, a, b, c, d, allow", "unknown line type `p2`"),
            (", alice, role:x", "the line type is empty"),
            (r#"g, "alice, role:x"#, "extraneous or missing \" in quoted-field"),
            (r#"g, al"ice, role:x"#, "bare \" in non-quoted-field"),
        ];
        for (line, want) in cases {
            let text = format!("# a comment\n{line}\n");
            let e = Policy::from_csv(&text, MatchMode::Glob).unwrap_err().to_string();
            assert!(e.contains(want), "{line:?}: {e}");
            assert!(e.starts_with("policy.csv line 2:"), "{e}");
        }
    }

    #[test]
    fn comments_blank_lines_and_spaces_are_skipped() {
        let p = Policy::from_csv("\n  # x\n\t\n   p, a, b, c, d, allow   \r\n g,a,r\n", MatchMode::Glob).unwrap();
        assert_eq!(p.rules().len(), 1);
        assert_eq!(p.rules()[0].location.line, 4);
        assert_eq!(p.groupings()[0].location.line, 5);
        assert_eq!(p.groupings()[0].role, "r");
    }

    #[test]
    fn roles_are_followed_ten_steps_and_no_further() {
        // u -> r1 -> r2 -> ... -> r11; each role may get, on its own object.
        let mut text = String::from("g, u, r1\n");
        for i in 1..=11 {
            text += &format!("g, r{i}, r{}\np, r{i}, clusters, get, c{i}, allow\n", i + 1);
        }
        let p = Policy::from_csv(&text, MatchMode::Glob).unwrap();
        assert!(p.enforce("u", "clusters", "get", "c1"));
        assert!(p.enforce("u", "clusters", "get", "c10"));
        assert!(!p.enforce("u", "clusters", "get", "c11"));
        // Cycles end.
        let p = Policy::from_csv("g, a, b\ng, b, a\np, b, clusters, get, *, allow", MatchMode::Glob).unwrap();
        assert!(p.enforce("a", "clusters", "get", "x"));
    }

    #[test]
    fn role_names_are_exact() {
        let p = Policy::from_csv("g, alice, role:*\np, role:x, clusters, get, *, allow", MatchMode::Glob).unwrap();
        assert!(!p.enforce("alice", "clusters", "get", "c"));
        // Nor is the subject of a `p` line a pattern.
        let p = Policy::from_csv("p, *, clusters, get, *, allow", MatchMode::Glob).unwrap();
        assert!(!p.enforce("alice", "clusters", "get", "c"));
        assert!(p.enforce("*", "clusters", "get", "c"));
    }

    #[test]
    fn other_effects_never_apply() {
        // casbin compares the effect word exactly: `Allow` neither allows nor denies.
        let p = Policy::from_csv("p, a, clusters, get, *, Allow", MatchMode::Glob).unwrap();
        assert_eq!(p.rules()[0].effect, Effect::Other("Allow".into()));
        assert!(!p.enforce("a", "clusters", "get", "c"));
        let p =
            Policy::from_csv("p, a, clusters, get, *, allow\np, a, clusters, get, *, Deny", MatchMode::Glob).unwrap();
        assert!(p.enforce("a", "clusters", "get", "c"));
    }

    #[test]
    fn extend_recompiles_for_the_target_mode() {
        let mut p = Policy::new(MatchMode::Regex);
        p.extend(&Policy::builtin(MatchMode::Glob));
        // `*/*` is no regex: in regex mode the built-in application rules match nothing.
        assert!(!p.enforce("admin", "applications", "get", "default/app"));
        assert!(Policy::builtin(MatchMode::Glob).enforce("admin", "applications", "get", "default/app"));
    }
}
