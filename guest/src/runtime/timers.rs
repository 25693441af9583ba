//! The loop's timers: every `sleep`, `call_later` and timeout deadline, in a
//! hierarchical timing wheel (as tokio's).
//!
//! Deadlines live here, in the guest; the host only ever sees one clock
//! wait, for the earliest deadline (see `run.rs`), so a hundred thousand
//! sleeping tasks cost the host nothing.
//!
//! The wheel has [`LEVELS`] levels of 64 slots. A slot of level 0 is one
//! tick ([`TICK_SHIFT`]: 1.024 µs), a slot of level `n` is 64ⁿ ticks, so
//! nine levels cover the whole `u64` nanosecond range (nothing is ever too
//! far). The wheel is aligned on absolute time: a timer goes to the level of
//! the highest 6-bit digit in which its tick differs from the wheel's
//! current tick (`elapsed`), and to the slot that digit names. When time
//! reaches a slot of a higher level, its timers are moved down (cascaded),
//! so each timer moves at most once per level between insertion and firing.
//! Insertion and cancellation are O(1): a slot is a `Vec`, each entry knows
//! its position, cancellation swaps the last item into its place.
//!
//! Deadlines stay exact: ticks only choose slots. A level-0 slot holds
//! deadlines within one tick, and firing compares each with `now`, so a
//! timer never fires before its deadline and fires at the first
//! [`Timers::fire_due`] at or after it. What fires in one call is sorted by
//! (deadline, sequence number): timers due at the same instant fire in the
//! order they were scheduled, as in asyncio.
//!
//! [`Timers::next_deadline`] is what the driver waits for: the exact
//! earliest deadline when the first occupied slot is on level 0 or holds at
//! most [`SCAN_LIMIT`] timers, else that slot's start (a lower bound: the
//! loop wakes there, cascades the slot and asks again). Cached until the
//! wheel changes in a way that may move it.

use std::task::Waker;

use super::slab::{Key, Slab};

/// What a timer does when it fires.
pub(crate) enum Action {
    /// Wake the sleeping future (it sees `fired` on its next poll).
    Wake { waker: Option<Waker>, fired: bool },
    /// Schedule a `call_later`/`call_at` callback on the ready queue.
    Callback(Box<dyn FnOnce()>),
}

pub(crate) struct Entry {
    pub(crate) action: Action,
    /// Where its item is: a slot index (level * 64 + slot), or [`NOWHERE`]
    /// once it fired.
    slot: u32,
    /// Its index in that slot's `Vec`.
    pos: u32,
}

/// What `fire_due` hands back, to be acted on once the timers are no longer
/// borrowed (waking or scheduling may re-enter the loop).
pub(crate) enum Fired {
    Wake(Waker),
    Callback(Box<dyn FnOnce()>),
}

/// Bits of a level's digit (64 slots).
const LEVEL_BITS: u32 = 6;
const SLOTS: usize = 1 << LEVEL_BITS;
/// A tick is 2^10 ns (1.024 µs): the width of a level-0 slot.
const TICK_SHIFT: u32 = 10;
/// 10 + 9 * 6 = 64 bits: every `u64` deadline has a place.
const LEVELS: usize = 9;
/// A first slot of a level above 0 holding at most this many timers is
/// scanned for the exact earliest deadline; a fuller one answers with its
/// start (scanning it after every change could cost O(n) per loop turn).
const SCAN_LIMIT: usize = 128;
const NOWHERE: u32 = u32::MAX;

/// One timer in a slot: its deadline and sequence number inline, so that
/// firing, scanning and cascading do not touch the entry slab.
#[derive(Clone, Copy)]
struct Item {
    deadline: u64,
    seq: u64,
    key: Key,
}

