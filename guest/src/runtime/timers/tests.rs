//! The timing wheel against its promises: exact deadlines, asyncio's order,
//! cancellation at once, cascading, far and past deadlines, and a
//! randomized comparison with a sorted map.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::*;

type Log = Rc<RefCell<Vec<u32>>>;

fn cb(log: &Log, n: u32) -> Action {
    let log = log.clone();
    Action::Callback(Box::new(move || log.borrow_mut().push(n)))
}

fn fire(t: &mut Timers, now: u64) {
    let mut out = Vec::new();
    t.fire_due(now, &mut out);
    for f in out {
        if let Fired::Callback(f) = f {
            f()
        }
    }
}

fn fired(log: &Log) -> Vec<u32> {
    std::mem::take(&mut *log.borrow_mut())
}

const MS: u64 = 1_000_000;
const DAY: u64 = 86_400 * 1_000_000_000;

#[test]
fn fires_in_deadline_then_scheduling_order() {
    let log = Log::default();
    let mut t = Timers::default();
    t.insert(30, cb(&log, 3));
    t.insert(10, cb(&log, 1));
    t.insert(30, cb(&log, 4));
    t.insert(20, cb(&log, 2));
    fire(&mut t, 25);
    assert_eq!(fired(&log), vec![1, 2]);
    assert_eq!(t.next_deadline(), Some(30));
    fire(&mut t, 30);
    assert_eq!(fired(&log), vec![3, 4]);
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn equal_deadlines_fire_in_scheduling_order_across_levels() {
    // The same deadline scheduled from different wheel positions lands on
    // different levels, and some entries are cascaded: the order holds.
    let log = Log::default();
    let mut t = Timers::default();
    let d = 5_000 * MS;
    t.insert(d, cb(&log, 0)); // far: a high level
    fire(&mut t, 4_000 * MS);
    t.insert(d, cb(&log, 1));
    fire(&mut t, 4_990 * MS);
    t.insert(d, cb(&log, 2));
    fire(&mut t, d - 1);
    t.insert(d, cb(&log, 3)); // level 0
    assert!(fired(&log).is_empty());
    assert_eq!(t.next_deadline(), Some(d));
    fire(&mut t, d);
    assert_eq!(fired(&log), vec![0, 1, 2, 3]);
}

#[test]
fn never_fires_early_and_fires_at_the_first_turn_at_its_deadline() {
    let log = Log::default();
    let mut t = Timers::default();
    let deadlines = [
        1,
        1023,
        1024,
        1025,
        65_535,
        65_536,
        4 * MS + 7,
        300 * MS + 1,
    ];
    for (i, d) in deadlines.iter().enumerate() {
        t.insert(*d, cb(&log, i as u32));
    }
    for (i, d) in deadlines.iter().enumerate() {
        fire(&mut t, d - 1);
        assert!(fired(&log).is_empty(), "{d} fired at {}", d - 1);
        fire(&mut t, *d);
        assert_eq!(fired(&log), vec![i as u32], "at {d}");
    }
}

#[test]
fn cancelled_timers_never_fire_and_leave_at_once() {
    let log = Log::default();
    let mut t = Timers::default();
    let keys: Vec<_> = (0..1000)
        .map(|i| t.insert(i * 1000, cb(&log, i as u32)))
        .collect();
    for k in keys.iter().step_by(2) {
        assert!(t.remove(*k).is_some());
        assert!(t.remove(*k).is_none(), "removed twice");
    }
    let queued: usize = t.slots.iter().map(Vec::len).sum();
    assert_eq!(queued, 500, "removed from the wheel at once");
    assert_eq!(t.next_deadline(), Some(1000));
    fire(&mut t, 1_000_000);
    let want: Vec<u32> = (1..1000).step_by(2).collect();
    assert_eq!(fired(&log), want);
}

#[test]
fn removing_a_timer_keeps_the_others_findable() {
    // Removal swaps the last item of the slot into the hole: the moved
    // one must still be cancellable.
    let log = Log::default();
    let mut t = Timers::default();
    let a = t.insert(500, cb(&log, 1));
    let b = t.insert(600, cb(&log, 2));
    let c = t.insert(700, cb(&log, 3));
    t.remove(a);
    t.remove(c); // was moved into a's place
    fire(&mut t, 1000);
    assert_eq!(fired(&log), vec![2]);
    assert!(t.remove(b).is_none(), "a fired callback is gone");
}

#[test]
fn next_deadline_after_cancellations() {
    let log = Log::default();
    let mut t = Timers::default();
    let a = t.insert(10 * MS, cb(&log, 1));
    let b = t.insert(20 * MS, cb(&log, 2));
    let c = t.insert(20 * MS, cb(&log, 3));
    let d = t.insert(5 * DAY, cb(&log, 4));
    assert_eq!(t.next_deadline(), Some(10 * MS));
    t.remove(a);
    assert_eq!(t.next_deadline(), Some(20 * MS));
    t.remove(b);
    assert_eq!(t.next_deadline(), Some(20 * MS), "c has the same deadline");
    t.remove(c);
    assert_eq!(t.next_deadline(), Some(5 * DAY));
    t.insert(MS, cb(&log, 5));
    assert_eq!(t.next_deadline(), Some(MS));
    fire(&mut t, MS);
    assert_eq!(t.next_deadline(), Some(5 * DAY));
    t.remove(d);
    assert_eq!(t.next_deadline(), None);
    fire(&mut t, 10 * DAY);
    assert_eq!(fired(&log), vec![5]);
}

#[test]
fn far_deadlines_cascade_down_and_fire_exactly() {
    let log = Log::default();
    let mut t = Timers::default();
    let far = [3 * DAY + 17, 400 * DAY + 1, u64::MAX - 5, u64::MAX];
    for (i, d) in far.iter().enumerate() {
        t.insert(*d, cb(&log, i as u32));
    }
    // A driver: wake at each next_deadline, never past a deadline.
    let mut now = 0;
    let mut wakes = 0;
    while let Some(next) = t.next_deadline() {
        assert!(
            next > now || now == 0,
            "the wheel asked to wake in the past"
        );
        now = next;
        fire(&mut t, now);
        wakes += 1;
        for n in fired(&log) {
            assert_eq!(now, far[n as usize], "fired at its deadline, not later");
        }
    }
    assert!(wakes <= far.len(), "few timers: each wake is a deadline");
    assert!(t.slots.iter().all(Vec::is_empty));
}

#[test]
fn past_deadlines_fire_at_once() {
    let log = Log::default();
    let mut t = Timers::default();
    fire(&mut t, 10 * DAY);
    t.insert(5, cb(&log, 1));
    t.insert(10 * DAY - MS, cb(&log, 2));
    t.insert(0, cb(&log, 3));
    assert_eq!(t.next_deadline(), Some(0));
    fire(&mut t, 10 * DAY);
    assert_eq!(fired(&log), vec![3, 1, 2], "in deadline order");
    // A `now` behind the wheel (a reused clock reading) fires nothing new
    // early and loses nothing.
    t.insert(10 * DAY + 5, cb(&log, 4));
    fire(&mut t, 10 * DAY - 1);
    assert!(fired(&log).is_empty());
    fire(&mut t, 10 * DAY + 5);
    assert_eq!(fired(&log), vec![4]);
}

#[test]
fn wake_timers_stay_until_removed() {
    let mut t = Timers::default();
    let k = t.insert(
        100,
        Action::Wake {
            waker: Some(Waker::noop().clone()),
            fired: false,
        },
    );
    let mut out = Vec::new();
    t.fire_due(100, &mut out);
    assert_eq!(out.len(), 1);
    assert!(matches!(
        t.get_mut(k),
        Some(Entry {
            action: Action::Wake { fired: true, .. },
            ..
        })
    ));
    assert_eq!(t.next_deadline(), None, "a fired timer is out of the wheel");
    assert!(t.remove(k).is_some());
    assert!(t.get_mut(k).is_none());
}

#[test]
fn crowded_slots_answer_with_a_bound_that_makes_progress() {
    let log = Log::default();
    let mut t = Timers::default();
    // 1000 timers 1 µs apart, 100 ms away, share one upper-level slot.
    for i in 0..1000u64 {
        t.insert(100 * MS + i * 1000 + 3, cb(&log, i as u32));
    }
    let mut now = 0;
    let mut seen = 0;
    let mut bounds = 0;
    while let Some(next) = t.next_deadline() {
        assert!(next > now, "progress");
        assert!(next <= 100 * MS + seen * 1000 + 3, "never after a deadline");
        bounds += usize::from(next < 100 * MS + seen * 1000 + 3);
        now = next;
        fire(&mut t, now);
        for n in fired(&log) {
            assert_eq!(u64::from(n), seen, "in order");
            assert_eq!(now, 100 * MS + seen * 1000 + 3, "at its deadline");
            seen += 1;
        }
    }
    assert_eq!(seen, 1000);
    assert!((1..10).contains(&bounds), "a few wake-ups at slot starts");
}

#[test]
fn clear_drops_everything() {
    let log = Log::default();
    let mut t = Timers::default();
    for i in 0..10 {
        t.insert(i * DAY, cb(&log, i as u32));
    }
    assert_eq!(t.clear().len(), 10);
    assert_eq!(t.next_deadline(), None);
    fire(&mut t, u64::MAX);
    assert!(fired(&log).is_empty());
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random inserts (near, far, past, equal), cancels and clock moves, against
/// a sorted map of (deadline, seq): the same timers fire at the same turn in
/// the same order, `next_deadline` is never after the earliest deadline,
/// and exact while the wheel is small.
fn against_model(seed: u64, steps: usize, max_live: usize) {
    let small = max_live <= SCAN_LIMIT;
    let log = Log::default();
    let mut t = Timers::default();
    let mut rng = Rng(seed);
    let mut model: BTreeMap<(u64, u64), u32> = BTreeMap::new();
    let mut live: Vec<(Key, (u64, u64))> = Vec::new();
    let mut now = rng.below(DAY);
    let mut seq = 0;
    for _ in 0..steps {
        match rng.below(10) {
            0..=4 if live.len() < max_live => {
                let when = match rng.below(8) {
                    0 => now.saturating_sub(rng.below(10 * MS)),  // past
                    1 => now.saturating_add(rng.below(30 * DAY)), // far
                    2 => u64::MAX - rng.below(1000),              // very far
                    3 => live.first().map_or(now, |l| l.1.0),     // equal
                    4 => now.saturating_add(rng.below(2048)),     // this tick or next
                    _ => now.saturating_add(rng.below(200 * MS)),
                };
                seq += 1;
                let key = t.insert(when, cb(&log, seq as u32));
                model.insert((when, seq), seq as u32);
                live.push((key, (when, seq)));
            }
            5 | 6 if !live.is_empty() => {
                let (key, at) = live.swap_remove(rng.below(live.len() as u64) as usize);
                assert!(t.remove(key).is_some());
                model.remove(&at);
            }
            _ => {
                now = match rng.below(6) {
                    0 => now,
                    1 => now.saturating_add(rng.below(1024)),
                    2 => now.saturating_add(rng.below(DAY)),
                    3 => t.next_deadline().unwrap_or(now).max(now),
                    _ => now.saturating_add(rng.below(10 * MS)),
                };
                fire(&mut t, now);
                let due: Vec<_> = model
                    .range(..=(now, u64::MAX))
                    .map(|(k, v)| (*k, *v))
                    .collect();
                let want: Vec<u32> = due.iter().map(|(_, v)| *v).collect();
                for (k, _) in &due {
                    model.remove(k);
                }
                live.retain(|(_, at)| model.contains_key(at));
                assert_eq!(fired(&log), want, "seed {seed}: fired at {now}");
            }
        }
        let next = t.next_deadline();
        let min = model.keys().next().map(|k| k.0);
        match (next, min) {
            (None, None) => {}
            (Some(n), Some(m)) => {
                assert!(n <= m, "seed {seed}: asked to wake at {n}, after {m}");
                if small {
                    assert_eq!(n, m, "seed {seed}: exact while small");
                }
            }
            other => panic!("seed {seed}: next_deadline {other:?}"),
        }
    }
    // Drain as the driver would: every timer fires, at its deadline.
    while let Some(next) = t.next_deadline() {
        now = next.max(now);
        fire(&mut t, now);
        let due: Vec<_> = model
            .range(..=(now, u64::MAX))
            .map(|(k, v)| (*k, *v))
            .collect();
        for (k, _) in &due {
            model.remove(k);
        }
        assert_eq!(fired(&log), due.iter().map(|(_, v)| *v).collect::<Vec<_>>());
    }
    assert!(model.is_empty(), "seed {seed}: timers lost");
}

#[test]
fn randomized_against_a_sorted_map_small() {
    for seed in 1..=20 {
        against_model(seed, 3_000, 100);
    }
}

#[test]
fn randomized_against_a_sorted_map_crowded() {
    for seed in 100..=103 {
        against_model(seed, 20_000, 5_000);
    }
}
