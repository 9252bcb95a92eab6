//! The `cedar` engine, through the cedar-policy crate pinned with `=`
//! (docs/spec.md §16).
//!
//! Bundle files: `policies.cedar` (required); `schema.cedarschema`
//! (optional: policies are validated against it, strictly, at compile
//! time); `entities.json` (optional: static entities, Cedar JSON format).
//!
//! Mapping of a decision input to a Cedar request:
//! - principal `Subject::"<subject.id>"` with attributes `type`, `id`,
//!   `properties` (record);
//! - action `Action::"<action.name>"`;
//! - resource `Resource::"<resource.type>:<resource.id>"` with attributes
//!   `surface`, `target`, `properties`;
//! - context: `action` (the action name, so policies can use `like`),
//!   `action_properties`, `request_context` (AuthZEN `context`), `approval`
//!   (present only when there is one; its JSON view), `lineage` (set of link
//!   records), `lineage_depth`, `sub_profiles` (set of strings),
//!   `nd_inputs` (with `clock` as milliseconds), `clock` (milliseconds).
//!   JSON nulls are dropped (Cedar has none); arrays become sets; strings
//!   are never read as entity or extension escapes.
//!
//! Policies name themselves with an `@id("...")` annotation, which becomes
//! the rule id in `determining_rules` (else Cedar's `policyN`). Any
//! diagnostic error gives SILENCE. A permit gives PERMIT; a forbid DENY with
//! its rules; no permit a default DENY.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use serde_json::{Value, json};

use super::bundle::Bundle;
use super::{DecisionInput, PolicyDecision, PolicyError, reasons};
use crate::receipt::ApprovalOutcome;

/// Engine name.
pub const ENGINE_NAME: &str = "cedar";
/// The exact cedar-policy version this crate pins.
pub const ENGINE_VERSION: &str = "4.14.1";
/// The policies file.
pub const POLICIES_FILE: &str = "policies.cedar";
/// The optional schema file.
pub const SCHEMA_FILE: &str = "schema.cedarschema";
/// The optional static entities file.
pub const ENTITIES_FILE: &str = "entities.json";

/// What `policy check` says of a Cedar bundle.
pub const CHECK_NOTE: &str =
    "cedar bundles are checked by Cedar's validator against schema.cedarschema when the bundle has one";

/// The Cedar engine, the cedar-policy crate at exactly [`ENGINE_VERSION`].
#[derive(Debug, Clone, Copy)]
pub struct CedarEngine;

impl super::Engine for CedarEngine {
    fn name(&self) -> &'static str {
        ENGINE_NAME
    }

    fn version(&self) -> &'static str {
        ENGINE_VERSION
    }

    fn files(&self) -> &'static [&'static str] {
        &[POLICIES_FILE, SCHEMA_FILE, ENTITIES_FILE]
    }

    fn compile(&self, bundle: &Bundle) -> Result<Box<dyn super::Compiled>, PolicyError> {
        Ok(Box::new(CedarPolicy::compile(bundle)?))
    }
}

impl super::Compiled for CedarPolicy {
    fn decide(&self, input: &DecisionInput) -> PolicyDecision {
        CedarPolicy::decide(self, input)
    }

    fn check(&self) -> Vec<super::check::Finding> {
        // Cedar policies are validated against the bundle's schema at
        // compile time (when it has one); nothing more to say here.
        Vec::new()
    }

    fn check_note(&self) -> Option<&'static str> {
        Some(CHECK_NOTE)
    }
}

/// A compiled Cedar bundle.
#[derive(Debug)]
pub struct CedarPolicy {
    policies: PolicySet,
    entities: Entities,
    names: BTreeMap<PolicyId, String>,
    authorizer: Authorizer,
}

fn err(file: &str, problem: impl Into<String>) -> PolicyError {
    PolicyError::Rule {
        file: file.to_owned(),
        rule: String::new(),
        problem: problem.into(),
    }
}

fn utf8<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, PolicyError> {
    std::str::from_utf8(bytes).map_err(|_| err(file, "not UTF-8"))
}

