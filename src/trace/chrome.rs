//! A [`Timeline`] as Chrome Trace Event JSON (the "JSON Object Format" that Perfetto's UI and
//! `chrome://tracing` open): one thread track per worker with a complete (`X`) slice per file
//! per stage, counter (`C`) tracks for files in flight, memory held and queue depths, and
//! instant (`i`) markers for failures, refusals and cancellation. Timestamps are microseconds
//! from the start of the run.

use serde_json::{json, Value};

use super::{MarkKind, Timeline};
use crate::pipeline::Stage;

/// The process id every event carries (one process: the run).
const PID: u32 = 1;

/// The track of worker `w` (thread ids start at 1; 0 is the run's own track).
fn tid(worker: usize) -> usize {
    worker + 1
}

/// Nanoseconds as the format's microseconds.
fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The trace document: `file(i)` names file `i` (its position in the run's job slice).
/// `title` names the process track (e.g. "graypipe run (staged, 4 workers)").
pub fn chrome_trace(t: &Timeline, title: &str, file: &dyn Fn(usize) -> String) -> Value {
    let mut meta = vec![json!({
        "ph": "M", "pid": PID, "tid": 0, "name": "process_name", "args": {"name": title}
    })];
    meta.push(json!({
        "ph": "M", "pid": PID, "tid": 0, "name": "thread_name", "args": {"name": "run"}
    }));
    for w in 0..t.workers {
        meta.push(json!({
            "ph": "M", "pid": PID, "tid": tid(w), "name": "thread_name",
            "args": {"name": format!("worker {w}")}
        }));
        meta.push(json!({
            "ph": "M", "pid": PID, "tid": tid(w), "name": "thread_sort_index",
            "args": {"sort_index": tid(w)}
        }));
    }
    // (timestamp in ns, event) so that every track comes out in time order.
    let mut timed: Vec<(u64, Value)> = Vec::with_capacity(t.slices.len() + 4 * t.samples.len());
    for s in &t.slices {
        let mut args = json!({"file": file(s.file), "bytes": s.bytes, "index": s.file});
        if s.failed {
            args["failed"] = json!(true);
        }
        timed.push((
            s.start_ns,
            json!({
                "ph": "X", "pid": PID, "tid": tid(s.worker), "name": s.stage.name(),
                "cat": "stage", "ts": us(s.start_ns), "dur": us(s.dur_ns), "args": args
            }),
        ));
    }
    for m in &t.marks {
        let mut args = json!({"reason": m.reason});
        if let Some(f) = m.file {
            args["file"] = json!(file(f));
        }
        if let Some(s) = m.stage {
            args["stage"] = json!(s.name());
        }
        let name = match m.kind {
            MarkKind::Cancel => "cancelled".to_string(),
            k => format!("{}: {}", k.name(), m.stage.map_or("", Stage::name)),
        };
        let (track, scope) = match m.worker {
            Some(w) => (tid(w), "t"),
            None => (0, "g"),
        };
        timed.push((
            m.at_ns,
            json!({
                "ph": "i", "pid": PID, "tid": track, "name": name, "cat": m.kind.name(),
                "s": scope, "ts": us(m.at_ns), "args": args
            }),
        ));
    }
    for s in &t.samples {
        let ts = us(s.at_ns);
        timed.push((
            s.at_ns,
            json!({"ph": "C", "pid": PID, "tid": 0, "name": "files in flight", "ts": ts,
                   "args": {"files": s.in_flight}}),
        ));
        timed.push((
            s.at_ns,
            json!({"ph": "C", "pid": PID, "tid": 0, "name": "memory held (bytes)", "ts": ts,
                   "args": {"bytes": s.memory}}),
        ));
        if let Some(q) = &s.queues {
            let mut args = serde_json::Map::new();
            for (stage, n) in q.stages() {
                args.insert(stage.name().into(), json!(n));
            }
            timed.push((
                s.at_ns,
                json!({"ph": "C", "pid": PID, "tid": 0, "name": "queue depth", "ts": ts,
                       "args": args}),
            ));
        }
    }
    // Stable: slices of one track keep their order when they share a timestamp.
    timed.sort_by_key(|(ns, _)| *ns);
    meta.extend(timed.into_iter().map(|(_, e)| e));
    json!({
        "traceEvents": meta,
        "displayTimeUnit": "ms",
        "otherData": {
            "generator": concat!("graypipe ", env!("CARGO_PKG_VERSION")),
            "workers": t.workers,
            "wall_ns": t.wall_ns,
        }
    })
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
        let v = chrome_trace(&t, "run", &|i| format!("f{i}"));
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
    }
}
