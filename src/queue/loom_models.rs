//! Models of the queue under loom, with 3 slots per block and a reserve of
//! one block, so values cross blocks and emptied blocks are reused while
//! other threads still run: loom reports any access to a slot's value that
//! is not ordered after the previous one (a block reused too early).
//!
//! Only one model has a consumer polling until values arrive, with a single
//! producer: more pollers make the models too large to check.

use loom::sync::Arc;

use super::Queue;
use crate::sync::loom_model;

/// Two producers race for a block's last slot while a consumer takes
/// what it finds; every value arrives once, each producer's in order.
#[test]
fn loom_producers_race_for_the_last_slot() {
    loom_model().check(|| {
        let queue = Arc::new(Queue::new());
        queue.push(0);
        queue.push(1);
        let producers: Vec<_> = [10, 20]
            .into_iter()
            .map(|value| {
                let queue = Arc::clone(&queue);
                loom::thread::spawn(move || queue.push(value))
            })
            .collect();
        let mut got: Vec<usize> = (0..3).filter_map(|_| queue.pop(None)).collect();
        for producer in producers {
            producer.join().unwrap();
        }
        got.extend(std::iter::from_fn(|| queue.pop(None)));
        assert_eq!(&got[..2], [0, 1]);
        got.sort_unstable();
        assert_eq!(got, [0, 1, 10, 20]);
    });
}

/// Two consumers empty the first block (one of them recycles it) while a
/// producer fills the second and takes a block from the reserve, perhaps
/// the one just recycled.
#[test]
fn loom_block_is_recycled_while_a_producer_reuses_it() {
    loom_model().check(|| {
        let queue = Arc::new(Queue::new());
        for value in 0..3 {
            queue.push(value);
        }
        let consumers: Vec<_> = [2, 1]
            .into_iter()
            .map(|pops| {
                let queue = Arc::clone(&queue);
                loom::thread::spawn(move || {
                    (0..pops)
                        .map(|_| queue.pop(None).expect("the first block is full"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for value in 3..7 {
            queue.push(value);
        }
        let mut first: Vec<usize> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        first.sort_unstable();
        assert_eq!(first, [0, 1, 2]);
        let rest: Vec<usize> = std::iter::from_fn(|| queue.pop(None)).collect();
        assert_eq!(rest, [3, 4, 5, 6]);
    });
}

/// A consumer takes values while the producer writes them and moves the
/// tail to the next block: each value is published before it is read.
#[test]
fn loom_consumer_reads_values_as_they_are_published() {
    loom_model().check(|| {
        let queue = Arc::new(Queue::new());
        queue.push(0);
        queue.push(1);
        let producer = {
            let queue = Arc::clone(&queue);
            loom::thread::spawn(move || {
                queue.push(2);
                queue.push(3);
            })
        };
        let mut got = Vec::new();
        while got.len() < 4 {
            match queue.pop(None) {
                Some(value) => got.push(value),
                None => loom::thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(got, [0, 1, 2, 3]);
    });
}
