use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Queue;
use super::block::SLOTS;

#[test]
fn fifo_across_blocks() {
    let queue = Queue::new();
    let n = SLOTS * 5 + 7;
    for i in 0..n {
        queue.push(i);
        assert_eq!(queue.len(), i + 1);
    }
    for i in 0..n {
        assert_eq!(queue.pop(None), Some(i));
    }
    assert_eq!(queue.pop(None), None);
    assert_eq!(queue.len(), 0);
}

#[test]
fn emptied_blocks_are_reused() {
    let queue = Queue::new();
    let mut blocks = HashSet::new();
    // One value at a time through 100 blocks: the tail only ever needs the
    // block it is in and the one it moves to.
    for i in 0..SLOTS * 100 {
        queue.push(i);
        assert_eq!(queue.pop(None), Some(i));
        blocks.insert(queue.tail.block.load(Ordering::Relaxed) as usize);
    }
    assert!(blocks.len() <= 2, "{} distinct blocks", blocks.len());
}

#[test]
fn drop_drops_the_values_left() {
    let alive = Arc::new(());
    let queue = Queue::new();
    for _ in 0..SLOTS * 2 + 1 {
        queue.push(Arc::clone(&alive));
    }
    for _ in 0..SLOTS + 2 {
        drop(queue.pop(None));
    }
    drop(queue);
    assert_eq!(Arc::strong_count(&alive), 1);
}

/// Producers and consumers at once: every value arrives exactly once, and
/// each producer's values in the order pushed.
#[test]
fn concurrent_values_arrive_once_in_producer_order() {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 3;
    const PER_PRODUCER: usize = 50_000;
    let queue = Queue::new();
    let taken = AtomicUsize::new(0);
    let received: Vec<Vec<(usize, usize)>> = std::thread::scope(|s| {
        for producer in 0..PRODUCERS {
            let queue = &queue;
            s.spawn(move || {
                for i in 0..PER_PRODUCER {
                    queue.push((producer, i));
                }
            });
        }
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                s.spawn(|| {
                    let mut got = Vec::new();
                    while taken.load(Ordering::Relaxed) < PRODUCERS * PER_PRODUCER {
                        if let Some(value) = queue.pop(None) {
                            taken.fetch_add(1, Ordering::Relaxed);
                            got.push(value);
                        } else {
                            std::thread::yield_now();
                        }
                    }
                    got
                })
            })
            .collect();
        consumers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut seen = vec![vec![false; PER_PRODUCER]; PRODUCERS];
    for got in &received {
        let mut last = [None; PRODUCERS];
        for &(producer, i) in got {
            assert!(!seen[producer][i], "value {producer}/{i} twice");
            seen[producer][i] = true;
            assert!(last[producer] < Some(i), "producer {producer} out of order");
            last[producer] = Some(i);
        }
    }
    assert!(seen.iter().flatten().all(|&s| s), "a value was lost");
    assert_eq!(queue.pop(None), None);
}
