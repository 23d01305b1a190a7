use super::*;
use crate::pipeline::{PerStage, Stage};
use crate::sweep::rng::SplitMix64;

fn run(wall: f64, cores_used: f64) -> RunSample {
    RunSample {
        wall_seconds: wall,
        user_seconds: wall * cores_used * 0.9,
        system_seconds: wall * cores_used * 0.1,
        other_cpu_seconds: Some(0.0),
        other_load: Some(0.0),
        stage_busy_seconds: PerStage([0.1, 0.5, 1.0, 0.3, 0.1]),
        stage_cpu_seconds: PerStage([0.05, 0.5, 1.0, 0.3, 0.05]),
        stage_wait_seconds: PerStage::default(),
        files: 100,
        failed: 0,
        megapixels: 50.0,
        cpu_wait_seconds: None,
        cpu_run_seconds: None,
        cpus: Vec::new(),
    }
}

fn point(engine: Engine, workers: usize, cores: usize, walls: &[f64]) -> PointSamples {
    PointSamples {
        engine,
        workers,
        cores_allowed: cores,
        stage_workers: StageWorkers::uniform(workers),
        runs: walls.iter().map(|&w| run(w, 1.0)).collect(),
        discarded_loaded_runs: 0,
    }
}

/// The row of a point with these wall times (n = workers).
pub(crate) fn row_with_runs(engine: Engine, workers: usize, walls: &[f64]) -> PointRow {
    rows::build_row(&point(engine, workers, workers, walls), &[], false)
}

/// Points on `cores` = workers = n with times a + b/n plus seeded noise.
fn amdahl_points(
    engine: Engine,
    a: f64,
    b: f64,
    ns: &[usize],
    runs: usize,
    sd: f64,
    seed: u64,
) -> Vec<PointSamples> {
    let mut rng = SplitMix64::new(seed);
    ns.iter()
        .map(|&n| {
            let walls: Vec<f64> = (0..runs)
                .map(|_| a + b / n as f64 + sd * rng.normal())
                .collect();
            point(engine, n, n, &walls)
        })
        .collect()
}

