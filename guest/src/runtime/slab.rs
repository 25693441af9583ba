//! A generational slab: values addressed by a small copyable [`Key`].
//!
//! The loop keeps tasks, callbacks and timers here so that the ready queue
//! and the timer heap hold plain `Copy` keys. A key whose slot was freed and
//! reused is stale (its generation differs) and finds nothing, so a late
//! wake-up or a cancelled timer can never reach the wrong entry.

/// The address of a slab entry: index plus generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    pub(crate) fn parts(self) -> (u32, u32) {
        (self.index, self.generation)
    }

    pub(crate) fn from_parts(index: u32, generation: u32) -> Key {
        Key { index, generation }
    }
}

enum Slot<T> {
    Occupied { generation: u32, value: T },
    Vacant { generation: u32, next_free: u32 },
}

const NONE: u32 = u32::MAX;

pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: u32,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: NONE,
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if self.free != NONE {
            let index = self.free;
            let slot = &mut self.slots[index as usize];
            let Slot::Vacant {
                generation,
                next_free,
            } = *slot
            else {
                unreachable!("slab free list points at an occupied slot")
            };
            self.free = next_free;
            let generation = generation.wrapping_add(1);
            *slot = Slot::Occupied { generation, value };
            Key { index, generation }
        } else {
            let index =
                u32::try_from(self.slots.len()).expect("slab holds at most u32::MAX entries");
            self.slots.push(Slot::Occupied {
                generation: 0,
                value,
            });
            Key {
                index,
                generation: 0,
            }
        }
    }

    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.index as usize)? {
            Slot::Occupied { generation, value } if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize)? {
            Slot::Occupied { generation, value } if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        match slot {
            Slot::Occupied { generation, .. } if *generation == key.generation => {
                let vacant = Slot::Vacant {
                    generation: key.generation,
                    next_free: self.free,
                };
                let Slot::Occupied { value, .. } = std::mem::replace(slot, vacant) else {
                    unreachable!()
                };
                self.free = key.index;
                self.len -= 1;
                Some(value)
            }
            _ => None,
        }
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|slot| match slot {
            Slot::Occupied { value, .. } => Some(value),
            Slot::Vacant { .. } => None,
        })
    }

    /// Removes every entry, returning them (used when the loop closes).
    pub(crate) fn drain(&mut self) -> Vec<T> {
        let slots = std::mem::take(&mut self.slots);
        self.free = NONE;
        self.len = 0;
        slots
            .into_iter()
            .filter_map(|slot| match slot {
                Slot::Occupied { value, .. } => Some(value),
                Slot::Vacant { .. } => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_find_nothing() {
        let mut slab = Slab::default();
        let a = slab.insert("a");
        assert_eq!(slab.remove(a), Some("a"));
        let b = slab.insert("b");
        assert_eq!(slab.get(a), None, "reused slot, old generation");
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn free_list_reuses_slots() {
        let mut slab = Slab::default();
        let keys: Vec<_> = (0..10).map(|i| slab.insert(i)).collect();
        for k in &keys[2..5] {
            slab.remove(*k);
        }
        for i in 0..3 {
            slab.insert(100 + i);
        }
        assert_eq!(slab.slots.len(), 10);
        assert_eq!(slab.len(), 10);
        let mut v: Vec<_> = slab.values().copied().collect();
        v.sort();
        assert_eq!(v, vec![0, 1, 5, 6, 7, 8, 9, 100, 101, 102]);
    }
}
