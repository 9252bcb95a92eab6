//! The decision function is deterministic: identical across repeated runs,
//! across permutations of the key order of the JSON input, after packing and
//! unpacking the bundle, and across threads.

use std::path::PathBuf;

use cairn_api::policy::{Bundle, DecisionInput, Policy, PolicyDecision};
use cairn_gate::policy_dir::pack_dir;
use cairn_tools::scenarios::{SCENARIOS, requests};
use serde_json::Value;

fn policies() -> Vec<(String, Bundle, Policy)> {
    let mut out = Vec::new();
    for s in SCENARIOS {
        for e in ["cairn-rules", "cedar"] {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/policies")
                .join(s)
                .join(e);
            let b = pack_dir(&dir).unwrap();
            let p = Policy::compile(&b).unwrap();
            out.push((format!("{s}/{e}"), b, p));
        }
    }
    out
}

/// Write JSON text with every object's keys in an order chosen by `seed`
/// (rotated and possibly reversed), so the parser sees another order.
fn permuted_json(v: &Value, seed: usize) -> String {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            if seed % 2 == 1 {
                keys.reverse();
            }
            let n = keys.len().max(1);
            keys.rotate_left(seed % n);
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::to_string(k).unwrap(),
                        permuted_json(&o[k.as_str()], seed + 1)
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|x| permuted_json(x, seed + 1))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

#[test]
fn repeated_runs_and_key_order_permutations_give_the_same_decision() {
    for (name, _, p) in policies() {
        let scenario = name.split('/').next().unwrap();
        for (label, input) in requests(scenario) {
            let first = p.decide(&input);
            assert_eq!(p.decide(&input), first, "{name} {label}: repeated run");
            let json = serde_json::to_value(&input).unwrap();
            for seed in 0..4 {
                let text = permuted_json(&json, seed);
                let again: DecisionInput = serde_json::from_str(&text).unwrap();
                assert_eq!(p.decide(&again), first, "{name} {label}: key order {seed}");
            }
        }
    }
}

#[test]
fn pack_unpack_gives_the_same_bytes_hash_and_decisions() {
    for (name, b, p) in policies() {
        let back = Bundle::from_bytes(b.as_bytes()).unwrap();
        assert_eq!(back.as_bytes(), b.as_bytes(), "{name}");
        let q = Policy::compile(&back).unwrap();
        let scenario = name.split('/').next().unwrap();
        for (label, input) in requests(scenario) {
            assert_eq!(q.decide(&input), p.decide(&input), "{name} {label}");
        }
    }
}

#[test]
fn threads_agree_with_one_thread() {
    for (name, _, p) in policies() {
        let scenario = name.split('/').next().unwrap();
        let cases = requests(scenario);
        let single: Vec<PolicyDecision> = cases.iter().map(|(_, i)| p.decide(i)).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let (p, cases) = (&p, &cases);
                    // Each thread walks the cases from another starting point.
                    s.spawn(move || {
                        let n = cases.len();
                        (0..n)
                            .map(|k| (k + t * 7) % n)
                            .map(|k| (k, p.decide(&cases[k].1)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                for (k, d) in h.join().unwrap() {
                    assert_eq!(d, single[k], "{name} case {k} on a thread");
                }
            }
        });
    }
}
