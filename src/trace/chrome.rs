//! A [`Timeline`] as Chrome Trace Event JSON (the "JSON Object Format" that Perfetto's UI and
//! `chrome://tracing` open): one thread track per worker with a complete (`X`) slice per file
//! per stage, counter (`C`) tracks for files in flight, memory held and queue depths, and
//! instant (`i`) markers for failures, refusals and cancellation. Timestamps are microseconds
//! from the start of the run.

use std::fmt::Write;

use super::{MarkKind, Timeline};
use crate::pipeline::Stage;

/// The process id every event carries (one process: the run).
const PID: u32 = 1;

/// The track of worker `w` (thread ids start at 1; 0 is the run's own track).
fn tid(worker: usize) -> usize {
    worker + 1
}

/// Nanoseconds as the format's microseconds (exact to the nanosecond).
struct Us(u64);

impl std::fmt::Display for Us {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// `s` as a JSON string.
fn quoted(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The trace document: `file(i)` names file `i` (its position in the run's job slice).
/// `title` names the process track (e.g. "graypipe run (staged, 4 workers)"). Written
/// directly as text: a run of 10,000 files has 50,000 slices, and building a JSON tree first
/// would cost more than the tracing itself.
pub fn chrome_trace(t: &Timeline, title: &str, file: &dyn Fn(usize) -> String) -> String {
    // Each file's name, quoted once (a file has up to five slices).
    let files = t.slices.iter().map(|s| s.file + 1).max().unwrap_or(0);
    let names: Vec<String> = (0..files).map(|i| quoted(&file(i))).collect();
    let name = |i: usize| -> std::borrow::Cow<'_, str> {
        match names.get(i) {
            Some(n) => std::borrow::Cow::Borrowed(n.as_str()),
            None => std::borrow::Cow::Owned(quoted(&file(i))),
        }
    };
    let mut out = String::with_capacity(200 * (t.slices.len() + 3 * t.samples.len()) + 1024);
    out.push_str("{\"traceEvents\":[\n");
    let _ = write!(
        out,
        "{{\"ph\":\"M\",\"pid\":{PID},\"tid\":0,\"name\":\"process_name\",\"args\":{{\"name\":{}}}}},\n\
         {{\"ph\":\"M\",\"pid\":{PID},\"tid\":0,\"name\":\"thread_name\",\"args\":{{\"name\":\"run\"}}}}",
        quoted(title)
    );
    for w in 0..t.workers {
        let _ = write!(
            out,
            ",\n{{\"ph\":\"M\",\"pid\":{PID},\"tid\":{0},\"name\":\"thread_name\",\"args\":{{\"name\":\"worker {w}\"}}}},\n\
             {{\"ph\":\"M\",\"pid\":{PID},\"tid\":{0},\"name\":\"thread_sort_index\",\"args\":{{\"sort_index\":{0}}}}}",
            tid(w)
        );
    }
    // Three sorted streams (slices by worker then time; marks and samples by time) merged by
    // time, so that every track comes out in time order.
    let mut slices: Vec<&super::Slice> = t.slices.iter().collect();
    slices.sort_by_key(|s| s.start_ns);
    let (mut i, mut j, mut k) = (0, 0, 0);
    let mut last: Option<&super::Sample> = None;
    loop {
        let next = [
            slices.get(i).map(|s| s.start_ns),
            t.marks.get(j).map(|m| m.at_ns),
            t.samples.get(k).map(|s| s.at_ns),
        ];
        let Some((which, _)) = next
            .iter()
            .enumerate()
            .filter_map(|(n, ts)| ts.map(|ts| (n, ts)))
            .min_by_key(|&(n, ts)| (ts, n))
        else {
            break;
        };
        out.push_str(",\n");
        match which {
            0 => {
                let s = slices[i];
                i += 1;
                let _ = write!(
                    out,
                    "{{\"ph\":\"X\",\"pid\":{PID},\"tid\":{},\"name\":\"{}\",\"ts\":{},\"dur\":{},\"args\":{{\"file\":{},\"bytes\":{},\"index\":{}{}}}}}",
                    tid(s.worker),
                    s.stage.name(),
                    Us(s.start_ns),
                    Us(s.dur_ns),
                    name(s.file),
                    s.bytes,
                    s.file,
                    if s.failed { ",\"failed\":true" } else { "" }
                );
            }
            1 => {
                let m = &t.marks[j];
                j += 1;
                let title = match m.kind {
                    MarkKind::Cancel => "cancelled".to_string(),
                    k => format!("{}: {}", k.name(), m.stage.map_or("", Stage::name)),
                };
                let (track, scope) = match m.worker {
                    Some(w) => (tid(w), "t"),
                    None => (0, "g"),
                };
                let _ = write!(
                    out,
                    "{{\"ph\":\"i\",\"pid\":{PID},\"tid\":{track},\"name\":{},\"cat\":\"{}\",\"s\":\"{scope}\",\"ts\":{},\"args\":{{\"reason\":{}",
                    quoted(&title),
                    m.kind.name(),
                    Us(m.at_ns),
                    quoted(&m.reason)
                );
                if let Some(f) = m.file {
                    let _ = write!(out, ",\"file\":{}", name(f));
                }
                if let Some(s) = m.stage {
                    let _ = write!(out, ",\"stage\":\"{}\"", s.name());
                }
                out.push_str("}}");
            }
            _ => {
                let s = &t.samples[k];
                k += 1;
                let ts = Us(s.at_ns);
                // Each counter only when it changed: viewers hold a value until the next.
                let mut sep = "";
                if last.map_or(true, |l| l.in_flight != s.in_flight) {
                    let _ = write!(
                        out,
                        "{{\"ph\":\"C\",\"pid\":{PID},\"tid\":0,\"name\":\"files in flight\",\"ts\":{ts},\"args\":{{\"files\":{}}}}}",
                        s.in_flight
                    );
                    sep = ",\n";
                }
                if last.map_or(true, |l| l.memory != s.memory) {
                    let _ = write!(
                        out,
                        "{sep}{{\"ph\":\"C\",\"pid\":{PID},\"tid\":0,\"name\":\"memory held (bytes)\",\"ts\":{ts},\"args\":{{\"bytes\":{}}}}}",
                        s.memory
                    );
                    sep = ",\n";
                }
                match &s.queues {
                    Some(q) if last.map_or(true, |l| l.queues != s.queues) => {
                        let _ = write!(
                            out,
                            "{sep}{{\"ph\":\"C\",\"pid\":{PID},\"tid\":0,\"name\":\"queue depth\",\"ts\":{ts},\"args\":{{"
                        );
                        for (n, (stage, v)) in q.stages().enumerate() {
                            let sep = if n == 0 { "" } else { "," };
                            let _ = write!(out, "{sep}\"{}\":{v}", stage.name());
                        }
                        out.push_str("}}");
                    }
                    // Nothing written (not reached: a sample is only kept when a counter
                    // changed); the list still needs an element after its comma.
                    _ if sep.is_empty() => {
                        let _ = write!(
                            out,
                            "{{\"ph\":\"C\",\"pid\":{PID},\"tid\":0,\"name\":\"files in flight\",\"ts\":{ts},\"args\":{{\"files\":{}}}}}",
                            s.in_flight
                        );
                    }
                    _ => {}
                }
                last = Some(s);
            }
        }
    }
    let _ = write!(
        out,
        "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{{\"generator\":\"graypipe {}\",\"workers\":{},\"wall_ns\":{}}}}}\n",
        env!("CARGO_PKG_VERSION"),
        t.workers,
        t.wall_ns
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Mark, Sample, Slice};

    #[test]
    fn slices_counters_and_marks_land_on_their_tracks_in_order() {
        let slice = |worker, file, stage, start_ns| Slice {
            worker,
            file,
            stage,
            start_ns,
            dur_ns: 10,
            bytes: 5,
            failed: false,
        };
        let t = Timeline {
            workers: 2,
            wall_ns: 100,
            slices: vec![
                slice(0, 0, Stage::Read, 0),
                slice(0, 0, Stage::Decode, 10),
                slice(1, 1, Stage::Read, 5),
            ],
            marks: vec![Mark {
                kind: MarkKind::Cancel,
                at_ns: 50,
                worker: None,
                file: None,
                stage: None,
                reason: "x".into(),
            }],
            samples: vec![Sample {
                at_ns: 7,
                in_flight: 2,
                memory: 10,
                queues: None,
            }],
        };
        let v: serde_json::Value =
            serde_json::from_str(&chrome_trace(&t, "run \"1\"", &|i| format!("f{i}\n"))).unwrap();
        let ev = v["traceEvents"].as_array().unwrap();
        let xs: Vec<(u64, f64)> = ev
            .iter()
            .filter(|e| e["ph"] == "X")
            .map(|e| (e["tid"].as_u64().unwrap(), e["ts"].as_f64().unwrap()))
            .collect();
        assert_eq!(xs, vec![(1, 0.0), (2, 0.005), (1, 0.01)]);
        assert_eq!(ev.iter().filter(|e| e["ph"] == "C").count(), 2);
        let names: Vec<&str> = ev
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["run", "worker 0", "worker 1"]);
        assert!(ev.iter().any(|e| e["ph"] == "i" && e["s"] == "g"));
        assert_eq!(ev[4]["ph"], "M");
        assert_eq!(ev[0]["args"]["name"], "run \"1\"");
        let x = ev.iter().find(|e| e["ph"] == "X").unwrap();
        assert_eq!(x["args"]["file"], "f0\n");
    }
}
