//! `spawn` + `join` per task (the Rust API's `Handle`), and `scope` with
//! borrowing tasks, against `std::thread::scope` and rayon's `scope`, same
//! machine, same run, alternating contenders:
//!
//!     cargo bench --bench spawn_join [-- RUNS]
//!
//! Each run: 1,000 tasks each returning its index (summed by the caller);
//! medians and range over the runs, in microseconds per task.

use std::time::Instant;

const TASKS: usize = 1_000;

fn per_task(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e6 / TASKS as f64
}

fn workerpool_spawn_join(pool: &workerpool::Pool) -> f64 {
    let start = Instant::now();
    let handles: Vec<_> = (0..TASKS).map(|i| pool.spawn(move || i).unwrap()).collect();
    let sum: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, TASKS * (TASKS - 1) / 2);
    per_task(start)
}

fn workerpool_scope(pool: &workerpool::Pool) -> f64 {
    let mut slots = vec![0usize; TASKS];
    let start = Instant::now();
    pool.scope(|s| {
        for (i, slot) in slots.iter_mut().enumerate() {
            s.spawn(move || *slot = i).unwrap();
        }
    });
    let t = per_task(start);
    assert_eq!(slots.iter().sum::<usize>(), TASKS * (TASKS - 1) / 2);
    t
}

fn std_thread_scope() -> f64 {
    let start = Instant::now();
    let sum: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..TASKS).map(|i| s.spawn(move || i)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(sum, TASKS * (TASKS - 1) / 2);
    per_task(start)
}

fn rayon_scope(pool: &rayon::ThreadPool) -> f64 {
    let mut slots = vec![0usize; TASKS];
    let start = Instant::now();
    pool.scope(|s| {
        for (i, slot) in slots.iter_mut().enumerate() {
            s.spawn(move |_| *slot = i);
        }
    });
    let t = per_task(start);
    assert_eq!(slots.iter().sum::<usize>(), TASKS * (TASKS - 1) / 2);
    t
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(9);
    let workers = 2;
    let pool = workerpool::Builder::new()
        .capacity(workers)
        .prealloc(true)
        .queue_size(workerpool::UNBOUNDED)
        .build()
        .unwrap();
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .unwrap();
    let names = [
        "workerpool spawn+join",
        "workerpool scope",
        "rayon scope",
        "std::thread::scope spawn+join",
    ];
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..runs {
        results[0].push(workerpool_spawn_join(&pool));
        results[1].push(workerpool_scope(&pool));
        results[2].push(rayon_scope(&rayon));
        results[3].push(std_thread_scope());
    }
    println!("| contender | us per task: median | range | runs |");
    println!("|---|---|---|---|");
    for (name, mut r) in names.iter().zip(results) {
        r.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.3} | {:.3}–{:.3} | {} |",
            r[r.len() / 2],
            r[0],
            r[r.len() - 1],
            r.len()
        );
    }
}
