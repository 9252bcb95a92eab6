//! cairn-rules/1 semantics, one rule of the spec at a time.

use std::collections::BTreeMap;

use super::*;
use serde_json::json;

use crate::examples;
use crate::receipt::{ApprovalOutcome, Decision};
use crate::timestamp::Timestamp;

fn rules(toml: &str) -> Policy {
    Policy::from_compiled(
        registry::CAIRN_RULES,
        Box::new(rules::RuleSet::parse("rules.toml", toml.as_bytes()).unwrap()),
    )
}

fn compile_err(toml: &str) -> PolicyError {
    rules::RuleSet::parse("rules.toml", toml.as_bytes()).unwrap_err()
}

/// agent:devops-helper does `action` on eks:`target` at 13:00:05 UTC.
fn input(action: &str, target: &str) -> DecisionInput {
    let r = examples::receipt_parts(4);
    let mut i = DecisionInput::from_receipt(&r);
    i.request.action.name = action.into();
    i.request.resource.kind = "eks".into();
    i.request.resource.id = target.into();
    i.approval = None;
    i
}

fn with_approval(mut i: DecisionInput, outcome: Option<ApprovalOutcome>) -> DecisionInput {
    let mut a = examples::receipt_parts(0).approval.unwrap();
    a.outcome = outcome;
    if outcome != Some(ApprovalOutcome::Approved) && outcome != Some(ApprovalOutcome::Denied) {
        a.responded_at = None;
    }
    i.approval = Some(a);
    i
}

const BASE: &str = r#"
[[rule]]
id = "allow-staging"
effect = "ALLOW"
subjects = ["agent:*"]
surfaces = ["eks"]
actions = ["*"]
resources = ["staging"]

[[rule]]
id = "deny-agent-on-production"
effect = "DENY"
description = "agents never change production"
subjects = ["agent:*"]
surfaces = ["eks"]
actions = ["delete", "scale_*"]
resources = ["production"]

[[rule]]
id = "allow-production-read"
effect = "ALLOW"
subjects = ["agent:*"]
surfaces = ["eks"]
actions = ["get", "delete"]
resources = ["production"]
"#;

#[test]
fn deny_wins_allow_permits_default_denies() {
    let p = rules(BASE);
    let d = p.decide(&input("apply", "staging"));
    assert_eq!(
        (d.decision, d.determining_rules.clone()),
        (Decision::Permit, vec!["allow-staging".to_owned()])
    );
    assert_eq!(d.reason.code, "allowed");
    let d = p.decide(&input("delete", "production"));
    assert_eq!(d.decision, Decision::Deny);
    assert_eq!(d.determining_rules, vec!["deny-agent-on-production"]);
    assert_eq!(
        d.reason.user_message,
        "Action blocked by policy: agent:devops-helper is not authorized to delete on eks:production (rule deny-agent-on-production)"
    );
    assert!(d.reason.admin_message.contains("agents never change production"));
    let d = p.decide(&input("get", "production"));
    assert_eq!(d.decision, Decision::Permit);
    let d = p.decide(&input("apply", "production"));
    assert_eq!(
        (d.decision, d.reason.code.as_str()),
        (Decision::Deny, "no_matching_rule")
    );
    assert!(d.determining_rules.is_empty());
    // Whole-string globs: "staging-2" is not "staging".
    assert_eq!(p.decide(&input("apply", "staging-2")).decision, Decision::Deny);
}

#[test]
fn an_empty_list_matches_nothing() {
    let p = rules(
        r#"[[rule]]
id = "a"
effect = "ALLOW"
subjects = []
surfaces = ["*"]
actions = ["*"]
resources = ["*"]"#,
    );
    assert_eq!(p.decide(&input("get", "staging")).reason.code, "no_matching_rule");
}

