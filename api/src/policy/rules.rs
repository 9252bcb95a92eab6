//! The native engine `cairn-rules/1` (docs/spec.md §15).
//!
//! A bundle holds one rules file, `rules.toml` or `rules.json`:
//!
//! ```toml
//! [[rule]]
//! id = "deny-agent-on-production"
//! effect = "DENY"                      # or "ALLOW"
//! description = "agents never change production"
//! subjects = ["agent:*"]               # globs over request.subject.id
//! surfaces = ["eks"]                   # globs over request.resource.type
//! actions = ["delete_*", "scale_*"]    # globs over request.action.name
//! resources = ["production:*"]         # globs over request.resource.id
//! priority = 10                        # orders determining_rules only
//! requires_approval = false            # ALLOW only
//! conditions = [{ op = "gt", path = "/nd_inputs/deletions_last_hour", value = 10 }]
//! ```
//!
//! Semantics: a rule matches when every list has a matching glob (an empty
//! list matches nothing) and every condition holds (conditions are only
//! evaluated for rules whose lists match, in order). Any evaluation error
//! gives SILENCE. Else any matching DENY gives DENY. Else a matching ALLOW
//! without `requires_approval`, or with it and an APPROVED approval, gives
//! PERMIT. Else a matching ALLOW that needs approval gives DENY (approval
//! required, denied, or timed out). Else DENY (default deny).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use super::rules_eval::{Doc, eval};

use super::glob::Glob;
use super::{DecisionInput, PolicyDecision, PolicyError, reasons};
use crate::receipt::{ApprovalOutcome, SubProfile};
use crate::timestamp::Timestamp;

/// Engine name.
pub const ENGINE_NAME: &str = "cairn-rules";
/// The one version of the engine this crate implements.
pub const ENGINE_VERSION: &str = "1";
/// The rules file, TOML.
pub const RULES_TOML: &str = "rules.toml";
/// The rules file, JSON (a bundle holds exactly one of the two).
pub const RULES_JSON: &str = "rules.json";

/// Most rules in one bundle.
pub const MAX_RULES: usize = 10_000;
/// Most globs in one rule list.
pub const MAX_GLOBS_PER_LIST: usize = 256;
/// Most conditions on one rule.
pub const MAX_CONDITIONS: usize = 64;

/// Effect of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Effect {
    /// Permit (possibly only with approval).
    Allow,
    /// Deny; wins over every ALLOW.
    Deny,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cmp {
    /// =
    Eq,
    /// ≠
    Ne,
    /// <
    Lt,
    /// ≤
    Le,
    /// >
    Gt,
    /// ≥
    Ge,
}

impl Cmp {
    pub(super) fn holds<T: Ord>(self, a: &T, b: &T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// A condition as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConditionSpec {
    /// The value at `path` equals `value`.
    Eq {
        /// JSON pointer.
        path: String,
        /// Literal.
        value: Value,
    },
    /// The value at `path` differs from `value`.
    Ne {
        /// JSON pointer.
        path: String,
        /// Literal.
        value: Value,
    },
    /// The value at `path` is one of `values`.
    In {
        /// JSON pointer.
        path: String,
        /// Literals.
        values: Vec<Value>,
    },
    /// The string at `path` matches the glob.
    Glob {
        /// JSON pointer.
        path: String,
        /// Glob.
        pattern: String,
    },
    /// The string at `path` starts with `value`.
    Prefix {
        /// JSON pointer.
        path: String,
        /// Prefix.
        value: String,
    },
    /// Integer or time below `value`.
    Lt {
        /// JSON pointer.
        path: String,
        /// Integer or RFC 3339 string.
        value: Value,
    },
    /// Integer or time at most `value`.
    Le {
        /// JSON pointer.
        path: String,
        /// Integer or RFC 3339 string.
        value: Value,
    },
    /// Integer or time above `value`.
    Gt {
        /// JSON pointer.
        path: String,
        /// Integer or RFC 3339 string.
        value: Value,
    },
    /// Integer or time at least `value`.
    Ge {
        /// JSON pointer.
        path: String,
        /// Integer or RFC 3339 string.
        value: Value,
    },
    /// Something is at `path` (null included).
    Exists {
        /// JSON pointer.
        path: String,
    },
    /// The number of lineage links compared with `value`.
    LineageDepth {
        /// Comparison.
        cmp: Cmp,
        /// Depth.
        value: u64,
    },
    /// Some lineage link's subject has this profile.
    SubProfile {
        /// `human`, `ai_agent` or `workload`.
        value: SubProfile,
    },
    /// `nd_inputs.clock` lies in `[from, to)`.
    ClockBetween {
        /// RFC 3339.
        from: String,
        /// RFC 3339.
        to: String,
    },
    /// The UTC hour of `nd_inputs.clock` lies in `[from_hour, to_hour)`
    /// (wrapping past midnight when `from_hour > to_hour`).
    ClockHours {
        /// 0..=23.
        from_hour: u8,
        /// 0..=24.
        to_hour: u8,
    },
}

/// A rule as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique id.
    pub id: String,
    /// ALLOW or DENY.
    pub effect: Effect,
    /// For people.
    #[serde(default)]
    pub description: String,
    /// Globs over `request.subject.id`.
    pub subjects: Vec<String>,
    /// Globs over `request.resource.type`.
    pub surfaces: Vec<String>,
    /// Globs over `request.action.name`.
    pub actions: Vec<String>,
    /// Globs over `request.resource.id`.
    pub resources: Vec<String>,
    /// All must hold.
    #[serde(default)]
    pub conditions: Vec<ConditionSpec>,
    /// ALLOW only: permits only with an APPROVED approval.
    #[serde(default)]
    pub requires_approval: bool,
    /// Orders `determining_rules` (descending); never changes the outcome.
    #[serde(default)]
    pub priority: i64,
}