pub(crate) struct Timers {
    entries: Slab<Entry>,
    /// `LEVELS * SLOTS` slots.
    slots: Vec<Vec<Item>>,
    /// One bit per occupied slot, per level.
    occupied: [u64; LEVELS],
    /// The wheel's current tick: every timer's tick is at or after it.
    elapsed: u64,
    seq: u64,
    /// `Some(answer)` while [`next_deadline`](Self::next_deadline)'s last
    /// answer still holds (`Some(None)`: no timer).
    next: Option<Option<u64>>,
    /// The due items of one `fire_due` (kept for its capacity).
    due: Vec<Item>,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            entries: Slab::default(),
            slots: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            elapsed: 0,
            seq: 0,
            next: Some(None),
            due: Vec::new(),
        }
    }
}

/// The slot (level * 64 + digit) of tick `t` on a wheel at tick `elapsed`
/// (`t >= elapsed`).
fn slot_for(elapsed: u64, t: u64) -> usize {
    let diff = elapsed ^ t;
    let level = if diff == 0 {
        0
    } else {
        ((63 - diff.leading_zeros()) / LEVEL_BITS) as usize
    };
    let digit = (t >> (level as u32 * LEVEL_BITS)) as usize & (SLOTS - 1);
    level * SLOTS + digit
}

impl Timers {
    pub(crate) fn insert(&mut self, when: u64, action: Action) -> Key {
        self.seq += 1;
        // A deadline already past goes to the current tick: it fires at the
        // next `fire_due`.
        let slot = slot_for(self.elapsed, (when >> TICK_SHIFT).max(self.elapsed));
        let pos = self.slots[slot].len() as u32;
        let key = self.entries.insert(Entry {
            action,
            slot: slot as u32,
            pos,
        });
        self.slots[slot].push(Item {
            deadline: when,
            seq: self.seq,
            key,
        });
        self.occupied[slot / SLOTS] |= 1 << (slot % SLOTS);
        self.next = match self.next {
            Some(Some(d)) => Some(Some(d.min(when))),
            Some(None) => Some(Some(when)),
            None => None,
        };
        key
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut Entry> {
        self.entries.get_mut(key)
    }

    /// Cancels a timer (or forgets one that fired): it is gone at once.
    pub(crate) fn remove(&mut self, key: Key) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        if entry.slot != NOWHERE {
            let (slot, pos) = (entry.slot as usize, entry.pos as usize);
            let items = &mut self.slots[slot];
            let item = items.swap_remove(pos);
            debug_assert!(item.key == key);
            if let Some(moved) = items.get(pos)
                && let Some(e) = self.entries.get_mut(moved.key)
            {
                e.pos = pos as u32;
            }
            let emptied = items.is_empty();
            if emptied {
                self.occupied[slot / SLOTS] &= !(1 << (slot % SLOTS));
            }
            if emptied || self.next == Some(Some(item.deadline)) {
                self.next = None;
            }
        }
        Some(entry)
    }