#[test]
fn approval_semantics() {
    let p = rules(
        r#"[[rule]]
id = "drop-needs-approval"
effect = "ALLOW"
requires_approval = true
subjects = ["*"]
surfaces = ["eks"]
actions = ["drop"]
resources = ["*"]"#,
    );
    let i = input("drop", "production");
    let code = |d: PolicyDecision| (d.decision, d.reason.code, d.determining_rules);
    let rule = vec!["drop-needs-approval".to_owned()];
    assert_eq!(
        code(p.decide(&i)),
        (Decision::Deny, "approval_required".into(), rule.clone())
    );
    assert_eq!(
        code(p.decide(&with_approval(i.clone(), None))),
        (Decision::Deny, "approval_required".into(), rule.clone())
    );
    assert_eq!(
        code(p.decide(&with_approval(i.clone(), Some(ApprovalOutcome::Approved)))),
        (Decision::Permit, "allowed_with_approval".into(), rule.clone())
    );
    assert_eq!(
        code(p.decide(&with_approval(i.clone(), Some(ApprovalOutcome::Denied)))),
        (Decision::Deny, "approval_denied".into(), rule.clone())
    );
    assert_eq!(
        code(p.decide(&with_approval(i.clone(), Some(ApprovalOutcome::TimedOut)))),
        (Decision::Deny, "approval_timed_out".into(), rule)
    );
    // A plain ALLOW that also matches permits without approval.
    let both = rules(
        r#"[[rule]]
id = "needs"
effect = "ALLOW"
requires_approval = true
subjects = ["*"]
surfaces = ["*"]
actions = ["*"]
resources = ["*"]
[[rule]]
id = "plain"
effect = "ALLOW"
subjects = ["*"]
surfaces = ["*"]
actions = ["drop"]
resources = ["*"]"#,
    );
    let d = both.decide(&i);
    assert_eq!(
        (d.decision, d.determining_rules),
        (Decision::Permit, vec!["plain".to_owned()])
    );
}

#[test]
fn priority_orders_determining_rules_but_never_the_outcome() {
    let p = rules(
        r#"[[rule]]
id = "b-low"
effect = "DENY"
priority = 1
subjects = ["*"]
surfaces = ["*"]
actions = ["*"]
resources = ["*"]
[[rule]]
id = "a-low"
effect = "DENY"
priority = 1
subjects = ["*"]
surfaces = ["*"]
actions = ["*"]
resources = ["*"]
[[rule]]
id = "z-high"
effect = "DENY"
priority = 9
subjects = ["*"]
surfaces = ["*"]
actions = ["*"]
resources = ["*"]
[[rule]]
id = "allow-everything-high"
effect = "ALLOW"
priority = 100
subjects = ["*"]
surfaces = ["*"]
actions = ["*"]
resources = ["*"]"#,
    );
    let d = p.decide(&input("get", "x"));
    assert_eq!(d.decision, Decision::Deny);
    assert_eq!(d.determining_rules, vec!["z-high", "a-low", "b-low"]);
}

fn one_condition(cond: &str) -> Policy {
    rules(&format!(
        "[[rule]]\nid = \"c\"\neffect = \"ALLOW\"\nsubjects = [\"*\"]\nsurfaces = [\"*\"]\nactions = [\"*\"]\nresources = [\"*\"]\nconditions = [{cond}]"
    ))
}

