//! A driver thread: random calls on random pools until told to stop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

use crate::check::Beat;
use crate::pools::{self, Kind};
use crate::registry;
use crate::rng::Rng;

pub static OPS: AtomicU64 = AtomicU64::new(0);

pub fn run(seed: u64, stop: &AtomicBool, beat: &Beat) {
    let mut rng = Rng::new(seed);
    while !stop.load(Relaxed) {
        let i = rng.below(registry::SLOTS as u64) as usize;
        let Some(ctx) = registry::get(i, &mut rng, beat) else {
            continue;
        };
        OPS.fetch_add(1, Relaxed);
        let mut retire = false;
        match rng.below(100) {
            // Single schedules of each kind, the pool's own blocking mode
            // most often.
            0..=59 => {
                if let Some(_lease) = ctx.lease_call() {
                    let kind = Kind::random(&mut rng, false);
                    retire = ctx.submit(kind, 0, Some(beat)).is_none();
                }
            }
            // A burst: fills the pool, so later calls block, time out or
            // are refused.
            60..=74 => {
                if let Some(_lease) = ctx.lease_call() {
                    let kind = Kind::random(&mut rng, false);
                    for _ in 0..rng.below(64) {
                        if ctx.submit(kind, 0, Some(beat)).is_none() {
                            retire = true;
                            break;
                        }
                    }
                }
            }
            75..=79 => ctx.wait(beat),
            80..=86 => {
                let capacity = match rng.below(10) {
                    0 => 0,
                    1 => -5,
                    2 => 20_000,
                    _ => 1 + rng.below(8) as i32,
                };
                ctx.set_capacity(capacity, beat);
            }
            87..=97 => {
                if let Some(_lease) = ctx.lease_call() {
                    ctx.check_stats(Some(beat));
                }
            }
            _ => retire = true,
        }
        if retire || ctx.exhausted() {
            if let Some(ctx) = registry::take(i, &ctx) {
                let race = rng.chance(60);
                pools::free_and_bury(ctx, race, beat);
            }
        }
    }
}
