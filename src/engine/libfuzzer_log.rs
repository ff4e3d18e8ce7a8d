//! Reading what a libFuzzer worker prints on stderr: its status lines
//! (`#N NEW cov: .. ft: .. corp: A/Bb .. exec/s: E rss: RMb`), its final
//! statistics (`-print_final_stats=1`), the file a crashing input was written
//! to, and the oracle message our panic hook prints before libFuzzer sees the
//! abort.

/// The prefix the worker's panic hook puts before an oracle failure message.
pub const FINDING_PREFIX: &str = "rseq-fuzz-finding: ";

/// What is known about one worker so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerStatus {
    /// Executions so far (`#N`, or the final `number_of_executed_units`).
    pub execs: u64,
    /// The last rate libFuzzer reported (exec/s).
    pub exec_per_sec: u64,
    /// Features (`ft:`): edges and decision-map counters together.
    pub features: u64,
    /// Corpus entries (`corp: A/..`).
    pub corpus: u64,
    /// Peak RSS in MB.
    pub rss_mb: u64,
    /// Set once the final statistics were read.
    pub done: bool,
    /// libFuzzer reported an interrupt (Ctrl-C).
    pub interrupted: bool,
    /// Crash files written (`Test unit written to PATH`).
    pub artifacts: Vec<String>,
    /// Inputs libFuzzer saved as slow units (`slow-unit-*`: one run took
    /// longer than `-report_slow_units`, 10 s). Not findings: a stalled
    /// machine makes them too, and a hang is a timeout crash instead.
    pub slow_units: Vec<String>,
    /// Oracle messages printed by the panic hook, in order.
    pub messages: Vec<String>,
}

fn field(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let rest = rest.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

impl WorkerStatus {
    /// Take one line of the worker's stderr into account.
    pub fn update(&mut self, line: &str) {
        if let Some(msg) = line.strip_prefix(FINDING_PREFIX) {
            self.messages.push(msg.to_string());
        } else if let Some(rest) = line.strip_prefix('#') {
            // A status line: "#1234\tNEW    cov: ..." (the count first).
            let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(n) = n.parse::<u64>() {
                if !self.done {
                    self.execs = self.execs.max(n);
                }
                if let Some(v) = field(line, "ft:") {
                    self.features = v;
                }
                if let Some(v) = field(line, "corp:") {
                    self.corpus = v;
                }
                if let Some(v) = field(line, "exec/s:") {
                    self.exec_per_sec = v;
                }
                if let Some(v) = field(line, "rss:") {
                    self.rss_mb = self.rss_mb.max(v);
                }
            }
        } else if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            if let Ok(v) = v.trim().parse() {
                self.execs = v;
                self.done = true;
            }
        } else if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
            if let Ok(v) = v.trim().parse() {
                self.exec_per_sec = v;
            }
        } else if let Some(v) = line.strip_prefix("stat::peak_rss_mb:") {
            if let Ok(v) = v.trim().parse::<u64>() {
                self.rss_mb = self.rss_mb.max(v);
            }
        } else if let Some(i) = line.find("Test unit written to ") {
            let path = line[i + "Test unit written to ".len()..].trim();
            let slow = std::path::Path::new(path)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("slow-unit-"));
            if slow {
                self.slow_units.push(path.to_string());
            } else if !path.is_empty() {
                self.artifacts.push(path.to_string());
            }
        } else if line.contains("libFuzzer: run interrupted") {
            self.interrupted = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_lines_final_stats_and_findings() {
        let mut s = WorkerStatus::default();
        s.update("#2\tINITED cov: 3 ft: 5 corp: 1/32b exec/s: 0 rss: 30Mb");
        assert_eq!((s.execs, s.features, s.corpus, s.rss_mb), (2, 5, 1, 30));
        s.update("#4112\tREDUCE ft: 50 corp: 33/529b lim: 47 exec/s: 1000 rss: 35Mb L: 1/32 MS: 3 EraseBytes-");
        assert_eq!(
            (s.execs, s.features, s.corpus, s.exec_per_sec),
            (4112, 50, 33, 1000)
        );
        s.update("rseq-fuzz-finding: oracle security failed: canary (src/targets.rs:1)");
        s.update("artifact_prefix='findings/cs_analysis/'; Test unit written to findings/cs_analysis/crash-96915712");
        s.update("stat::number_of_executed_units: 7930692");
        s.update("stat::average_exec_per_sec:     1321782");
        s.update("stat::peak_rss_mb:              36");
        assert!(s.done);
        assert_eq!(
            (s.execs, s.exec_per_sec, s.rss_mb),
            (7_930_692, 1_321_782, 36)
        );
        assert_eq!(s.artifacts, vec!["findings/cs_analysis/crash-96915712"]);
        assert_eq!(
            s.messages,
            vec!["oracle security failed: canary (src/targets.rs:1)"]
        );
        assert!(!s.interrupted);
        // A slow unit is kept apart: it is not a finding.
        s.update("artifact_prefix='findings/differential/'; Test unit written to findings/differential/slow-unit-cd3178");
        assert_eq!(s.artifacts, vec!["findings/cs_analysis/crash-96915712"]);
        assert_eq!(s.slow_units, vec!["findings/differential/slow-unit-cd3178"]);
        s.update("==12== libFuzzer: run interrupted; exiting");
        assert!(s.interrupted);
    }

    #[test]
    fn ignores_other_lines() {
        let mut s = WorkerStatus::default();
        for l in [
            "",
            "#",
            "#abc",
            "INFO: Seed: 1",
            "MS: 1 ChangeByte-; base unit: 0",
            "stat::x: y",
        ] {
            s.update(l);
        }
        assert_eq!(s, WorkerStatus::default());
    }
}