/// A rules file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// The rules.
    #[serde(default)]
    pub rule: Vec<RuleSpec>,
    /// Optional vocabulary for `policy check`: the surfaces and actions the
    /// gates in front of this policy know.
    #[serde(default)]
    pub vocabulary: Option<Vocabulary>,
}

/// Known surfaces and actions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    /// Surface names.
    #[serde(default)]
    pub surfaces: Vec<String>,
    /// Action names.
    #[serde(default)]
    pub actions: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) enum Bound {
    Int(i128),
    Time(Timestamp),
}

#[derive(Debug, Clone)]
pub(super) enum Cond {
    Eq(String, Value, bool),
    In(String, Vec<Value>),
    Glob(String, Glob),
    Prefix(String, String),
    Order(String, Cmp, Bound),
    Exists(String),
    LineageDepth(Cmp, u64),
    SubProfile(SubProfile),
    ClockBetween(Timestamp, Timestamp),
    ClockHours(u8, u8),
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule as written.
    pub spec: RuleSpec,
    subjects: Vec<Glob>,
    surfaces: Vec<Glob>,
    actions: Vec<Glob>,
    resources: Vec<Glob>,
    conditions: Vec<Cond>,
}

/// A compiled rule set.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// The vocabulary, if the file has one.
    pub vocabulary: Option<Vocabulary>,
}

fn bad(file: &str, rule: &str, why: impl Into<String>) -> PolicyError {
    PolicyError::Rule {
        file: file.to_owned(),
        rule: rule.to_owned(),
        problem: why.into(),
    }
}

fn pointer(file: &str, rule: &str, p: &str) -> Result<String, PolicyError> {
    let root = p.split('/').nth(1).unwrap_or_default();
    if !p.starts_with('/') || !["request", "context", "approval", "lineage", "nd_inputs"].contains(&root) {
        return Err(bad(
            file,
            rule,
            format!("path {p:?} must be a JSON pointer under /request, /context, /approval, /lineage or /nd_inputs"),
        ));
    }
    // RFC 6901: `~` is only ever `~0` or `~1`.
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(bad(
                file,
                rule,
                format!("path {p:?}: `~` must be followed by 0 or 1 (RFC 6901)"),
            ));
        }
    }
    Ok(p.to_owned())
}

fn bound(file: &str, rule: &str, v: &Value) -> Result<Bound, PolicyError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .map(Bound::Int)
            .ok_or_else(|| bad(file, rule, "comparison value must be an integer or an RFC 3339 time")),
        Value::String(s) => Timestamp::parse_rfc3339(s)
            .map(Bound::Time)
            .map_err(|e| bad(file, rule, format!("comparison value {s:?}: {e}"))),
        _ => Err(bad(
            file,
            rule,
            "comparison value must be an integer or an RFC 3339 time",
        )),
    }
}

fn no_floats(file: &str, rule: &str, v: &Value) -> Result<(), PolicyError> {
    match v {
        Value::Number(n) if n.is_f64() => Err(bad(file, rule, "literals must not be floats")),
        Value::Array(a) => a.iter().try_for_each(|x| no_floats(file, rule, x)),
        Value::Object(o) => o.values().try_for_each(|x| no_floats(file, rule, x)),
        _ => Ok(()),
    }
}

