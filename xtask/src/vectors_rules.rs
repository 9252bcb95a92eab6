//! `cairn-rules` condition operators as golden decisions (spec section
//! 16): one ALLOW rule per operator, each on its own surface, and for each
//! a request where the condition holds (PERMIT), where it does not (DENY by
//! default) and, where the operator can fail, where it fails (SILENCE).

use std::collections::BTreeMap;

use cairn_api::examples;
use cairn_api::policy::{Bundle, DecisionInput, Policy, registry::CAIRN_RULES};
use cairn_api::timestamp::Timestamp;
use serde_json::{Value, json};

use crate::vectors::Case;

/// (operator, condition as TOML inline table).
const RULES: &[(&str, &str)] = &[
    ("eq", r#"{ op = "eq", path = "/context/ticket", value = "CHG-1" }"#),
    ("ne", r#"{ op = "ne", path = "/context/ticket", value = "CHG-1" }"#),
    (
        "in",
        r#"{ op = "in", path = "/context/ticket", values = ["CHG-1", "CHG-2"] }"#,
    ),
    (
        "glob",
        r#"{ op = "glob", path = "/context/ticket", pattern = "CHG-*" }"#,
    ),
    (
        "prefix",
        r#"{ op = "prefix", path = "/context/ticket", value = "CHG" }"#,
    ),
    ("lt", r#"{ op = "lt", path = "/context/attempt", value = 3 }"#),
    ("le", r#"{ op = "le", path = "/context/attempt", value = 3 }"#),
    ("gt", r#"{ op = "gt", path = "/context/attempt", value = 3 }"#),
    ("ge", r#"{ op = "ge", path = "/context/attempt", value = 3 }"#),
    (
        "lt-time",
        r#"{ op = "lt", path = "/context/until", value = "2026-12-01T00:00:00Z" }"#,
    ),
    ("exists", r#"{ op = "exists", path = "/context/ticket" }"#),
    ("lineage_depth", r#"{ op = "lineage_depth", cmp = "ge", value = 2 }"#),
    ("sub_profile", r#"{ op = "sub_profile", value = "human" }"#),
    (
        "clock_between",
        r#"{ op = "clock_between", from = "2026-11-21T00:00:00Z", to = "2026-11-22T00:00:00Z" }"#,
    ),
    ("clock_hours", r#"{ op = "clock_hours", from_hour = 22, to_hour = 6 }"#),
];

fn bundle() -> Bundle {
    let mut toml = String::new();
    for (op, cond) in RULES {
        toml.push_str(&format!(
            "[[rule]]\nid = \"allow-{op}\"\neffect = \"ALLOW\"\nsubjects = [\"*\"]\nsurfaces = [\"s-{op}\"]\nactions = [\"*\"]\nresources = [\"*\"]\nconditions = [{cond}]\n\n"
        ));
    }
    let files = BTreeMap::from([("rules.toml".to_owned(), toml.into_bytes())]);
    let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap_or(Timestamp::EPOCH);
    Bundle::new("operators", 1, CAIRN_RULES.engine_ref(), at, files).unwrap_or_else(|e| unreachable!("{e}"))
}

/// A request on surface `s-<op>` with this context, lineage depth and clock.
fn input(op: &str, context: Value, lineage: usize, clock: &str) -> DecisionInput {
    let mut input = DecisionInput::from_receipt(&examples::receipt_parts(0));
    input.approval = None;
    input.request.resource.kind = format!("s-{op}");
    input.request.context = match context {
        Value::Object(m) => Some(m),
        _ => None,
    };
    input.lineage.truncate(lineage);
    input.nd_inputs.clock = Timestamp::parse_rfc3339(clock).unwrap_or(Timestamp::EPOCH);
    input
}

/// Golden decisions for every operator.
pub fn operators(out: &mut Vec<Case>) {
    let noon = "2026-11-21T12:00:00Z";
    let b = bundle();
    let policy = Policy::compile(&b).unwrap_or_else(|e| unreachable!("{e}"));
    let ticket = |t: Value| json!({ "ticket": t, "attempt": 2 });
    let mut inputs: Vec<(String, DecisionInput)> = Vec::new();
    let mut add = |label: &str, op: &str, ctx: Value, lineage: usize, clock: &str| {
        inputs.push((label.to_owned(), input(op, ctx, lineage, clock)));
    };
    for op in ["eq", "ne", "in", "glob", "prefix"] {
        add(&format!("{op}: CHG-1"), op, ticket(json!("CHG-1")), 2, noon);
        add(&format!("{op}: INC-9"), op, ticket(json!("INC-9")), 2, noon);
        add(&format!("{op}: path missing"), op, json!({}), 2, noon);
    }
    add("glob: not a string", "glob", ticket(json!(7)), 2, noon);
    add("prefix: not a string", "prefix", ticket(json!(true)), 2, noon);
    for op in ["lt", "le", "gt", "ge"] {
        for n in [2, 3, 4] {
            add(&format!("{op}: attempt {n}"), op, json!({ "attempt": n }), 2, noon);
        }
        add(
            &format!("{op}: attempt is a string"),
            op,
            json!({ "attempt": "3" }),
            2,
            noon,
        );
    }
    add(
        "lt-time: before",
        "lt-time",
        json!({ "until": "2026-11-30T23:59:59Z" }),
        2,
        noon,
    );
    add(
        "lt-time: equal",
        "lt-time",
        json!({ "until": "2026-12-01T00:00:00Z" }),
        2,
        noon,
    );
    add("lt-time: not a time", "lt-time", json!({ "until": "soon" }), 2, noon);
    add("exists: present (null)", "exists", ticket(Value::Null), 2, noon);
    add("exists: absent", "exists", json!({}), 2, noon);
    add("lineage_depth: 2", "lineage_depth", json!({}), 2, noon);
    add("lineage_depth: 1", "lineage_depth", json!({}), 1, noon);
    add("sub_profile: human root", "sub_profile", json!({}), 2, noon);
    add("sub_profile: no links", "sub_profile", json!({}), 0, noon);
    add("clock_between: inside", "clock_between", json!({}), 2, noon);
    add(
        "clock_between: at to (excluded)",
        "clock_between",
        json!({}),
        2,
        "2026-11-22T00:00:00Z",
    );
    add(
        "clock_hours: 23h (wraps midnight)",
        "clock_hours",
        json!({}),
        2,
        "2026-11-21T23:00:00Z",
    );
    add("clock_hours: 05h", "clock_hours", json!({}), 2, "2026-11-21T05:59:59Z");
    add(
        "clock_hours: 06h (excluded)",
        "clock_hours",
        json!({}),
        2,
        "2026-11-21T06:00:00Z",
    );
    add("clock_hours: noon", "clock_hours", json!({}), 2, noon);
    let cases: Vec<Value> = inputs
        .into_iter()
        .map(|(label, input)| crate::vectors::decision_case(&policy, &label, &input))
        .collect();
    out.push((
        "policy/operators-cairn-rules".into(),
        json!({
            "desc": "every cairn-rules condition operator: holds (PERMIT), does not (DENY by default), fails (SILENCE)",
            "bundle_cbor": hex::encode(b.as_bytes()),
            "bundle_hash": b.hash().to_hex(),
            "cases": cases,
            "expected": "ok",
        }),
    ));
}
