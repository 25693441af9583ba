//! A producer/consumer pipeline: a producer fills a bounded queue, a
//! dispatcher hands each job to a worker task in a TaskGroup, a semaphore
//! caps how many workers run at once, and the results come back on a
//! second queue. Prints the throughput.
//!
//! ```sh
//! scripts/run-example pipeline            # 2,000 jobs
//! aio run pipeline.wasm -- 10000          # any number
//! ```
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use asyncio::sync::Semaphore;
use asyncio::{ErrorKind, Queue, TaskGroup};

const WORKERS: usize = 8;

#[asyncio::main]
async fn main() -> asyncio::Result<()> {
    let jobs: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let start = asyncio::Instant::now();
    let inbox: Queue<u64> = Queue::new(16); // bounded: the producer waits
    let results: Queue<u64> = Queue::new(0);
    let limit = Semaphore::new(WORKERS);
    let busy = Rc::new(Cell::new(0usize));
    let peak = Rc::new(Cell::new(0usize));

    let total = TaskGroup::run(|tg| {
        let (inbox, results) = (inbox.clone(), results.clone());
        let (busy, peak) = (busy.clone(), peak.clone());
        async move {
            // The producer.
            let producer_inbox = inbox.clone();
            tg.create_task(async move {
                for job in 1..=jobs {
                    producer_inbox.put(job).await?;
                }
                producer_inbox.shutdown(false); // no more jobs
                Ok(())
            })?;
            // The dispatcher: one worker task per job, at most WORKERS at once.
            let workers = tg.clone();
            let worker_results = results.clone();
            tg.create_task(async move {
                let mut jobs_in = inbox.stream();
                while let Some(job) = jobs_in.next().await {
                    let job = job?;
                    let permit = limit.acquire().await?;
                    let (results, busy, peak) =
                        (worker_results.clone(), busy.clone(), peak.clone());
                    workers.create_task(async move {
                        let _permit = permit; // released when the worker ends
                        busy.set(busy.get() + 1);
                        peak.set(peak.get().max(busy.get()));
                        // "Work": a short wait, longer for some jobs.
                        asyncio::sleep(Duration::from_micros(100 * (job % 7))).await?;
                        busy.set(busy.get() - 1);
                        results.put(job * job).await?;
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
            // The consumer: sums the results.
            let mut sum = 0u64;
            for _ in 0..jobs {
                sum += results.get().await?;
            }
            Ok(sum)
        }
    })
    .await?;

    let secs = start.elapsed().as_secs_f64();
    assert_eq!(total, jobs * (jobs + 1) * (2 * jobs + 1) / 6);
    assert!(peak.get() <= WORKERS);
    assert_eq!(
        inbox.get_nowait().unwrap_err().kind(),
        &ErrorKind::QueueShutDown
    );
    println!(
        "{jobs} jobs through {WORKERS} workers (peak {} busy) in {secs:.3} s: {:.0} jobs/s; sum of squares {total}",
        peak.get(),
        jobs as f64 / secs
    );
    Ok(())
}