fn compile_cond(file: &str, rule: &str, c: &ConditionSpec) -> Result<Cond, PolicyError> {
    let p = |path: &str| pointer(file, rule, path);
    Ok(match c {
        ConditionSpec::Eq { path, value } => {
            no_floats(file, rule, value)?;
            Cond::Eq(p(path)?, value.clone(), true)
        }
        ConditionSpec::Ne { path, value } => {
            no_floats(file, rule, value)?;
            Cond::Eq(p(path)?, value.clone(), false)
        }
        ConditionSpec::In { path, values } => {
            values.iter().try_for_each(|v| no_floats(file, rule, v))?;
            Cond::In(p(path)?, values.clone())
        }
        ConditionSpec::Glob { path, pattern } => Cond::Glob(
            p(path)?,
            Glob::new(pattern).map_err(|e| bad(file, rule, e.to_string()))?,
        ),
        ConditionSpec::Prefix { path, value } => Cond::Prefix(p(path)?, value.clone()),
        ConditionSpec::Lt { path, value } => Cond::Order(p(path)?, Cmp::Lt, bound(file, rule, value)?),
        ConditionSpec::Le { path, value } => Cond::Order(p(path)?, Cmp::Le, bound(file, rule, value)?),
        ConditionSpec::Gt { path, value } => Cond::Order(p(path)?, Cmp::Gt, bound(file, rule, value)?),
        ConditionSpec::Ge { path, value } => Cond::Order(p(path)?, Cmp::Ge, bound(file, rule, value)?),
        ConditionSpec::Exists { path } => Cond::Exists(p(path)?),
        ConditionSpec::LineageDepth { cmp, value } => Cond::LineageDepth(*cmp, *value),
        ConditionSpec::SubProfile { value } => Cond::SubProfile(*value),
        ConditionSpec::ClockBetween { from, to } => {
            let t = |s: &str| Timestamp::parse_rfc3339(s).map_err(|e| bad(file, rule, format!("{s:?}: {e}")));
            Cond::ClockBetween(t(from)?, t(to)?)
        }
        ConditionSpec::ClockHours { from_hour, to_hour } => {
            if *from_hour > 23 || *to_hour > 24 {
                return Err(bad(file, rule, "clock_hours takes from_hour 0..=23 and to_hour 0..=24"));
            }
            Cond::ClockHours(*from_hour, *to_hour)
        }
    })
}

fn globs(file: &str, rule: &str, list: &str, pats: &[String]) -> Result<Vec<Glob>, PolicyError> {
    if pats.len() > MAX_GLOBS_PER_LIST {
        return Err(bad(
            file,
            rule,
            format!("{list} has more than {MAX_GLOBS_PER_LIST} globs"),
        ));
    }
    pats.iter()
        .map(|g| Glob::new(g).map_err(|e| bad(file, rule, format!("{list}: {e}"))))
        .collect()
}

impl RuleSet {
    /// Parse and compile a rules file (`rules.toml` or `rules.json`).
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, PolicyError> {
        let text = std::str::from_utf8(bytes).map_err(|_| bad(file, "", "not UTF-8"))?;
        let parsed: RulesFile = if file.ends_with(".json") {
            serde_json::from_str(text).map_err(|e| bad(file, "", e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| bad(file, "", e.to_string()))?
        };
        Self::compile(file, parsed)
    }

    /// Compile parsed rules.
    pub fn compile(file: &str, parsed: RulesFile) -> Result<Self, PolicyError> {
        if parsed.rule.len() > MAX_RULES {
            return Err(bad(file, "", format!("more than {MAX_RULES} rules")));
        }
        let mut ids = BTreeSet::new();
        let mut rules = Vec::with_capacity(parsed.rule.len());
        for spec in parsed.rule {
            let id = spec.id.clone();
            if id.is_empty() || id.len() > 256 || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(bad(
                    file,
                    &id,
                    "rule ids are 1 to 256 bytes of UTF-8 without white space or control characters",
                ));
            }
            if !ids.insert(id.clone()) {
                return Err(bad(file, &id, "duplicate rule id"));
            }
            if spec.requires_approval && spec.effect == Effect::Deny {
                return Err(bad(file, &id, "requires_approval applies to ALLOW rules only"));
            }
            if spec.conditions.len() > MAX_CONDITIONS {
                return Err(bad(file, &id, format!("more than {MAX_CONDITIONS} conditions")));
            }
            let conditions = spec
                .conditions
                .iter()
                .map(|c| compile_cond(file, &id, c))
                .collect::<Result<_, _>>()?;
            rules.push(Rule {
                subjects: globs(file, &id, "subjects", &spec.subjects)?,
                surfaces: globs(file, &id, "surfaces", &spec.surfaces)?,
                actions: globs(file, &id, "actions", &spec.actions)?,
                resources: globs(file, &id, "resources", &spec.resources)?,
                conditions,
                spec,
            });
        }
        Ok(RuleSet {
            rules,
            vocabulary: parsed.vocabulary,
        })
    }