#[test]
fn conditions() {
    let i = input("get", "staging");
    let d = |cond: &str, i: &DecisionInput| one_condition(cond).decide(i).decision;
    use Decision::*;
    // The example request: context {ticket: "OPS-1004", attempt: 1}; two
    // lineage links (human, ai_agent); clock 2026-11-21T13:00:04Z.
    assert_eq!(
        d(r#"{ op = "eq", path = "/context/ticket", value = "OPS-1004" }"#, &i),
        Permit
    );
    assert_eq!(
        d(r#"{ op = "eq", path = "/context/ticket", value = "OPS-1" }"#, &i),
        Deny
    );
    assert_eq!(d(r#"{ op = "ne", path = "/context/attempt", value = 2 }"#, &i), Permit);
    assert_eq!(
        d(
            r#"{ op = "in", path = "/request/resource/id", values = ["staging", "dev"] }"#,
            &i
        ),
        Permit
    );
    assert_eq!(
        d(r#"{ op = "glob", path = "/context/ticket", pattern = "OPS-1???" }"#, &i),
        Permit
    );
    assert_eq!(
        d(
            r#"{ op = "prefix", path = "/request/subject/id", value = "agent:" }"#,
            &i
        ),
        Permit
    );
    assert_eq!(d(r#"{ op = "lt", path = "/context/attempt", value = 2 }"#, &i), Permit);
    assert_eq!(d(r#"{ op = "ge", path = "/context/attempt", value = 2 }"#, &i), Deny);
    assert_eq!(
        d(
            r#"{ op = "lt", path = "/nd_inputs/clock", value = "2026-11-21T13:00:05Z" }"#,
            &i
        ),
        Permit
    );
    assert_eq!(
        d(
            r#"{ op = "gt", path = "/nd_inputs/clock", value = "2026-11-21T14:00:04+01:00" }"#,
            &i
        ),
        Deny
    );
    assert_eq!(d(r#"{ op = "exists", path = "/context/ticket" }"#, &i), Permit);
    assert_eq!(d(r#"{ op = "exists", path = "/approval" }"#, &i), Deny);
    assert_eq!(d(r#"{ op = "lineage_depth", cmp = "le", value = 2 }"#, &i), Permit);
    assert_eq!(d(r#"{ op = "lineage_depth", cmp = "gt", value = 2 }"#, &i), Deny);
    assert_eq!(d(r#"{ op = "sub_profile", value = "ai_agent" }"#, &i), Permit);
    assert_eq!(d(r#"{ op = "sub_profile", value = "workload" }"#, &i), Deny);
    assert_eq!(
        d(r#"{ op = "eq", path = "/lineage/0/sub_profile", value = "human" }"#, &i),
        Permit
    );
    assert_eq!(
        d(
            r#"{ op = "clock_between", from = "2026-11-21T13:00:00Z", to = "2026-11-21T13:00:04.001Z" }"#,
            &i
        ),
        Permit
    );
    assert_eq!(
        d(
            r#"{ op = "clock_between", from = "2026-11-21T13:00:00Z", to = "2026-11-21T13:00:04Z" }"#,
            &i
        ),
        Deny,
        "half-open"
    );
    assert_eq!(d(r#"{ op = "clock_hours", from_hour = 9, to_hour = 17 }"#, &i), Permit);
    assert_eq!(d(r#"{ op = "clock_hours", from_hour = 22, to_hour = 6 }"#, &i), Deny);
    let mut night = i.clone();
    night.nd_inputs.clock = Timestamp::parse_rfc3339("2026-11-21T23:30:00Z").unwrap();
    assert_eq!(
        d(r#"{ op = "clock_hours", from_hour = 22, to_hour = 6 }"#, &night),
        Permit,
        "wraps"
    );
}

/// The example input for `action` on `eks:staging` with `amount` in its context.
fn with_amount(action: &str, amount: serde_json::Value) -> DecisionInput {
    let mut i = input(action, "staging");
    i.request
        .context
        .get_or_insert_default()
        .insert("amount".into(), amount);
    i
}

#[test]
fn numbers_with_a_fraction_compare_by_value() {
    use Decision::*;
    let d = |cond: &str, amount: serde_json::Value| one_condition(cond).decide(&with_amount("get", amount)).decision;
    let lt = r#"{ op = "lt", path = "/context/amount", value = 3 }"#;
    let ge = r#"{ op = "ge", path = "/context/amount", value = 2 }"#;
    let eq = r#"{ op = "eq", path = "/context/amount", value = 2 }"#;
    let within = r#"{ op = "in", path = "/context/amount", values = [1, 2] }"#;
    assert_eq!(d(lt, json!(2.5)), Permit);
    assert_eq!(d(lt, json!(3.0)), Deny);
    assert_eq!(d(lt, json!(2.999)), Permit);
    assert_eq!(d(lt, json!(-1e300)), Permit);
    assert_eq!(d(lt, json!(1e300)), Deny);
    assert_eq!(d(ge, json!(2.0)), Permit);
    assert_eq!(d(ge, json!(1.9999)), Deny);
    assert_eq!(d(ge, json!(-2.5)), Deny);
    assert_eq!(d(eq, json!(2.0)), Permit);
    assert_eq!(d(eq, json!(2.5)), Deny);
    assert_eq!(d(within, json!(2.0)), Permit);
    assert_eq!(d(within, json!(1.5)), Deny);
}

#[test]
fn cedar_reads_fractions_as_decimals() {
    let b = cedar_bundle(
        r#"
@id("small-payments")
permit(principal, action, resource)
  when { context.request_context.amount.lessThan(decimal("10.5")) };
"#,
    );
    let p = Policy::compile(&b).unwrap();
    let d = |amount: serde_json::Value| p.decide(&with_amount("pay", amount));
    assert_eq!(d(json!(10.25)).decision, Decision::Permit);
    assert_eq!(d(json!(-0.0001)).decision, Decision::Permit);
    assert_eq!(d(json!(10.5)).decision, Decision::Deny);
    assert_eq!(d(json!(2e5)).decision, Decision::Deny);
    // Five fractional digits: no Cedar decimal holds it, so no decision.
    let out = d(json!(0.00001));
    assert_eq!(out.decision, Decision::Silence);
    assert!(out.errors[0].contains("no Cedar decimal"), "{:?}", out.errors);
}

#[test]
fn evaluation_errors_give_silence() {
    let i = input("get", "staging");
    for cond in [
        r#"{ op = "eq", path = "/context/missing", value = 1 }"#,
        r#"{ op = "lt", path = "/context/ticket", value = 5 }"#,
        r#"{ op = "glob", path = "/context/attempt", pattern = "*" }"#,
        r#"{ op = "lt", path = "/context/ticket", value = "2026-01-01T00:00:00Z" }"#,
    ] {
        let d = one_condition(cond).decide(&i);
        assert_eq!(d.decision, Decision::Silence, "{cond}");
        assert_eq!(d.reason.code, "evaluation_error");
        assert!(d.errors[0].starts_with("rule c:"), "{:?}", d.errors);
    }
    // A rule whose lists do not match never evaluates its conditions.
    let p = rules(
        r#"[[rule]]
id = "c"
effect = "DENY"
subjects = ["*"]
surfaces = ["github"]
actions = ["*"]
resources = ["*"]
conditions = [{ op = "eq", path = "/context/missing", value = 1 }]"#,
    );
    assert_eq!(p.decide(&i).reason.code, "no_matching_rule");
}

#[test]
fn compile_errors_name_file_and_rule() {
    let rule = |e: PolicyError| match e {
        PolicyError::Rule { rule, .. } => rule,
        other => panic!("{other:?}"),
    };
    let r = |extra: &str| {
        format!(
            "[[rule]]\nid = \"r1\"\neffect = \"DENY\"\nsubjects = [\"*\"]\nsurfaces = [\"*\"]\nactions = [\"*\"]\nresources = [\"*\"]\n{extra}"
        )
    };
    assert_eq!(
        rule(compile_err(&format!("{}\n{}", r(""), r("")))),
        "r1",
        "duplicate id"
    );
    assert_eq!(rule(compile_err(&r("requires_approval = true"))), "r1");
    assert_eq!(
        rule(compile_err(&r(
            r#"conditions = [{ op = "eq", path = "/etc/passwd", value = 1 }]"#
        ))),
        "r1"
    );
    assert_eq!(
        rule(compile_err(&r(
            r#"conditions = [{ op = "eq", path = "/context/x", value = 1.5 }]"#
        ))),
        "r1"
    );
    assert_eq!(
        rule(compile_err(&r(
            r#"conditions = [{ op = "lt", path = "/context/x", value = "soon" }]"#
        ))),
        "r1"
    );
    assert_eq!(
        rule(compile_err(&r(r#"actions2 = ["x"]"#))),
        "",
        "unknown field: the file's error"
    );
    assert_eq!(
        rule(compile_err(&r(
            r#"conditions = [{ op = "regex", path = "/context/x" }]"#
        ))),
        ""
    );
    assert_eq!(
        rule(compile_err(
            "[[rule]]\nid = \"g\"\neffect = \"DENY\"\nsubjects = [\"a\\\\\"]\nsurfaces = []\nactions = []\nresources = []"
        )),
        "g",
        "bad glob"
    );
    let json = br#"{"rule": [{"id": "j", "effect": "ALLOW", "subjects": ["*"], "surfaces": ["*"], "actions": ["*"], "resources": ["*"]}]}"#;
    let p = Policy::from_compiled(
        registry::CAIRN_RULES,
        Box::new(rules::RuleSet::parse("rules.json", json).unwrap()),
    );
    assert_eq!(p.decide(&input("get", "x")).decision, Decision::Permit);
}

fn bundle(engine: &str, version: &str, files: &[(&str, &str)]) -> Bundle {
    let files: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(p, b)| (p.to_string(), b.as_bytes().to_vec()))
        .collect();
    let engine = EngineRef {
        name: engine.into(),
        version: version.into(),
    };
    Bundle::new("t", 1, engine, Timestamp::from_millis(0).unwrap(), files).unwrap()
}

#[test]
fn bundles_pin_the_engine_exactly() {
    let (rules_name, rules_version) = (registry::CAIRN_RULES.name(), registry::CAIRN_RULES.version());
    let b = bundle(rules_name, rules_version, &[("rules.toml", BASE)]);
    assert_eq!(Policy::compile(&b).unwrap().engine().name(), rules_name);
    let b = bundle(rules_name, &format!("{rules_version}.0"), &[("rules.toml", BASE)]);
    assert!(matches!(
        Policy::compile(&b),
        Err(PolicyError::UnsupportedEngine { .. })
    ));
    let b = bundle(registry::CEDAR.name(), "4.14.0", &[("policies.cedar", "")]);
    assert!(matches!(
        Policy::compile(&b),
        Err(PolicyError::UnsupportedEngine { .. })
    ));
    let b = bundle(rules_name, rules_version, &[("other.toml", BASE)]);
    assert!(matches!(Policy::compile(&b), Err(PolicyError::MissingFile(_))));
    // decide() on a bundle that does not compile fails closed.
    assert_eq!(decide(&b, &input("get", "x")).decision, Decision::Silence);
}

/// A Cedar bundle of the pinned version holding `policies`.
fn cedar_bundle(policies: &str) -> Bundle {
    bundle(
        registry::CEDAR.name(),
        registry::CEDAR.version(),
        &[("policies.cedar", policies)],
    )
}

#[test]
fn cedar_maps_requests_and_reports_its_policies() {
    let b = cedar_bundle(
        r#"
@id("allow-staging")
permit(principal, action, resource) when { resource.surface == "eks" && resource.target == "staging" };
@id("deny-agent-on-production")
forbid(principal, action, resource)
  when { principal.type == "agent" && resource.target == "production" && context.action like "delete*" };
@id("needs-approval")
permit(principal, action == Action::"drop", resource)
  when { context has approval && context.approval.outcome == "APPROVED" };
@id("clock-and-lineage")
permit(principal, action == Action::"night", resource)
  when { context.clock < 1795266005000 && context.lineage_depth == 2 && context.sub_profiles.contains("ai_agent") };
"#,
    );
    let p = Policy::compile(&b).unwrap();
    let d = p.decide(&input("apply", "staging"));
    assert_eq!(
        (d.decision, d.determining_rules),
        (Decision::Permit, vec!["allow-staging".to_owned()])
    );
    let d = p.decide(&input("delete_pod", "production"));
    assert_eq!(d.decision, Decision::Deny);
    assert_eq!(
        d.reason.user_message,
        "Action blocked by policy: agent:devops-helper is not authorized to delete_pod on eks:production (rule deny-agent-on-production)"
    );
    assert_eq!(p.decide(&input("apply", "production")).reason.code, "no_matching_rule");
    assert_eq!(p.decide(&input("drop", "db")).decision, Decision::Deny);
    let approved = with_approval(input("drop", "db"), Some(ApprovalOutcome::Approved));
    assert_eq!(p.decide(&approved).decision, Decision::Permit);
    assert_eq!(p.decide(&input("night", "x")).decision, Decision::Permit);
}

#[test]
fn cedar_errors_give_silence_and_bad_policies_do_not_compile() {
    let b = cedar_bundle(r#"permit(principal, action, resource) when { context.request_context.missing == 1 };"#);
    let d = Policy::compile(&b).unwrap().decide(&input("get", "x"));
    assert_eq!(d.decision, Decision::Silence);
    assert!(!d.errors.is_empty());
    let b = bundle(
        registry::CEDAR.name(),
        registry::CEDAR.version(),
        &[("policies.cedar", "permit(principal, action, resource) when {")],
    );
    assert!(matches!(Policy::compile(&b), Err(PolicyError::Rule { .. })));
    let schema = "entity Subject = { type: String, id: String }; entity Resource; action \"get\" appliesTo { principal: Subject, resource: Resource };";
    let b = bundle(
        registry::CEDAR.name(),
        registry::CEDAR.version(),
        &[
            (
                "policies.cedar",
                "@id(\"bad\") permit(principal, action, resource) when { principal.nope == 1 };",
            ),
            ("schema.cedarschema", schema),
        ],
    );
    match Policy::compile(&b) {
        Err(PolicyError::Rule { rule, .. }) => assert_eq!(rule, "bad"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn replay_compares_decision_and_rules() {
    let p = rules(BASE);
    let mut r = examples::receipt_parts(4);
    r.request.resource.kind = "eks".into();
    r.request.resource.id = "production".into();
    r.request.action.name = "delete".into();
    r.approval = None;
    r.decision = Decision::Deny;
    r.determining_rules = vec!["deny-agent-on-production".into()];
    assert!(replay(&p, &r).matches);
    r.decision = Decision::Permit;
    let rep = replay(&p, &r);
    assert!(!rep.matches);
    assert_eq!(rep.replayed.decision, Decision::Deny);
}

#[test]
fn overrides_and_fail_closed_silences_are_not_policy_decisions() {
    let mut p = crate::examples::receipt_parts(1);
    p.break_glass = None;
    assert_eq!(recorded(&p), Recorded::PolicyDecision);
    let bg = crate::examples::receipt_parts(9);
    assert!(bg.break_glass.is_some());
    assert_eq!(recorded(&bg), Recorded::Override);
    p.decision = crate::receipt::Decision::Silence;
    assert_eq!(
        recorded(&p),
        Recorded::PolicyDecision,
        "a policy's own SILENCE is compared"
    );
    p.reason.code = LEDGER_UNAVAILABLE.into();
    assert_eq!(recorded(&p), Recorded::FailClosed);
}

#[test]
fn the_cedar_engine_version_is_the_pinned_crate() {
    // The workspace pins cedar-policy exactly; the engine's version must be
    // the version that is built (read from Cargo.lock).
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
    let at =
        lock.find("name = \"cedar-policy\"\nversion = \"").unwrap() + "name = \"cedar-policy\"\nversion = \"".len();
    let built = &lock[at..at + lock[at..].find('"').unwrap()];
    assert_eq!(registry::CEDAR.version(), built);
}
