//! The spool, delivered in the background: every interval, and at once
//! when the gate starts, each spooled receipt (SILENCE receipts of
//! decisions the ledger did not acknowledge) is offered to the ledger
//! again, oldest first, until the ledger answers or the spool is empty.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::pdp::Pdp;

/// The default interval between deliveries.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// A running delivery thread; it stops when dropped.
#[derive(Debug)]
pub struct Delivery {
    stop: Arc<AtomicBool>,
}

impl Delivery {
    /// Deliver the spools of `pdp`'s gates every `interval`.
    pub fn start(pdp: Arc<Pdp>, interval: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new().name("cairn-spool".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                deliver_once(&pdp);
                // Sleep in short steps so that a drop stops it soon.
                let mut left = interval;
                while !left.is_zero() && !flag.load(Ordering::Relaxed) {
                    let step = left.min(Duration::from_millis(100));
                    std::thread::sleep(step);
                    left -= step;
                }
            }
        })?;
        Ok(Delivery { stop })
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One delivery of every gate's spool; what happened goes to the log.
pub fn deliver_once(pdp: &Pdp) {
    // Gates that share a spool directory deliver it once.
    let mut done = std::collections::BTreeSet::new();
    for gate in pdp.gates() {
        if !done.insert(gate.spool().dir().to_owned()) {
            continue;
        }
        match gate.deliver_spool() {
            Ok(d) if d.rejected > 0 => tracing::warn!(
                delivered = d.delivered,
                set_aside = d.rejected,
                dir = %gate.spool().dir().display(),
                "spool: the ledger refused receipts for good; they are set aside in rejected/: investigate them"
            ),
            Ok(d) if d.delivered > 0 => tracing::info!(
                delivered = d.delivered,
                set_aside = d.rejected,
                held = d.held,
                waiting = d.waiting,
                "spool delivered"
            ),
            Ok(d) if d.waiting > 0 => tracing::debug!(waiting = d.waiting, "spool: the ledger is still unavailable"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "spool delivery failed"),
        }
    }
}