    /// The earliest occupied slot: (level, digit, its first tick). Slots
    /// before the wheel's digit are always empty, and every slot of a level
    /// comes before the occupied slots of the levels above.
    fn first_slot(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let bits = self.occupied[level];
            if bits == 0 {
                continue;
            }
            let shift = level as u32 * LEVEL_BITS;
            let digit = (self.elapsed >> shift) & (SLOTS as u64 - 1);
            debug_assert_eq!(bits & !(u64::MAX << digit), 0, "a slot behind the wheel");
            let digit_found = u64::from(bits.trailing_zeros());
            let cycle = self.elapsed & !((1u64 << (shift + LEVEL_BITS)) - 1);
            return Some((level, digit_found as usize, cycle | (digit_found << shift)));
        }
        None
    }

    /// When the driver should wake next: the earliest deadline, or (for a
    /// crowded slot above level 0) the earlier start of its slot. Never
    /// later than the earliest deadline; after `fire_due(now)`, later than
    /// `now`.
    pub(crate) fn next_deadline(&mut self) -> Option<u64> {
        if let Some(next) = self.next {
            return next;
        }
        let next = self.first_slot().map(|(level, digit, start)| {
            let items = &self.slots[level * SLOTS + digit];
            if level > 0 && items.len() > SCAN_LIMIT {
                start << TICK_SHIFT
            } else {
                items.iter().map(|i| i.deadline).min().unwrap_or(u64::MAX)
            }
        });
        self.next = Some(next);
        next
    }

    /// Fires every timer due at `now`, in deadline order (ties in
    /// scheduling order), into `out`.
    pub(crate) fn fire_due(&mut self, now: u64, out: &mut Vec<Fired>) {
        match self.next {
            Some(None) => return,
            Some(Some(d)) if d > now => return, // nothing is due
            _ => {}
        }
        let target = (now >> TICK_SHIFT).max(self.elapsed);
        let mut due = std::mem::take(&mut self.due);
        while let Some((level, digit, start)) = self.first_slot() {
            if start > target {
                break;
            }
            let slot = level * SLOTS + digit;
            self.elapsed = start;
            if level == 0 && start < target {
                // A whole tick before `now`'s: all due.
                due.append(&mut self.slots[slot]);
                self.occupied[0] &= !(1 << digit);
            } else if level == 0 {
                // `now`'s own tick: only deadlines at or before `now`.
                let items = &mut self.slots[slot];
                let mut i = 0;
                while i < items.len() {
                    if items[i].deadline <= now {
                        due.push(items.swap_remove(i));
                        if let Some(moved) = items.get(i)
                            && let Some(e) = self.entries.get_mut(moved.key)
                        {
                            e.pos = i as u32;
                        }
                    } else {
                        i += 1;
                    }
                }
                if items.is_empty() {
                    self.occupied[0] &= !(1 << digit);
                }
                break; // nothing else starts at or before `now`'s tick
            } else {
                // Time reached a slot of an upper level: move its timers
                // down (each to a lower level, relative to its start).
                let mut items = std::mem::take(&mut self.slots[slot]);
                self.occupied[level] &= !(1 << digit);
                for item in items.drain(..) {
                    self.place(item);
                }
                self.slots[slot] = items; // (empty: keep its capacity)
            }
            self.next = None;
        }
        self.elapsed = target;
        if matches!(self.next, Some(Some(d)) if d <= now) {
            self.next = None;
        }
        due.sort_unstable_by_key(|i| (i.deadline, i.seq));
        for item in due.drain(..) {
            let Some(entry) = self.entries.get_mut(item.key) else {
                debug_assert!(false, "a timer in the wheel without its entry");
                continue;
            };
            entry.slot = NOWHERE;
            match &mut entry.action {
                Action::Wake { waker, fired } => {
                    *fired = true;
                    if let Some(w) = waker.take() {
                        out.push(Fired::Wake(w));
                    }
                }
                Action::Callback(_) => {
                    if let Some(Entry {
                        action: Action::Callback(f),
                        ..
                    }) = self.entries.remove(item.key)
                    {
                        out.push(Fired::Callback(f));
                    }
                }
            }
        }
        self.due = due;
    }

    /// Puts a cascading item in its slot relative to the current tick.
    fn place(&mut self, item: Item) {
        let slot = slot_for(
            self.elapsed,
            (item.deadline >> TICK_SHIFT).max(self.elapsed),
        );
        let items = &mut self.slots[slot];
        if let Some(e) = self.entries.get_mut(item.key) {
            e.slot = slot as u32;
            e.pos = items.len() as u32;
        }
        items.push(item);
        self.occupied[slot / SLOTS] |= 1 << (slot % SLOTS);
    }

    /// Drops every timer (the loop is closing).
    pub(crate) fn clear(&mut self) -> Vec<Entry> {
        for slot in &mut self.slots {
            slot.clear();
        }
        self.occupied = [0; LEVELS];
        self.next = Some(None);
        self.entries.drain()
    }
}

#[cfg(test)]
mod tests;
