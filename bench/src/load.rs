//! A closed-loop load generator: `concurrency` tasks each run one operation after
//! another, for a number of operations or for a time, and record every latency in an
//! HDR histogram.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// When a run ends.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After this many operations in all.
    Count(u64),
    /// After this long.
    After(Duration),
}

/// What a run measured.
pub struct Run {
    pub operations: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latencies in microseconds.
    pub latency: Histogram<u64>,
}

impl Run {
    /// A run measured only by its count and time, without latencies.
    pub fn counted(operations: u64, errors: u64, elapsed: Duration) -> Self {
        Self {
            operations,
            errors,
            elapsed,
            latency: histogram(),
        }
    }

    /// Several runs as one: their operations over their summed time.
    pub fn merged(runs: Vec<Run>) -> Self {
        let mut all = Self::counted(0, 0, Duration::ZERO);
        for run in runs {
            all.operations += run.operations;
            all.errors += run.errors;
            all.elapsed += run.elapsed;
            all.latency
                .add(run.latency)
                .expect("histograms with the same bounds");
        }
        all
    }

    pub fn per_second(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at `quantile`, in milliseconds.
    pub fn millis(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn max_millis(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Runs `operation(i)` for i = 0, 1, 2… from `concurrency` tasks until `stop`; an
/// operation reports whether it succeeded.
pub async fn run<F, Fut>(concurrency: usize, stop: Stop, operation: F) -> Run
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let operation = Arc::new(operation);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let operation = operation.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut latency = histogram();
                let mut errors = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let more = match stop {
                        Stop::Count(n) => i < n,
                        Stop::After(d) => started.elapsed() < d,
                    };
                    if !more {
                        break;
                    }
                    let at = Instant::now();
                    if !operation(i).await {
                        errors += 1;
                    }
                    let micros = at.elapsed().as_micros().max(1) as u64;
                    latency.saturating_record(micros);
                }
                (latency, errors)
            })
        })
        .collect();
    let mut latency = histogram();
    let mut errors = 0;
    for task in tasks {
        let (part, failed) = task.await.expect("a load task panicked");
        latency.add(part).expect("histograms with the same bounds");
        errors += failed;
    }
    Run {
        operations: latency.len(),
        errors,
        elapsed: started.elapsed(),
        latency,
    }
}