    /// The compiled rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Decide.
    pub fn decide(&self, input: &DecisionInput) -> PolicyDecision {
        let q = &input.request;
        let doc = Doc {
            input,
            full: std::cell::OnceCell::new(),
        };
        let mut errors = Vec::new();
        let mut deny = Vec::new();
        let mut allow = Vec::new();
        let mut needs_approval = Vec::new();
        for r in &self.rules {
            if !(any(&r.subjects, &q.subject.id)
                && any(&r.surfaces, &q.resource.kind)
                && any(&r.actions, &q.action.name)
                && any(&r.resources, &q.resource.id))
            {
                continue;
            }
            let holds = r
                .conditions
                .iter()
                .try_fold(true, |ok, c| if ok { eval(c, &doc, input) } else { Ok(false) });
            match holds {
                Err(e) => errors.push(format!("rule {}: {e}", r.spec.id)),
                Ok(false) => {}
                Ok(true) => match r.spec.effect {
                    Effect::Deny => deny.push(r),
                    Effect::Allow if r.spec.requires_approval => needs_approval.push(r),
                    Effect::Allow => allow.push(r),
                },
            }
        }
        let outcome = input.approval.as_ref().and_then(|a| a.outcome);
        if !errors.is_empty() {
            return reasons::silence(errors);
        }
        if !deny.is_empty() {
            return reasons::deny_by_rules(q, ordered(deny));
        }
        if outcome == Some(ApprovalOutcome::Approved) {
            allow.extend(needs_approval.iter().copied());
        }
        if !allow.is_empty() {
            return reasons::permit(ordered(allow), outcome == Some(ApprovalOutcome::Approved));
        }
        if !needs_approval.is_empty() {
            return reasons::approval_missing(q, ordered(needs_approval), outcome);
        }
        reasons::default_deny(q)
    }
}

/// (id, description), ordered by priority descending, then id.
fn ordered(mut rules: Vec<&Rule>) -> Vec<(String, String)> {
    rules.sort_by(|a, b| {
        b.spec
            .priority
            .cmp(&a.spec.priority)
            .then_with(|| a.spec.id.cmp(&b.spec.id))
    });
    rules
        .into_iter()
        .map(|r| (r.spec.id.clone(), r.spec.description.clone()))
        .collect()
}

fn any(globs: &[Glob], text: &str) -> bool {
    globs.iter().any(|g| g.matches(text))
}

/// The lazily built document and the input it comes from.
impl Rule {
    /// The compiled globs of each list: subjects, surfaces, actions, resources.
    pub fn lists(&self) -> [(&'static str, &[Glob]); 4] {
        [
            ("subjects", &self.subjects),
            ("surfaces", &self.surfaces),
            ("actions", &self.actions),
            ("resources", &self.resources),
        ]
    }

    /// True when the rule has conditions.
    pub fn has_conditions(&self) -> bool {
        !self.conditions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_place_resolution_equals_the_full_document() {
        let mut input = DecisionInput::from_receipt(&crate::examples::receipt_parts(4));
        let ctx = input.request.context.get_or_insert_with(Default::default);
        ctx.insert("a/b".into(), serde_json::json!({"x~y": [1, {"z": null}]}));
        input.nd_inputs.other.insert("deletions".into(), serde_json::json!(3));
        let full = input.document();
        let doc = Doc {
            input: &input,
            full: std::cell::OnceCell::new(),
        };
        for path in [
            "/context/ticket",
            "/context/attempt",
            "/context/a~1b",
            "/context/a~1b/x~0y/1/z",
            "/context/a~1b/x~0y/7",
            "/context/missing",
            "/context",
            "/request/context/ticket",
            "/request/action/properties/args/0",
            "/request/action/properties/dry_run",
            "/request/subject/properties/team",
            "/request/resource/properties/x",
            "/request/resource/id",
            "/nd_inputs/deletions",
            "/nd_inputs/clock",
            "/nd_inputs/missing",
            "/lineage/1/sub_profile",
            "/approval/outcome",
        ] {
            assert_eq!(doc.get(path), full.pointer(path), "{path}");
        }
    }
}