impl CedarPolicy {
    /// Parse, validate (when there is a schema) and index a bundle.
    pub fn compile(bundle: &Bundle) -> Result<Self, PolicyError> {
        let src = bundle
            .file(POLICIES_FILE)
            .ok_or_else(|| PolicyError::MissingFile(format!("{POLICIES_FILE} is missing")))?;
        let policies = PolicySet::from_str(utf8(POLICIES_FILE, src)?).map_err(|e| err(POLICIES_FILE, e.to_string()))?;
        let mut names = BTreeMap::new();
        let mut seen = HashSet::new();
        for p in policies.policies() {
            let name = p.annotation("id").map_or_else(|| p.id().to_string(), str::to_owned);
            if !seen.insert(name.clone()) {
                return Err(PolicyError::Rule {
                    file: POLICIES_FILE.into(),
                    rule: name,
                    problem: "duplicate @id".into(),
                });
            }
            names.insert(p.id().clone(), name);
        }
        if let Some(s) = bundle.file(SCHEMA_FILE) {
            let (schema, _warnings) =
                Schema::from_cedarschema_str(utf8(SCHEMA_FILE, s)?).map_err(|e| err(SCHEMA_FILE, e.to_string()))?;
            let result = Validator::new(schema).validate(&policies, ValidationMode::Strict);
            if let Some(e) = result.validation_errors().next() {
                let rule = names.get(e.policy_id()).cloned().unwrap_or_default();
                return Err(PolicyError::Rule {
                    file: POLICIES_FILE.into(),
                    rule,
                    problem: format!("does not validate against {SCHEMA_FILE}: {e}"),
                });
            }
        }
        let entities = match bundle.file(ENTITIES_FILE) {
            Some(e) => {
                Entities::from_json_str(utf8(ENTITIES_FILE, e)?, None).map_err(|e| err(ENTITIES_FILE, e.to_string()))?
            }
            None => Entities::empty(),
        };
        Ok(CedarPolicy {
            policies,
            entities,
            names,
            authorizer: Authorizer::new(),
        })
    }

    fn name(&self, id: &PolicyId) -> String {
        self.names.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    /// Decide.
    pub fn decide(&self, input: &DecisionInput) -> PolicyDecision {
        match self.request(input) {
            Ok((request, entities)) => {
                let response = self.authorizer.is_authorized(&request, &self.policies, &entities);
                let errors: Vec<String> = response.diagnostics().errors().map(|e| e.to_string()).collect();
                if !errors.is_empty() {
                    return reasons::silence(errors);
                }
                let mut rules: Vec<(String, String)> = response
                    .diagnostics()
                    .reason()
                    .map(|id| (self.name(id), String::new()))
                    .collect();
                rules.sort();
                let q = &input.request;
                match response.decision() {
                    CedarDecision::Allow => {
                        let approved =
                            input.approval.as_ref().and_then(|a| a.outcome) == Some(ApprovalOutcome::Approved);
                        reasons::permit(rules, approved)
                    }
                    CedarDecision::Deny if rules.is_empty() => reasons::default_deny(q),
                    CedarDecision::Deny => reasons::deny_by_rules(q, rules),
                }
            }
            Err(e) => reasons::silence(vec![e]),
        }
    }

    fn request(&self, input: &DecisionInput) -> Result<(Request, Entities), String> {
        let q = &input.request;
        let uid = |ty: &str, id: &str| -> Result<EntityUid, String> {
            let ty = EntityTypeName::from_str(ty).map_err(|e| e.to_string())?;
            Ok(EntityUid::from_type_name_and_id(ty, EntityId::new(id)))
        };
        let principal = uid("Subject", &q.subject.id)?;
        let action = uid("Action", &q.action.name)?;
        let resource = uid("Resource", &format!("{}:{}", q.resource.kind, q.resource.id))?;
        let props = |p: &Option<serde_json::Map<String, Value>>| {
            rexpr(&cedar_value(&Value::Object(p.clone().unwrap_or_default())))
        };
        let s = RestrictedExpression::new_string;
        let subject_attrs = HashMap::from([
            ("type".to_owned(), s(q.subject.kind.clone())),
            ("id".to_owned(), s(q.subject.id.clone())),
            ("properties".to_owned(), props(&q.subject.properties)?),
        ]);
        let resource_attrs = HashMap::from([
            ("surface".to_owned(), s(q.resource.kind.clone())),
            ("target".to_owned(), s(q.resource.id.clone())),
            ("properties".to_owned(), props(&q.resource.properties)?),
        ]);
        let new = [
            Entity::new(principal.clone(), subject_attrs, HashSet::new()).map_err(|e| e.to_string())?,
            Entity::new(resource.clone(), resource_attrs, HashSet::new()).map_err(|e| e.to_string())?,
        ];
        let entities = self
            .entities
            .clone()
            .add_entities(new, None)
            .map_err(|e| e.to_string())?;
        let Value::Object(ctx) = self.context(input) else {
            return Err("context is not a record".into());
        };
        let pairs = ctx
            .iter()
            .map(|(k, v)| Ok((k.clone(), rexpr(v)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let context = Context::from_pairs(pairs).map_err(|e| e.to_string())?;
        let request = Request::new(principal, action, resource, context, None).map_err(|e| e.to_string())?;
        Ok((request, entities))
    }

    fn context(&self, input: &DecisionInput) -> Value {
        let q = &input.request;
        let to = |v: serde_json::Result<Value>| v.unwrap_or(Value::Null);
        let mut nd = to(serde_json::to_value(&input.nd_inputs));
        nd["clock"] = json!(input.nd_inputs.clock.millis());
        let mut ctx = serde_json::Map::new();
        ctx.insert("action".into(), json!(q.action.name));
        ctx.insert(
            "action_properties".into(),
            Value::Object(q.action.properties.clone().unwrap_or_default()),
        );
        ctx.insert(
            "request_context".into(),
            Value::Object(q.context.clone().unwrap_or_default()),
        );
        if let Some(a) = &input.approval {
            ctx.insert("approval".into(), to(serde_json::to_value(a)));
        }
        ctx.insert("lineage".into(), to(serde_json::to_value(&input.lineage)));
        ctx.insert("lineage_depth".into(), json!(input.lineage.len()));
        let profiles: Vec<Value> = input
            .lineage
            .iter()
            .map(|l| to(serde_json::to_value(l.sub_profile)))
            .collect();
        ctx.insert("sub_profiles".into(), Value::Array(profiles));
        ctx.insert("nd_inputs".into(), nd);
        ctx.insert("clock".into(), json!(input.nd_inputs.clock.millis()));
        cedar_value(&Value::Object(ctx))
    }
}

/// A JSON value (already passed through [`cedar_value`]) as a Cedar
/// restricted expression, built directly: records, sets, Longs, strings and
/// booleans, exactly as Cedar's JSON format reads them (and about a hundred
/// times faster than its JSON parser).
fn rexpr(v: &Value) -> Result<RestrictedExpression, String> {
    Ok(match v {
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::Number(n) if n.is_f64() => RestrictedExpression::new_decimal(cedar_decimal(n)?),
        Value::Number(n) => {
            RestrictedExpression::new_long(n.as_i64().ok_or_else(|| format!("{n} is outside Cedar's Long range"))?)
        }
        Value::String(s) => RestrictedExpression::new_string(s.clone()),
        Value::Array(items) => RestrictedExpression::new_set(items.iter().map(rexpr).collect::<Result<Vec<_>, _>>()?),
        Value::Object(o) => RestrictedExpression::new_record(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), rexpr(v)?)))
                .collect::<Result<Vec<_>, String>>()?,
        )
        .map_err(|e| e.to_string())?,
        Value::Null => return Err("null has no Cedar value".into()),
    })
}