#[test]
fn speedup_is_one_at_the_baseline_and_p_fits_back_with_interval_ceiling_and_predictions() {
    let pts = amdahl_points(Engine::Rayon, 0.2, 1.8, &[1, 2, 3, 4], 10, 0.002, 1);
    let a = analyse(&pts, Baseline::Same, None);
    assert_eq!(a.rows.len(), 4);
    assert!((a.rows[0].speedup.unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(a.rows[0].karp_flatt, None);
    let e = &a.engines[0];
    let f = e.fit.unwrap();
    assert!((f.parallel_fraction - 0.9).abs() < 0.01, "{f:?}");
    assert!(f.parallel_fraction_interval.unwrap().contains(0.9));
    assert!(f.r_squared.unwrap() > 0.99);
    let c = e.ceiling.unwrap();
    assert!((c.speedup.unwrap() - 10.0).abs() < 1.0, "{c:?}");
    assert_eq!(
        e.predictions
            .iter()
            .map(|p| p.processors)
            .collect::<Vec<_>>(),
        [8, 16]
    );
    assert!(e
        .predictions
        .iter()
        .all(|p| p.extrapolation && p.processors <= 4 * 4));
    for r in &a.rows[1..] {
        assert!((r.karp_flatt.unwrap() - 0.1).abs() < 0.02, "{r:?}");
    }
    assert!(
        a.warnings.iter().all(|w| !w.contains("R^2 not shown")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn r_squared_is_hidden_and_a_warning_says_why_with_two_processor_counts() {
    let pts = amdahl_points(Engine::Rayon, 0.2, 1.8, &[1, 2], 5, 0.002, 2);
    let a = analyse(&pts, Baseline::Same, None);
    assert_eq!(a.engines[0].fit.unwrap().r_squared, None);
    assert!(a.warnings.iter().any(|w| w.contains("R^2 not shown")));
    assert!(a.engines[0].usl.is_none());
}

#[test]
fn workers_beyond_the_cores_count_as_the_cores_everywhere() {
    // Perfect scaling to 2 cores, flat after: P = 1 on 2 processors, not a serial fraction.
    let pts = vec![
        point(Engine::Rayon, 1, 2, &[2.0, 2.0]),
        point(Engine::Rayon, 2, 2, &[1.0, 1.0]),
        point(Engine::Rayon, 4, 2, &[1.0, 1.0]),
        point(Engine::Rayon, 6, 2, &[1.0, 1.0]),
    ];
    let a = analyse(&pts, Baseline::Same, None);
    let f = a.engines[0].fit.unwrap();
    assert!((f.parallel_fraction - 1.0).abs() < 1e-12, "{f:?}");
    let last = &a.rows[3];
    assert_eq!((last.workers, last.processors), (6, 2));
    assert!(last.oversubscribed);
    assert!(
        (last.efficiency.unwrap() - 1.0).abs() < 1e-12,
        "efficiency on processors, not workers"
    );
    assert!(last.karp_flatt.unwrap().abs() < 1e-12);
    assert!((last.amdahl_speedup.unwrap() - 2.0).abs() < 1e-9);
    assert!(a.warnings.iter().any(|w| w.contains("oversubscribed")));
}

#[test]
fn serial_baseline_does_not_force_s1_and_warns_on_superlinear_efficiency() {
    let pts = amdahl_points(Engine::Staged, 0.1, 0.9, &[1, 2, 3], 4, 0.0, 3);
    let serial = point(Engine::Serial, 1, 4, &[1.5, 1.5]);
    let a = analyse(&pts, Baseline::Serial, Some(&serial));
    let e = &a.engines[0];
    assert_eq!(e.baseline, Baseline::Serial);
    assert_eq!(e.baseline_seconds, Some(1.5));
    assert!((a.rows[0].speedup.unwrap() - 1.5).abs() < 1e-12);
    // The fit only sees the engine's own runs: exact P, R^2 1, not a negative R^2.
    let f = e.fit.unwrap();
    assert!((f.parallel_fraction - 0.9).abs() < 1e-9);
    assert!((f.fitted_t1_seconds - 1.0).abs() < 1e-9);
    assert!(
        a.warnings
            .iter()
            .any(|w| w.contains("efficiency above 100%")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn no_ceiling_when_p_is_outside_0_1_and_warnings_for_load_cores_short_runs() {
    let mut pts = vec![
        point(Engine::Staged, 1, 2, &[0.10, 0.11, 0.10]),
        point(Engine::Staged, 2, 2, &[0.20, 0.21, 0.20]),
    ];
    for r in &mut pts[0].runs {
        r.user_seconds = r.wall_seconds * 1.8; // five stage threads on "one" worker
        r.other_load = Some(0.4);
    }
    let a = analyse(&pts, Baseline::Same, None);
    let all = a.warnings.join("\n");
    assert!(a.engines[0].fit.unwrap().parallel_fraction < 0.0);
    assert!(a.engines[0].ceiling.is_none() && a.engines[0].predictions.is_empty());
    for needle in [
        "outside [0, 1]",
        "its T1 is not one processor",
        "other processes took",
        "too little work",
    ] {
        assert!(all.contains(needle), "{needle}: {all}");
    }
}

#[test]
fn usl_appears_with_four_processor_counts_and_bigger_machine_is_a_labelled_prediction() {
    let pts = amdahl_points(Engine::Rayon, 0.1, 1.9, &[1, 2, 3, 4, 6], 6, 0.001, 4);
    let a = analyse(&pts, Baseline::Same, None);
    let e = &a.engines[0];
    let u = e.usl.unwrap();
    assert_eq!(u.processor_counts, 5);
    let bm = e.bigger_machine.as_ref().unwrap();
    assert_eq!(
        bm.points.iter().map(|p| p.processors).collect::<Vec<_>>(),
        [12, 24]
    );
    assert!(!bm.assumptions.is_empty());
    // Fitted on every processor count but the largest, which is the hold-out check.
    assert_eq!(
        bm.checks.iter().map(|c| c.processors).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let h = e.gates.bigger_machine.holdout.unwrap();
    assert_eq!(h.processors, 6);
    assert!(h.passed && h.miss.abs() < 0.01, "{h:?}");
    assert_eq!(bm.verdict, Verdict::Consistent);
    assert!(bm
        .checks
        .iter()
        .all(|c| c.measured_seconds > 0.0 && c.predicted_seconds >= c.measured_seconds));
    assert_eq!(bm.clock, StageClock::Cpu);
}

#[test]
fn recommends_the_smallest_n_within_5_percent_of_the_best() {
    let pts = vec![
        point(Engine::Rayon, 1, 4, &[2.0, 2.0]),
        point(Engine::Rayon, 2, 4, &[1.02, 1.02]),
        point(Engine::Rayon, 3, 4, &[1.0, 1.0]),
        point(Engine::Rayon, 4, 4, &[1.0, 1.0]),
    ];
    let a = analyse(&pts, Baseline::Same, None);
    assert_eq!(a.engines[0].recommended_workers, Some(2));
}

#[test]
fn heaviest_stage_on_cpu_time_falls_back_to_busy_wall_and_bottleneck_needs_queue_evidence() {
    let mut pts = amdahl_points(Engine::Staged, 0.1, 0.9, &[1, 2], 3, 0.0, 5);
    let a = analyse(&pts, Baseline::Same, None);
    assert_eq!(a.rows[0].stages.clock, StageClock::Cpu);
    assert_eq!(a.rows[0].stages.heaviest, Stage::Process);
    assert_eq!(a.rows[0].stages.bottleneck, None);
    for p in &mut pts {
        for r in &mut p.runs {
            r.stage_cpu_seconds = PerStage::default();
            r.stage_wait_seconds[Stage::Process] = 0.3; // files wait in front of process
        }
    }
    let a = analyse(&pts, Baseline::Same, None);
    assert_eq!(a.rows[0].stages.clock, StageClock::BusyWall);
    assert_eq!(a.rows[0].stages.bottleneck, Some(Stage::Process));
    let w = a.engines[0].recommended_stage_workers.unwrap();
    assert!(Stage::ALL.iter().all(|&s| (1..=2).contains(&w.get(s))));
}

#[test]
fn one_point_has_rows_but_no_fit_and_the_analysis_round_trips_through_json() {
    let a = analyse(&[point(Engine::Staged, 1, 2, &[1.0])], Baseline::Same, None);
    assert_eq!(a.rows.len(), 1);
    assert!(a.engines[0].fit.is_none());
    assert!(a.warnings.iter().any(|w| w.contains("no Amdahl fit")));
    let pts = amdahl_points(Engine::Rayon, 0.3, 1.1, &[1, 2, 3, 4], 5, 0.01, 6);
    let a = analyse(&pts, Baseline::Same, None);
    let back: SweepAnalysis = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    assert_eq!(back, a);
}

#[test]
fn bigger_machine_is_never_faster_than_a_measured_point_and_not_linear_from_a_clamped_fixed_time() {
    // The staged engine's stage CPU (1.9 s) covers its whole 1.9 s wall at n = 1, so nothing
    // is left outside the stages there; n = 2 took 1.5 s (1.27x), not the 0.95 s perfect
    // scaling of the stage times would give. Taking the fixed time from n = 1 alone (0 s)
    // predicted 4.00x at 4 cores and 8.00x at 8, and 0.95 s where 1.5 s was measured.
    let pts = vec![
        point(Engine::Staged, 1, 2, &[1.88, 1.9, 1.92]),
        point(Engine::Staged, 2, 2, &[1.48, 1.5, 1.52]),
    ];
    let a = analyse(&pts, Baseline::Same, None);
    let bm = a.engines[0].bigger_machine.as_ref().unwrap();
    for c in &bm.checks {
        assert!(
            c.predicted_seconds >= c.measured_seconds - 1e-9,
            "the model claims more than was measured at n = {}: {c:?}",
            c.processors
        );
    }
    for p in &bm.points {
        assert!(
            p.speedup.unwrap() < p.processors as f64 * 0.75,
            "near-linear {p:?} from 1.27x measured at n = 2"
        );
    }
}
