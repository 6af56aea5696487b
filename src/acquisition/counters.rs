//! [`DeviceCounters`]: named running totals of a live device, shared between the thread that
//! counts and the threads that read them.
//!
//! A device's source is moved into the pipeline's source thread (and an audio callback runs on
//! the audio driver's thread), yet the command line prints the counters at the end, writes them
//! into the session file and a dashboard may show them while the case runs. So every counter
//! is an atomic in an `Arc`: adding is one relaxed `fetch_add` (no lock, no allocation: safe
//! in an audio callback), and reading never disturbs the counting thread. The names are fixed
//! at construction (`&'static str`), and a reconnected device keeps counting into the same set,
//! so totals cover the whole case.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A fixed set of named counters. See the module documentation.
#[derive(Debug)]
pub struct DeviceCounters {
    prefix: &'static str,
    names: &'static [&'static str],
    values: Box<[AtomicU64]>,
}

impl DeviceCounters {
    /// Counters called `{prefix}_{name}` for each name, all zero.
    pub fn new(prefix: &'static str, names: &'static [&'static str]) -> Arc<Self> {
        Arc::new(Self {
            prefix,
            names,
            values: names.iter().map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// Adds `n` to counter `i` (an index out of range is ignored: counting never panics).
    pub fn add(&self, i: usize, n: u64) {
        if let Some(v) = self.values.get(i) {
            v.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Counter `i` (0 if out of range).
    pub fn get(&self, i: usize) -> u64 {
        self.values.get(i).map_or(0, |v| v.load(Ordering::Relaxed))
    }

    /// The counter called `name` (without the prefix), if there is one.
    pub fn by_name(&self, name: &str) -> Option<u64> {
        self.names
            .iter()
            .position(|n| *n == name)
            .map(|i| self.get(i))
    }

    /// The prefix (`audio`, `serial`, `reconnect`, ...).
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }

    /// Every counter as `(prefix_name, value)`, in construction order.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("{}_{n}", self.prefix), self.get(i)))
            .collect()
    }

    /// The non-zero counters as `name value, name value` (for a summary line).
    pub fn describe_nonzero(&self) -> String {
        let parts: Vec<String> = self
            .names
            .iter()
            .enumerate()
            .filter(|(i, _)| self.get(*i) > 0)
            .map(|(i, n)| format!("{} {}", n.replace('_', " "), self.get(i)))
            .collect();
        if parts.is_empty() {
            "nothing counted".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_across_threads_and_names_with_the_prefix() {
        const NAMES: &[&str] = &["frames", "xruns"];
        let c = DeviceCounters::new("audio", NAMES);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.add(0, 2);
                    }
                    c.add(1, 1);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        c.add(7, 1); // ignored
        assert_eq!(c.get(0), 8000);
        assert_eq!(c.get(9), 0);
        assert_eq!(c.by_name("xruns"), Some(4));
        assert_eq!(c.by_name("nope"), None);
        assert_eq!(
            c.snapshot(),
            vec![("audio_frames".into(), 8000), ("audio_xruns".into(), 4)]
        );
        assert_eq!(c.describe_nonzero(), "frames 8000, xruns 4");
        assert_eq!(
            DeviceCounters::new("x", NAMES).describe_nonzero(),
            "nothing counted"
        );
    }
}