/// A number with a fraction as Cedar's `decimal` extension reads it (one to
/// four fractional digits): `0.5` is `decimal("0.5")`, `2.0` is
/// `decimal("2.0")`. A number needing more digits, or out of its range, is
/// an evaluation error (so a SILENCE), never a rounded value.
fn cedar_decimal(n: &serde_json::Number) -> Result<String, String> {
    let no = || format!("{n} has no Cedar decimal (at most 4 fractional digits, within Long range / 10^4)");
    let (exponent, mantissa) = n.as_f64().and_then(crate::decimal::shortest).ok_or_else(no)?;
    if !(-4..=18).contains(&exponent) {
        return Err(no());
    }
    // The value in ten-thousandths, which Cedar keeps as an i64.
    let scaled = 10i64
        .checked_pow((exponent + 4) as u32)
        .and_then(|p| p.checked_mul(mantissa))
        .ok_or_else(no)?;
    let sign = if scaled < 0 { "-" } else { "" };
    let abs = scaled.unsigned_abs();
    let frac = format!("{:04}", abs % 10_000);
    let frac = frac.trim_end_matches('0');
    Ok(format!(
        "{sign}{}.{}",
        abs / 10_000,
        if frac.is_empty() { "0" } else { frac }
    ))
}

/// JSON as Cedar reads it: nulls dropped, and every object wrapped so that a
/// key named `__entity`, `__extn` or `__expr` is data, never an escape.
fn cedar_value(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().filter(|i| !i.is_null()).map(cedar_value).collect()),
        Value::Object(o) => {
            let mut out = serde_json::Map::new();
            for (k, val) in o {
                if val.is_null() || k.starts_with("__") {
                    continue;
                }
                out.insert(k.clone(), cedar_value(val));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}
