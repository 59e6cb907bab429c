//! A driver thread: random calls on random pools until told to stop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

use crate::check::Beat;
use crate::control;
use crate::pools::{self, Kind, PoolCtx};
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
        match rng.below(120) {
            // Single schedules of each kind, the pool's own blocking mode
            // most often; some through a group.
            0..=59 => {
                if let Some(_lease) = ctx.lease_call() {
                    let kind = Kind::random(&mut rng, false);
                    let group = pick_group(&ctx, &mut rng);
                    retire = ctx.submit_in(group, kind, 0, Some(beat)).is_none();
                }
            }
            // A burst: fills the pool, so later calls block, time out or
            // are refused.
            60..=74 => {
                if let Some(_lease) = ctx.lease_call() {
                    let kind = Kind::random(&mut rng, false);
                    let group = pick_group(&ctx, &mut rng);
                    for _ in 0..rng.below(64) {
                        if ctx.submit_in(group, kind, 0, Some(beat)).is_none() {
                            retire = true;
                            break;
                        }
                    }
                }
            }
            75..=79 => ctx.wait(beat),
            80..=84 => {
                let capacity = match rng.below(10) {
                    0 => 0,
                    1 => -5,
                    2 => 20_000,
                    _ => 1 + rng.below(8) as i32,
                };
                ctx.set_capacity(capacity, beat);
            }
            85..=92 => {
                if let Some(_lease) = ctx.lease_call() {
                    ctx.check_stats(Some(beat));
                    control::check_group_stats(&ctx, &mut rng);
                }
            }
            93..=98 => {
                if let Some(_lease) = ctx.lease_call() {
                    retire = control::pause_window(&ctx, &mut rng, beat);
                }
            }
            99..=103 => {
                if let Some(_lease) = ctx.lease_call() {
                    control::cancel_now(&ctx, Some(beat));
                }
            }
            104..=109 => {
                if let Some(_lease) = ctx.lease_call() {
                    let nest = rng.chance(30);
                    control::run_loop(&ctx, &mut rng, 300, nest, Some(beat));
                    if rng.chance(10) {
                        control::odd_loops(&ctx);
                    }
                }
            }
            110..=117 => control::group_wait_outside(&ctx, &mut rng, beat),
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

/// A group of `ctx` for 40% of the schedules, if it has any.
fn pick_group(ctx: &PoolCtx, rng: &mut Rng) -> Option<usize> {
    (!ctx.groups.is_empty() && rng.chance(40)).then(|| rng.below(ctx.groups.len() as u64) as usize)
}
