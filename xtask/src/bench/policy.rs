//! Policy decisions per second, per engine, on one core: every request of
//! each seed scenario against its bundle, and 64 generated inputs against
//! generated 100-rule bundles (`cairn_tools::generated`).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use cairn_api::policy::registry::{CAIRN_RULES, CEDAR};
use cairn_api::policy::{Bundle, DecisionInput, Policy};
use cairn_gate::policy_dir::pack_dir;
use cairn_tools::generated;
use cairn_tools::scenarios::{SCENARIOS, requests};

use super::Stat;

/// One bundle and engine.
pub struct Row {
    pub bundle: String,
    pub engine: &'static str,
    pub rules: usize,
    pub per_second: Stat,
}

/// Decisions per second of `policy` over `inputs`, deciding for `run`.
fn rate(policy: &Policy, inputs: &[DecisionInput], run: Duration) -> f64 {
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < run {
        for i in inputs {
            black_box(policy.decide(black_box(i)));
        }
        n += inputs.len() as u64;
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn measure(bundle: &Bundle, inputs: &[DecisionInput], reps: usize, run: Duration) -> Result<Stat, String> {
    let policy = Policy::compile(bundle).map_err(|e| e.to_string())?;
    Ok(Stat::of(
        &(0..reps).map(|_| rate(&policy, inputs, run)).collect::<Vec<_>>(),
    ))
}

/// Every scenario and the generated 100-rule bundles, both engines.
pub fn rates(root: &Path, reps: usize, run: Duration) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for s in SCENARIOS {
        let inputs: Vec<DecisionInput> = requests(s).into_iter().map(|(_, i)| i).collect();
        for engine in cairn_api::policy::registry::ENGINES.iter().map(|e| e.name()) {
            let dir = root.join("examples/policies").join(s).join(engine);
            let bundle = pack_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            rows.push(Row {
                bundle: format!("{s} ({} requests)", inputs.len()),
                engine,
                rules: 0,
                per_second: measure(&bundle, &inputs, reps, run)?,
            });
        }
    }
    let inputs: Vec<DecisionInput> = (0..64).map(generated::input).collect();
    for (engine, bundle) in [
        (CAIRN_RULES.name(), generated::rules_bundle(100)),
        (CEDAR.name(), generated::cedar_bundle(100)),
    ] {
        rows.push(Row {
            bundle: "generated, 100 rules".into(),
            engine,
            rules: 100,
            per_second: measure(&bundle.map_err(|e| e.to_string())?, &inputs, reps, run)?,
        });
    }
    Ok(rows)
}
