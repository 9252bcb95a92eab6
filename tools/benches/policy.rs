//! `cargo bench -p cairn-tools --bench policy`: decisions per second for each
//! engine on each seed scenario and on generated 100- and 1,000-rule
//! bundles. Results: docs/benchmarks.md.

use std::hint::black_box;
use std::path::PathBuf;

use cairn_api::policy::{DecisionInput, Policy};
use cairn_gate::policy_dir::pack_dir;
use cairn_tools::generated;
use cairn_tools::scenarios::{SCENARIOS, requests};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn scenarios(c: &mut Criterion) {
    let mut g = c.benchmark_group("decide");
    for s in SCENARIOS {
        let cases: Vec<DecisionInput> = requests(s).into_iter().map(|(_, i)| i).collect();
        for e in ["cairn-rules", "cedar"] {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/policies")
                .join(s)
                .join(e);
            let p = Policy::compile(&pack_dir(&dir).unwrap()).unwrap();
            g.throughput(Throughput::Elements(cases.len() as u64));
            g.bench_function(format!("{s}/{e}/{}_requests", cases.len()), |b| {
                b.iter(|| {
                    for i in &cases {
                        black_box(p.decide(black_box(i)));
                    }
                })
            });
        }
    }
    g.finish();
}

fn generated(c: &mut Criterion) {
    let inputs: Vec<DecisionInput> = (0..64).map(generated::input).collect();
    let mut g = c.benchmark_group("decide_generated");
    g.throughput(Throughput::Elements(inputs.len() as u64));
    for n in [100usize, 1000] {
        for (e, bundle) in [
            ("cairn-rules", generated::rules_bundle(n)),
            ("cedar", generated::cedar_bundle(n)),
        ] {
            let p = Policy::compile(&bundle.unwrap()).unwrap();
            g.bench_function(format!("{e}/{n}_rules"), |b| {
                b.iter(|| {
                    for i in &inputs {
                        black_box(p.decide(black_box(i)));
                    }
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, scenarios, generated);
criterion_main!(benches);
