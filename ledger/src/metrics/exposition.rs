//! The two text formats `/metrics` speaks, chosen by the `Accept` header.
//!
//! The metrics library writes OpenMetrics 1.0. Prometheus' older text
//! format 0.0.4 (`text/plain; version=0.0.4`), which `promtool check
//! metrics` and many scrapers read, differs for counters: the family is
//! named with its `_total` suffix in `# HELP` and `# TYPE`, and there is no
//! `# EOF`, `# UNIT` or `_created` sample. A client that names
//! `application/openmetrics-text` in `Accept` (Prometheus does, first) gets
//! OpenMetrics; every other client gets 0.0.4.

/// A format of the metrics exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposition {
    /// OpenMetrics 1.0.0.
    OpenMetrics,
    /// Prometheus text format 0.0.4.
    Prometheus,
}

impl Exposition {
    /// The format an `Accept` header asks for (none: Prometheus 0.0.4).
    pub fn negotiate(accept: Option<&str>) -> Self {
        let wants_openmetrics = accept.is_some_and(|a| {
            a.split(',').any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let media = parts.next().unwrap_or_default();
                let refused = parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
                media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
            })
        });
        if wants_openmetrics {
            Exposition::OpenMetrics
        } else {
            Exposition::Prometheus
        }
    }

    /// The `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Exposition::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// `openmetrics` (what the library writes) in this format.
    pub fn render(self, openmetrics: &str) -> String {
        match self {
            Exposition::OpenMetrics => openmetrics.to_string(),
            Exposition::Prometheus => to_prometheus(openmetrics),
        }
    }
}

/// OpenMetrics text → Prometheus 0.0.4 text.
fn to_prometheus(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let is_counter = |name: &str| counters.contains(&name);
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ").or_else(|| line.strip_prefix("# TYPE ")) {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if is_counter(name) {
                out.push_str(&line[..7]);
                out.push_str(name);
                out.push_str("_total ");
                out.push_str(tail);
                out.push('\n');
                continue;
            }
        }
        let sample_name = line.split(['{', ' ']).next().unwrap_or_default();
        if sample_name.strip_suffix("_created").is_some_and(is_counter) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OM: &str = "# HELP cairn_decisions Receipts logged.\n# TYPE cairn_decisions counter\n\
cairn_decisions_total{gate=\"g\"} 3\ncairn_decisions_created{gate=\"g\"} 1.5\n\
# HELP cairn_tree_size Entries in the log.\n# TYPE cairn_tree_size gauge\ncairn_tree_size 3\n# EOF\n";

    #[test]
    fn prometheus_names_counters_with_total_and_has_no_eof() {
        let p = Exposition::Prometheus.render(OM);
        assert_eq!(
            p,
            "# HELP cairn_decisions_total Receipts logged.\n# TYPE cairn_decisions_total counter\n\
cairn_decisions_total{gate=\"g\"} 3\n\
# HELP cairn_tree_size Entries in the log.\n# TYPE cairn_tree_size gauge\ncairn_tree_size 3\n"
        );
        assert_eq!(Exposition::OpenMetrics.render(OM), OM);
    }

    #[test]
    fn negotiation_follows_accept() {
        use Exposition::*;
        assert_eq!(Exposition::negotiate(None), Prometheus);
        assert_eq!(Exposition::negotiate(Some("*/*")), Prometheus);
        assert_eq!(Exposition::negotiate(Some("text/plain;version=0.0.4")), Prometheus);
        assert_eq!(
            Exposition::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            )),
            OpenMetrics
        );
        assert_eq!(Exposition::negotiate(Some("Application/OpenMetrics-Text")), OpenMetrics);
        assert_eq!(
            Exposition::negotiate(Some("application/openmetrics-text;q=0, text/plain")),
            Prometheus
        );
    }
}
