//! One big picture split over the workers: its gray conversion, its threshold and its PNG encode
//! run on bands of rows at once, so that a folder with fewer pictures than workers still uses
//! every worker.
//!
//! Where a picture is cut never depends on how many workers there are (the kernels' band
//! sizes follow the picture and the operation only), so the bytes written are the same for
//! every engine and worker count; the workers only decide who computes which band.
//!
//! The bands run on a pool of as many threads as the run has workers, started the first time a
//! big picture comes (a run of small pictures starts none). A worker hands its picture's bands
//! to the pool and waits; meanwhile the other workers go on with their own files.

use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

/// Pictures from this many pixels on are split into bands (smaller ones keep the one-worker
/// path, where a split costs more than it gives).
pub const BIG_PICTURE_PIXELS: u64 = 4 << 20;

/// Who computes the bands of a big picture: the calling worker alone, or a shared pool.
#[derive(Clone)]
pub struct Bands {
    threads: usize,
    pool: Arc<OnceLock<Option<rayon::ThreadPool>>>,
}

impl std::fmt::Debug for Bands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bands")
            .field("threads", &self.threads)
            .finish()
    }
}

impl Bands {
    /// Bands computed one after the other by the worker that has the picture.
    pub fn serial() -> Self {
        Self::new(1)
    }

    /// Bands computed by a pool of `threads` threads (started when first needed).
    pub fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            pool: Arc::new(OnceLock::new()),
        }
    }

    /// Whether a picture of `pixels` is worth splitting here.
    pub fn splits(&self, pixels: u64) -> bool {
        self.threads > 1 && pixels >= BIG_PICTURE_PIXELS
    }

    /// `f` applied to every item, the results in the items' order. Which thread computes which
    /// item is not fixed; the results never depend on it. A panic in `f` comes back to the
    /// caller (where the stage catches it).
    pub fn map<T, R, F>(&self, items: Vec<T>, f: F) -> Vec<R>
    where
        T: Send,
        R: Send,
        F: Fn(T) -> R + Sync + Send,
    {
        let pool = match self.pool() {
            Some(pool) if items.len() > 1 => pool,
            _ => return items.into_iter().map(f).collect(),
        };
        let run = || pool.install(|| items.into_par_iter().map(&f).collect());
        if rayon::current_thread_index().is_none() {
            return run();
        }
        // A rayon worker (the rayon engine's) waiting in `install` would take other files'
        // tasks meanwhile, and one of them waiting for memory this picture holds would never
        // return. A plain thread waits without taking anything.
        std::thread::scope(|s| match s.spawn(run).join() {
            Ok(results) => results,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    }

    fn pool(&self) -> Option<&rayon::ThreadPool> {
        if self.threads <= 1 {
            return None;
        }
        self.pool
            .get_or_init(|| {
                // Without a pool (a thread limit) the bands run on the caller: same bytes.
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads)
                    .thread_name(|i| format!("graypipe-band-{i}"))
                    .build()
                    .ok()
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_the_order_for_any_thread_count() {
        let items: Vec<u64> = (0..1000).collect();
        let want: Vec<u64> = items.iter().map(|x| x * x + 1).collect();
        for threads in [1, 2, 3, 8] {
            let bands = Bands::new(threads);
            assert_eq!(bands.map(items.clone(), |x| x * x + 1), want);
        }
    }

    #[test]
    fn a_panic_in_a_band_reaches_the_caller() {
        let bands = Bands::new(2);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            bands.map((0..10).collect::<Vec<u32>>(), |x| {
                assert!(x != 7, "band seven");
                x
            })
        }));
        assert!(caught.is_err());
        // The pool still works afterwards.
        assert_eq!(bands.map(vec![1, 2], |x: u32| x + 1), vec![2, 3]);
    }

    #[test]
    fn only_big_pictures_are_split_and_only_with_several_workers() {
        assert!(!Bands::serial().splits(u64::MAX));
        assert!(!Bands::new(2).splits(BIG_PICTURE_PIXELS - 1));
        assert!(Bands::new(2).splits(BIG_PICTURE_PIXELS));
    }
}
