//! # Linearizability: a Wing–Gong search over per-key register histories
//!
//! Checks a recorded history of client operations on keys (quorum reads,
//! writes, compare-and-swap) against the model of one register per key
//! whose value starts absent. The history of each key is checked on its own
//! (linearizability is compositional, so the keys are independent), with
//! the algorithm of Porcupine (Wing & Gong's depth-first search with Lowe's
//! memoization): walk the calls and returns in time order; linearize any
//! call that is still open before the first pending return if the model
//! accepts its outcome in the current state; on reaching a return whose call
//! could not be placed, backtrack. A `(set of linearized ops, value)` pair
//! already explored is never explored again. Operations of unknown outcome
//! are placed only where needed (see [`Search`] for the pruning that keeps
//! their "maybe" from making the search exponential).
//!
//! An operation with an unknown outcome (a timeout, etcd's errorCode 300, a
//! connection lost after the request was sent) has no return time: it may
//! take effect at any point after its invocation, or never (taking effect
//! after everything else is the same, for every observation, as never). Its
//! answer is not checked. Reads of unknown outcome have no effect and are
//! dropped. Operations known to have done nothing (a refused connection)
//! must not be passed in at all.
//!
//! A failed compare-and-swap is an observation: errorCode 100 (key not
//! found) says the key was absent when it was applied, errorCode 101
//! (compare failed) that it held another value; a v3 txn refused with a
//! range in its failure branch ([`Ret::CasFailedSaw`]) says which value.
//!
//! The same model serves etcd's v3 API (`crate::faults_v3`): a Range is a
//! read, a Put a write, a Txn comparing the value (or the mod_revision of a
//! value, as every value is written once) then putting is a
//! compare-and-swap, and a DeleteRange of the key, a lease's revoke or its
//! expiry is a [`Call::Delete`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// What the client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// A linearizable read (`GET ?quorum=true`).
    Read,
    /// `PUT value=v`.
    Write(String),
    /// `PUT ?prevValue=expect value=new`.
    Cas { expect: String, new: String },
    /// The key removed (v3: DeleteRange; a lease revoked or expired).
    Delete,
}

/// Why a compare-and-swap was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CasFailure {
    /// errorCode 100: the key did not exist.
    NotFound,
    /// errorCode 101: the key held another value.
    Mismatch,
}

/// What the client learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ret {
    /// A read's answer: the value, or `None` for 404.
    Value(Option<String>),
    /// A write or compare-and-swap was acknowledged.
    Ok,
    /// A compare-and-swap was refused (it changed nothing).
    CasFailed(CasFailure),
    /// A compare-and-swap was refused, and read the key's value where it
    /// applied (`None`: absent): a v3 txn whose failure branch is a range.
    CasFailedSaw(Option<String>),
    /// The outcome is unknown: it may have taken effect or not.
    Unknown,
}

/// One operation of a history. Times are in one clock (e.g. nanoseconds
/// since the start of the test); `complete` is ignored for [`Ret::Unknown`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub client: usize,
    pub key: String,
    pub call: Call,
    pub ret: Ret,
    pub invoke: u64,
    pub complete: u64,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let call = match &self.call {
            Call::Read => "read".to_string(),
            Call::Write(v) => format!("write {v:?}"),
            Call::Cas { expect, new } => format!("cas {expect:?} -> {new:?}"),
            Call::Delete => "delete".to_string(),
        };
        let ret = match &self.ret {
            Ret::Value(v) => format!("{v:?}"),
            Ret::Ok => "ok".into(),
            Ret::CasFailed(why) => format!("{why:?}"),
            Ret::CasFailedSaw(v) => format!("refused, saw {v:?}"),
            Ret::Unknown => "unknown".into(),
        };
        let end = match self.ret {
            Ret::Unknown => "?".to_string(),
            _ => format!("{:.3}", self.complete as f64 / 1e9),
        };
        write!(
            f,
            "[{:.3}s..{end}s] client {} {} {call} => {ret}",
            self.invoke as f64 / 1e9,
            self.client,
            self.key
        )
    }
}

/// A key whose history has no linearization.
#[derive(Clone, Debug)]
pub struct Violation {
    pub key: String,
    /// How many of the key's operations of known outcome the longest
    /// linearizable prefix the search found placed, and how many there are.
    pub placed: usize,
    pub total: usize,
    /// The operation whose answer no order could explain at that point, the
    /// register's value there, and the operations overlapping it in time.
    pub stuck_at: Op,
    pub value_there: Option<String>,
    pub around: Vec<Op>,
    /// The search gave up (step budget) instead of proving a violation.
    pub gave_up: bool,
    /// Proved by real time alone, without the search: the one write of the
    /// value read, and an acknowledged change that came between it and the
    /// read.
    pub overwritten: Option<(Op, Op)>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((write, over)) = &self.overwritten {
            writeln!(
                f,
                "key {}: not linearizable: a read returned the value of\n  {write}\nthough this change began after that write ended and ended before the read began:\n  {over}",
                self.key
            )?;
        } else if self.gave_up {
            writeln!(
                f,
                "key {}: the search gave up after its step budget ({} of {} ops of known outcome placed)",
                self.key, self.placed, self.total
            )?;
        } else {
            writeln!(
                f,
                "key {}: not linearizable; at best {} of {} ops of known outcome placed, then no order explains",
                self.key, self.placed, self.total
            )?;
        }
        writeln!(f, "  {}", self.stuck_at)?;
        writeln!(
            f,
            "  with the value {:?} there; ops around it:",
            self.value_there
        )?;
        for op in &self.around {
            writeln!(f, "    {op}")?;
        }
        Ok(())
    }
}

/// Steps the search may take per key before giving up (a violation with
/// `gave_up`); far above what a real history of a few thousand ops needs.
pub const STEP_BUDGET: u64 = 50_000_000;

/// Checks every key of `history`; the first key that is not linearizable.
pub fn check(history: &[Op]) -> Result<(), Box<Violation>> {
    let mut by_key: BTreeMap<&str, Vec<Op>> = BTreeMap::new();
    for op in history {
        by_key.entry(&op.key).or_default().push(op.clone());
    }
    for ops in by_key.into_values() {
        check_key(&ops)?;
    }
    Ok(())
}

/// Checks the history of one key (every op must be on the same key).
pub fn check_key(ops: &[Op]) -> Result<(), Box<Violation>> {
    let ops = prepared(ops);
    if ops.is_empty() {
        return Ok(());
    }
    if let Some(v) = stale_by_real_time(&ops) {
        return Err(v);
    }
    Search::new(&ops).run()
}

/// The ops of one key as the checks take them: reads of unknown outcome
/// dropped; panics on ops of several keys or answers that do not fit.
fn prepared(ops: &[Op]) -> Vec<Op> {
    // Reads of unknown outcome changed nothing and told nothing.
    let ops: Vec<Op> = ops
        .iter()
        .filter(|op| !(op.call == Call::Read && op.ret == Ret::Unknown))
        .cloned()
        .collect();
    for op in &ops {
        assert_eq!(op.key, ops[0].key, "check_key: ops of several keys");
        let fits = matches!(
            (&op.call, &op.ret),
            (Call::Read, Ret::Value(_))
                | (Call::Write(_) | Call::Delete, Ret::Ok | Ret::Unknown)
                | (
                    Call::Cas { .. },
                    Ret::Ok | Ret::CasFailed(_) | Ret::CasFailedSaw(_) | Ret::Unknown
                )
        );
        assert!(fits, "check_key: {op} is not an answer to its call");
        assert!(
            op.ret == Ret::Unknown || op.invoke <= op.complete,
            "check_key: {op} completes before it starts"
        );
    }
    ops
}

/// A read that real time alone rules out, found without the search: it
/// returned a value that exactly one op wrote, acknowledged, and another
/// acknowledged op that changed the value started after that write ended
/// and ended before the read started. Every linearization orders the write,
/// the overwrite and the read so, and nothing writes the value again. This
/// proves in O(n log n) what the search proves only by exhausting every
/// order of the ops before the read (which, with operations of unknown
/// outcome open to the end, can outrun its step budget).
fn stale_by_real_time(ops: &[Op]) -> Option<Box<Violation>> {
    let written = |op: &Op| match &op.call {
        Call::Write(v) | Call::Cas { new: v, .. } => Some(v.clone()),
        Call::Read | Call::Delete => None,
    };
    // The ops that may have written each value (acknowledged or unknown).
    let mut writers: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if matches!(op.ret, Ret::Ok | Ret::Unknown) {
            if let Some(v) = written(op) {
                writers.entry(v).or_default().push(i);
            }
        }
    }
    // Acknowledged changes by invocation, with the earliest completion from
    // each one on: the first overwrite to end among those started after t.
    let mut changes: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].ret == Ret::Ok && ops[i].call != Call::Read)
        .collect();
    changes.sort_by_key(|&i| ops[i].invoke);
    let mut first_end: Vec<usize> = changes.clone();
    for k in (0..first_end.len().saturating_sub(1)).rev() {
        if ops[first_end[k + 1]].complete < ops[first_end[k]].complete {
            first_end[k] = first_end[k + 1];
        }
    }
    for (r, read) in ops.iter().enumerate() {
        let Ret::Value(Some(v)) = &read.ret else {
            continue;
        };
        let Some([w]) = writers.get(v).map(Vec::as_slice) else {
            continue;
        };
        let write = &ops[*w];
        if write.ret != Ret::Ok {
            continue;
        }
        let from = changes.partition_point(|&i| ops[i].invoke <= write.complete);
        let Some(&over) = first_end.get(from) else {
            continue;
        };
        if ops[over].complete < read.invoke {
            let search = Search::new(ops);
            let there = match search.steps[over] {
                Step::Write(v) | Step::CasOk(_, v) => v,
                _ => 0,
            };
            let known = ops.iter().filter(|o| o.ret != Ret::Unknown).count();
            let mut v = search.violation((0, r, there), known, false);
            v.overwritten = Some((write.clone(), ops[over].clone()));
            return Some(v);
        }
    }
    None
}

/// The values `key` may hold once every op of `history` has ended: the
/// value of each write, successful compare-and-swap or delete (`None`)
/// (acknowledged or of unknown outcome) that no acknowledged one followed
/// in real time, and `None` (absent) if nothing was acknowledged. A final
/// quorum read outside this set lost an acknowledged write.
pub fn possible_final_values(history: &[Op], key: &str) -> Vec<Option<String>> {
    let writes: Vec<(&Op, Option<&String>)> = history
        .iter()
        .filter(|op| op.key == key && matches!(op.ret, Ret::Ok | Ret::Unknown))
        .filter_map(|op| match &op.call {
            Call::Write(v) | Call::Cas { new: v, .. } => Some((op, Some(v))),
            Call::Delete => Some((op, None)),
            Call::Read => None,
        })
        .collect();
    let acked: Vec<&Op> = writes
        .iter()
        .filter(|(op, _)| op.ret == Ret::Ok)
        .map(|(op, _)| *op)
        .collect();
    let mut values: Vec<Option<String>> = Vec::new();
    if acked.is_empty() {
        values.push(None);
    }
    for (op, v) in &writes {
        let superseded = op.ret == Ret::Ok && acked.iter().any(|later| later.invoke > op.complete);
        let v = v.cloned();
        if !superseded && !values.contains(&v) {
            values.push(v);
        }
    }
    values
}

/// A value of the register, interned: 0 is "absent".
type Value = u32;

/// One op with its values interned.
#[derive(Clone, Copy)]
enum Step {
    Read(Value),
    Write(Value),
    CasOk(Value, Value),
    CasNotFound,
    CasMismatch(Value),
    CasUnknown(Value, Value),
    /// Refused: the key held the second value, not the first.
    CasSaw(Value, Value),
    Delete,
}

impl Step {
    /// The model: the register's value after this op applied to `state`, or
    /// `None` if the op's recorded answer is impossible in `state`.
    fn apply(self, state: Value) -> Option<Value> {
        match self {
            Step::Read(v) => (state == v).then_some(state),
            Step::Write(v) => Some(v),
            Step::CasOk(expect, new) => (state == expect).then_some(new),
            // Absent: errorCode 100; another value: 101.
            Step::CasNotFound => (state == 0).then_some(state),
            Step::CasMismatch(expect) => (state != 0 && state != expect).then_some(state),
            Step::CasUnknown(expect, new) => Some(if state == expect { new } else { state }),
            Step::CasSaw(expect, seen) => (state == seen && seen != expect).then_some(state),
            Step::Delete => Some(0),
        }
    }
}

/// A set of ops, one bit each.
type Bits = Vec<u64>;

fn set_bit(bits: &mut Bits, i: usize, on: bool) {
    if on {
        bits[i / 64] |= 1 << (i % 64);
    } else {
        bits[i / 64] &= !(1 << (i % 64));
    }
}

/// `a` is a subset of `b`.
fn subset(a: &Bits, b: &Bits) -> bool {
    a.iter().zip(b).all(|(x, y)| x & !y == 0)
}

/// One choice of the search: op `op` linearized in the register state
/// `before`, while trying ops of the kind `phase`.
struct Frame {
    op: usize,
    before: Value,
    phase: Phase,
}

/// Which calls the walk over the list tries: ops with a known outcome
/// first, then (once the walk reaches the first pending return) those of
/// unknown outcome.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Known,
    Unknown,
}

/// The doubly linked list of calls and returns in time order, from which
/// linearized ops are lifted (and put back on backtracking).
///
/// Ops of unknown outcome have a call and no return: nothing forces them to
/// be placed, and once every op of known outcome is placed, the ones left
/// are taken never to have happened. Their "maybe" would make the search
/// exponential (every subset of them placed, and overwritten, at every
/// point); these rules drop choices that another choice dominates (if the
/// dropped one can be completed to a linearization, so can the other):
/// - ops of known outcome are tried before those of unknown outcome;
/// - an unknown op is not placed where it changes nothing (a write of the
///   current value, a compare-and-swap that does not match);
/// - an unknown write or delete is not placed right after another unknown
///   op (it alone reaches the same value with fewer ops placed);
/// - a state `(known ops placed, value, unknown ops placed)` is skipped if a
///   state with the same known ops and value and a subset of its unknown ops
///   was explored and failed (leaving the extra unknown ops out does at
///   least as well). A state reached by placing an unknown op was explored
///   under the previous rule, so its failure only rules out states also
///   reached by placing an unknown op.
///
/// By induction over (known ops left, length of the shortest completion),
/// a state with a completion is never recorded as failed, so the search
/// finds a linearization whenever one exists; the unit tests check this
/// against a brute-force search on small random histories.
struct Search<'a> {
    ops: &'a [Op],
    steps: Vec<Step>,
    unknown: Vec<bool>,
    values: Vec<Option<String>>,
    /// Node 0 is the head sentinel; node 1 + 2i is op i's call, 2 + 2i its
    /// return (not linked for an op of unknown outcome).
    next: Vec<usize>,
    prev: Vec<usize>,
}

const NIL: usize = usize::MAX;

impl<'a> Search<'a> {
    fn new(ops: &'a [Op]) -> Search<'a> {
        let mut values: Vec<Option<String>> = vec![None];
        let mut ids: HashMap<&str, Value> = HashMap::new();
        let mut intern = |v: &'a str| -> Value {
            *ids.entry(v).or_insert_with(|| {
                values.push(Some(v.to_string()));
                (values.len() - 1) as Value
            })
        };
        let steps: Vec<Step> = ops
            .iter()
            .map(|op| match (&op.call, &op.ret) {
                (Call::Read, Ret::Value(None)) => Step::Read(0),
                (Call::Read, Ret::Value(Some(v))) => Step::Read(intern(v)),
                (Call::Write(v), _) => Step::Write(intern(v)),
                (Call::Cas { expect, new }, ret) => {
                    let (e, n) = (intern(expect), intern(new));
                    match ret {
                        Ret::Ok => Step::CasOk(e, n),
                        Ret::CasFailed(CasFailure::NotFound) => Step::CasNotFound,
                        Ret::CasFailed(CasFailure::Mismatch) => Step::CasMismatch(e),
                        Ret::CasFailedSaw(None) => Step::CasSaw(e, 0),
                        Ret::CasFailedSaw(Some(v)) => Step::CasSaw(e, intern(v)),
                        _ => Step::CasUnknown(e, n),
                    }
                }
                (Call::Delete, _) => Step::Delete,
                _ => unreachable!("checked by check_key"),
            })
            .collect();
        let unknown: Vec<bool> = ops.iter().map(|op| op.ret == Ret::Unknown).collect();
        // Events in time order; at equal times calls first (they overlap).
        let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            events.push((op.invoke, 0, 1 + 2 * i));
            if !unknown[i] {
                events.push((op.complete, 1, 2 + 2 * i));
            }
        }
        events.sort_unstable();
        let n = 1 + 2 * ops.len();
        let (mut next, mut prev) = (vec![NIL; n], vec![NIL; n]);
        let mut last = 0;
        for &(_, _, node) in &events {
            next[last] = node;
            prev[node] = last;
            last = node;
        }
        Search {
            ops,
            steps,
            unknown,
            values,
            next,
            prev,
        }
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    /// Puts back a node removed by `unlink` (in reverse order of removal).
    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n != NIL {
            self.prev[n] = node;
        }
    }

    /// Op i leaves the list: its call and its return.
    fn lift(&mut self, i: usize) {
        self.unlink(1 + 2 * i);
        if !self.unknown[i] {
            self.unlink(2 + 2 * i);
        }
    }

    fn unlift(&mut self, i: usize) {
        if !self.unknown[i] {
            self.relink(2 + 2 * i);
        }
        self.relink(1 + 2 * i);
    }

    fn run(mut self) -> Result<(), Box<Violation>> {
        let n = self.ops.len();
        let words = n.div_ceil(64);
        let total_known = self.unknown.iter().filter(|u| !**u).count();
        let mut known_left = total_known;
        // The ops placed, split by kind.
        let mut known: Bits = vec![0; words];
        let mut unknown: Bits = vec![0; words];
        // Explored states that failed: (known placed, value) -> the sets of
        // unknown ops placed with them; `[0]` for states reached by placing
        // a known op (or the start), `[1]` for those reached by placing an
        // unknown op.
        let mut failed: [HashMap<(Bits, Value), Vec<Bits>>; 2] = Default::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut state: Value = 0;
        let mut node = self.next[0];
        let mut phase = Phase::Known;
        let mut steps = 0u64;
        // The deepest point reached, for the report: (known ops placed, the
        // op stuck there, the value there).
        let mut best: (usize, usize, Value) = (0, 0, 0);
        while known_left > 0 {
            steps += 1;
            if steps > STEP_BUDGET {
                return Err(self.violation(best, total_known, true));
            }
            // Ops of unknown outcome have no return: with known ops left,
            // the walk meets a return before the end of the list.
            debug_assert!(node != NIL);
            if node % 2 == 1 {
                // A call: try to linearize its op here.
                let i = (node - 1) / 2;
                let is_unknown = self.unknown[i];
                let try_it = match phase {
                    Phase::Known => !is_unknown,
                    Phase::Unknown => {
                        is_unknown
                            && !(matches!(self.steps[i], Step::Write(_) | Step::Delete)
                                && stack.last().is_some_and(|f| self.unknown[f.op]))
                    }
                };
                let after = if try_it {
                    self.steps[i].apply(state)
                } else {
                    None
                };
                if let Some(after) = after.filter(|&a| !is_unknown || a != state) {
                    let bits = if is_unknown { &mut unknown } else { &mut known };
                    set_bit(bits, i, true);
                    let key = (known.clone(), after);
                    let dominated = failed[..1 + is_unknown as usize].iter().any(|f| {
                        f.get(&key)
                            .is_some_and(|sets| sets.iter().any(|s| subset(s, &unknown)))
                    });
                    if !dominated {
                        stack.push(Frame {
                            op: i,
                            before: state,
                            phase,
                        });
                        state = after;
                        self.lift(i);
                        if !is_unknown {
                            known_left -= 1;
                        }
                        node = self.next[0];
                        phase = Phase::Known;
                        continue;
                    }
                    let bits = if is_unknown { &mut unknown } else { &mut known };
                    set_bit(bits, i, false);
                }
                node = self.next[node];
            } else if phase == Phase::Known {
                // The first pending return: now the unknown ops before it.
                phase = Phase::Unknown;
                node = self.next[0];
            } else {
                // Nothing placeable before this return: this state failed;
                // undo the last choice.
                let i = (node - 2) / 2;
                let placed = total_known - known_left;
                if placed >= best.0 {
                    best = (placed, i, state);
                }
                let after_unknown = stack.last().is_some_and(|f| self.unknown[f.op]);
                failed[after_unknown as usize]
                    .entry((known.clone(), state))
                    .or_default()
                    .push(unknown.clone());
                let Some(f) = stack.pop() else {
                    return Err(self.violation(best, total_known, false));
                };
                let is_unknown = self.unknown[f.op];
                let bits = if is_unknown { &mut unknown } else { &mut known };
                set_bit(bits, f.op, false);
                if !is_unknown {
                    known_left += 1;
                }
                state = f.before;
                self.unlift(f.op);
                node = self.next[1 + 2 * f.op];
                phase = f.phase;
            }
        }
        Ok(())
    }

    fn violation(
        &self,
        best: (usize, usize, Value),
        total: usize,
        gave_up: bool,
    ) -> Box<Violation> {
        let (placed, i, state) = best;
        let stuck = &self.ops[i];
        let end_of = |op: &Op| {
            if op.ret == Ret::Unknown {
                u64::MAX
            } else {
                op.complete
            }
        };
        // Ops overlapping the stuck one, or ending up to a second before it.
        let overlaps = |op: &Op| {
            op.invoke <= end_of(stuck) && end_of(op) >= stuck.invoke.saturating_sub(1_000_000_000)
        };
        let mut around: Vec<Op> = self.ops.iter().filter(|op| overlaps(op)).cloned().collect();
        around.sort_by_key(|op| op.invoke);
        let skip = around.len().saturating_sub(20);
        Box::new(Violation {
            key: stuck.key.clone(),
            placed,
            total,
            stuck_at: stuck.clone(),
            value_there: self.values[state as usize].clone(),
            around: around.split_off(skip),
            gave_up,
            overwritten: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search alone, without the real-time proof that comes first in
    /// [`check_key`] (so that the search's own teeth are tested).
    fn search_only(h: &[Op]) -> Result<(), Box<Violation>> {
        Search::new(&prepared(h)).run()
    }

    fn op(client: usize, invoke: u64, complete: u64, call: Call, ret: Ret) -> Op {
        Op {
            client,
            key: "k".into(),
            call,
            ret,
            invoke,
            complete,
        }
    }
    fn w(v: &str) -> Call {
        Call::Write(v.into())
    }
    fn cas(e: &str, n: &str) -> Call {
        Call::Cas {
            expect: e.into(),
            new: n.into(),
        }
    }
    fn val(v: &str) -> Ret {
        Ret::Value(Some(v.into()))
    }
    const ABSENT: Ret = Ret::Value(None);

    #[test]
    fn empty_and_sequential_histories_are_linearizable() {
        check(&[]).unwrap();
        let h = [
            op(0, 0, 1, Call::Read, ABSENT),
            op(0, 2, 3, w("a"), Ret::Ok),
            op(1, 4, 5, Call::Read, val("a")),
            op(1, 6, 7, w("b"), Ret::Ok),
            op(0, 8, 9, Call::Read, val("b")),
        ];
        check(&h).unwrap();
    }

    #[test]
    fn concurrent_ops_may_take_effect_in_either_order() {
        // Two overlapping writes; the reads after both see the later one in
        // the chosen order, and a read overlapping both may see either.
        let h = [
            op(0, 0, 10, w("a"), Ret::Ok),
            op(1, 1, 9, w("b"), Ret::Ok),
            op(2, 2, 8, Call::Read, val("a")),
            op(2, 11, 12, Call::Read, val("b")),
            op(0, 13, 14, Call::Read, val("b")),
        ];
        check(&h).unwrap();
        // A read concurrent with a write may see the old or the new value.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 10, w("b"), Ret::Ok),
            op(2, 3, 4, Call::Read, val("b")),
            op(0, 5, 6, Call::Read, val("b")),
        ];
        check(&h).unwrap();
    }

    #[test]
    fn a_stale_read_is_rejected() {
        // b was acknowledged before the read started: reading a is stale.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(0, 2, 3, w("b"), Ret::Ok),
            op(1, 4, 5, Call::Read, val("a")),
        ];
        let v = check(&h).unwrap_err();
        assert!(!v.gave_up);
        assert_eq!(v.stuck_at, h[2], "{v}");
        // A new value seen, then an old one by a later read (both after the
        // write completed): the second read went back in time.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(0, 2, 20, w("b"), Ret::Ok),
            op(1, 3, 4, Call::Read, val("b")),
            op(2, 5, 6, Call::Read, val("a")),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn real_time_proves_a_stale_read_only_when_it_must_be_stale() {
        // An overwrite that ended before the read began: proved without the
        // search, naming both writes.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(2, 2, 3, w("b"), Ret::Ok),
            op(1, 4, 5, Call::Read, val("a")),
        ];
        let v = stale_by_real_time(&h).expect("a stale read");
        assert_eq!(v.stuck_at, h[2], "{v}");
        assert_eq!(v.overwritten, Some((h[0].clone(), h[1].clone())), "{v}");
        assert_eq!(v.value_there, Some("b".into()), "{v}");
        // A delete overwrites too.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(2, 2, 3, Call::Delete, Ret::Ok),
            op(1, 4, 5, Call::Read, val("a")),
        ];
        assert_eq!(stale_by_real_time(&h).unwrap().value_there, None);
        // Not proved where the read may be right, or where only the search
        // can tell:
        let maybe = [
            // the overwrite still open when the read began;
            vec![
                op(0, 0, 1, w("a"), Ret::Ok),
                op(2, 2, 9, w("b"), Ret::Ok),
                op(1, 4, 5, Call::Read, val("a")),
            ],
            // the overwrite began before the write ended;
            vec![
                op(0, 0, 3, w("a"), Ret::Ok),
                op(2, 2, 4, w("b"), Ret::Ok),
                op(1, 5, 6, Call::Read, val("a")),
            ],
            // the value written twice (the second may come after);
            vec![
                op(0, 0, 1, w("a"), Ret::Ok),
                op(2, 2, 3, w("b"), Ret::Ok),
                op(3, 2, 9, cas("b", "a"), Ret::Unknown),
                op(1, 4, 5, Call::Read, val("a")),
            ],
            // the write of unknown outcome (it may take effect late);
            vec![
                op(0, 0, 1, w("a"), Ret::Unknown),
                op(2, 2, 3, w("b"), Ret::Ok),
                op(1, 4, 5, Call::Read, val("a")),
            ],
            // the overwrite of unknown outcome, or a refused swap.
            vec![
                op(0, 0, 1, w("a"), Ret::Ok),
                op(2, 2, 3, w("b"), Ret::Unknown),
                op(3, 2, 3, cas("x", "c"), Ret::CasFailed(CasFailure::Mismatch)),
                op(1, 4, 5, Call::Read, val("a")),
            ],
        ];
        for h in &maybe {
            assert!(stale_by_real_time(h).is_none(), "{h:?}");
        }
        // Linearizable histories are never refused by it.
        for seed in 1..=20 {
            let h = generated(seed, 4, 200);
            assert!(stale_by_real_time(&h).is_none(), "seed {seed}");
        }
    }

    #[test]
    fn a_value_nobody_wrote_is_rejected() {
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, Call::Read, val("z")),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn a_lost_acknowledged_write_is_rejected() {
        // The final reads see nothing / the previous value after an
        // acknowledged write.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(9, 100, 101, Call::Read, ABSENT),
        ];
        assert!(check(&h).is_err());
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, w("b"), Ret::Ok),
            op(9, 100, 101, Call::Read, val("a")),
        ];
        let v = check(&h).unwrap_err();
        assert_eq!(v.stuck_at.client, 9, "{v}");
        // An acknowledged compare-and-swap lost the same way.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, cas("a", "b"), Ret::Ok),
            op(9, 100, 101, Call::Read, val("a")),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn unknown_outcomes_may_have_happened_or_not() {
        // Never happened: the read after it sees the older value.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 0, w("b"), Ret::Unknown),
            op(2, 50, 51, Call::Read, val("a")),
        ];
        check(&h).unwrap();
        // Happened long after the client gave up on it.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 0, w("b"), Ret::Unknown),
            op(2, 50, 51, Call::Read, val("a")),
            op(2, 90, 91, Call::Read, val("b")),
            op(2, 92, 93, Call::Read, val("b")),
        ];
        check(&h).unwrap();
        // But not before it was invoked.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(2, 3, 4, Call::Read, val("b")),
            op(1, 10, 0, w("b"), Ret::Unknown),
        ];
        assert!(check(&h).is_err());
        // And once seen, it cannot be unseen (no going back to a).
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 0, w("b"), Ret::Unknown),
            op(2, 50, 51, Call::Read, val("b")),
            op(2, 52, 53, Call::Read, val("a")),
        ];
        assert!(check(&h).is_err());
        // A read of unknown outcome is ignored.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 0, Call::Read, Ret::Unknown),
        ];
        check(&h).unwrap();
        // An unknown compare-and-swap applies only where it matched.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 0, cas("a", "b"), Ret::Unknown),
            op(2, 3, 4, w("c"), Ret::Ok),
            op(2, 5, 6, Call::Read, val("c")),
            op(2, 7, 8, Call::Read, val("c")),
        ];
        check(&h).unwrap();
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(2, 3, 4, w("c"), Ret::Ok),
            op(1, 5, 0, cas("a", "b"), Ret::Unknown),
            op(2, 6, 7, Call::Read, val("b")),
        ];
        assert!(check(&h).is_err(), "the cas ran after c: it cannot match a");
    }

    #[test]
    fn compare_and_swap_semantics() {
        // Matches: swaps; later reads see the new value.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, cas("a", "b"), Ret::Ok),
            op(2, 4, 5, Call::Read, val("b")),
        ];
        check(&h).unwrap();
        // Compare failed (101) while the value was another one: fine, and
        // nothing changed.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, cas("x", "b"), Ret::CasFailed(CasFailure::Mismatch)),
            op(2, 4, 5, Call::Read, val("a")),
        ];
        check(&h).unwrap();
        // Not found (100) while the key is absent.
        let h = [op(
            1,
            2,
            3,
            cas("x", "b"),
            Ret::CasFailed(CasFailure::NotFound),
        )];
        check(&h).unwrap();
        // Rejected: a successful swap from a value the key did not hold.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, cas("x", "b"), Ret::Ok),
        ];
        assert!(check(&h).is_err());
        // Rejected: compare failed although the key held the expected value.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, cas("a", "b"), Ret::CasFailed(CasFailure::Mismatch)),
        ];
        assert!(check(&h).is_err());
        // Rejected: not found although the key existed, and 101 on an
        // absent key.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, cas("x", "b"), Ret::CasFailed(CasFailure::NotFound)),
        ];
        assert!(check(&h).is_err());
        let h = [op(
            1,
            2,
            3,
            cas("x", "b"),
            Ret::CasFailed(CasFailure::Mismatch),
        )];
        assert!(check(&h).is_err());
        // Two concurrent swaps from the same value: both cannot win.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 10, cas("a", "b"), Ret::Ok),
            op(2, 3, 11, cas("a", "c"), Ret::Ok),
        ];
        assert!(check(&h).is_err());
        // One wins, the other fails, and a read in between is explained.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(
                1,
                2,
                10,
                cas("a", "b"),
                Ret::CasFailed(CasFailure::Mismatch),
            ),
            op(2, 3, 11, cas("a", "c"), Ret::Ok),
            op(3, 4, 5, Call::Read, val("c")),
        ];
        check(&h).unwrap();
    }

    #[test]
    fn deletes_and_swaps_that_saw_a_value() {
        let gone = Call::Delete;
        // A delete makes the key absent; a read after it sees nothing.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, gone.clone(), Ret::Ok),
            op(2, 4, 5, Call::Read, ABSENT),
        ];
        check(&h).unwrap();
        // Rejected: the value seen again after an acknowledged delete.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, gone.clone(), Ret::Ok),
            op(2, 4, 5, Call::Read, val("a")),
        ];
        assert!(check(&h).is_err());
        // A lease's expiry: a delete of unknown outcome from its deadline.
        // Before it, the key must be there; after the first read that
        // misses it, it never comes back.
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(9, 10, 0, gone.clone(), Ret::Unknown),
            op(1, 2, 3, Call::Read, val("a")),
            op(1, 11, 12, Call::Read, val("a")),
            op(1, 13, 14, Call::Read, ABSENT),
        ];
        check(&h).unwrap();
        let early = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(9, 10, 0, gone.clone(), Ret::Unknown),
            op(1, 2, 3, Call::Read, ABSENT),
        ];
        assert!(check(&early).is_err(), "gone before its deadline");
        let back = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(9, 10, 0, gone, Ret::Unknown),
            op(1, 11, 12, Call::Read, ABSENT),
            op(1, 13, 14, Call::Read, val("a")),
        ];
        assert!(check(&back).is_err(), "seen again after it expired");
        // A refused txn saw the value: it must be the one there, and not
        // the expected one.
        let saw = |v: Option<&str>| Ret::CasFailedSaw(v.map(str::to_string));
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, cas("x", "b"), saw(Some("a"))),
        ];
        check(&h).unwrap();
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, cas("x", "b"), saw(None)),
        ];
        assert!(check(&h).is_err());
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 3, cas("a", "b"), saw(Some("a"))),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn keys_are_checked_independently() {
        let mut a = op(0, 0, 1, w("a"), Ret::Ok);
        a.key = "k1".into();
        let mut b = op(1, 2, 3, Call::Read, ABSENT);
        b.key = "k2".into();
        check(&[a.clone(), b]).unwrap();
        let mut stale = op(1, 2, 3, Call::Read, ABSENT);
        stale.key = "k1".into();
        let v = check(&[a, stale]).unwrap_err();
        assert_eq!(v.key, "k1");
    }

    /// A small PRNG (xorshift), so the generated histories repeat.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// A history of a real register under concurrency: each client's op
    /// takes effect at a random instant inside its interval; some outcomes
    /// are lost (unknown), and some of those never took effect.
    fn generated(seed: u64, clients: usize, ops_per_client: usize) -> Vec<Op> {
        let mut rng = Rng(seed);
        // (effect time, client, call, seq): built per client, applied in
        // effect order.
        let mut planned = Vec::new();
        for c in 0..clients {
            let mut t = rng.below(10);
            for s in 0..ops_per_client {
                let invoke = t + 1 + rng.below(20);
                let effect = invoke + 1 + rng.below(40);
                let complete = effect + 1 + rng.below(40);
                let call = match rng.below(3) {
                    0 => Call::Read,
                    1 => Call::Write(format!("c{c}.{s}")),
                    _ => Call::Cas {
                        expect: format!(
                            "c{}.{}",
                            rng.below(clients as u64),
                            rng.below(s as u64 + 1)
                        ),
                        new: format!("c{c}.{s}"),
                    },
                };
                let lost = rng.below(20) == 0;
                let happens = !lost || rng.below(2) == 0;
                planned.push((effect, c, call, invoke, complete, lost, happens));
                t = complete;
            }
        }
        planned.sort_by_key(|p| p.0);
        let mut state: Option<String> = None;
        let mut history = Vec::new();
        for (_, client, call, invoke, complete, lost, happens) in planned {
            if !happens {
                if call != Call::Read {
                    history.push(op(client, invoke, 0, call, Ret::Unknown));
                }
                continue;
            }
            let ret = match &call {
                Call::Read => Ret::Value(state.clone()),
                Call::Write(v) => {
                    state = Some(v.clone());
                    Ret::Ok
                }
                Call::Cas { expect, new } => match &state {
                    Some(s) if s == expect => {
                        state = Some(new.clone());
                        Ret::Ok
                    }
                    Some(_) => Ret::CasFailed(CasFailure::Mismatch),
                    None => Ret::CasFailed(CasFailure::NotFound),
                },
                Call::Delete => {
                    state = None;
                    Ret::Ok
                }
            };
            let ret = if lost { Ret::Unknown } else { ret };
            history.push(op(client, invoke, complete, call, ret));
        }
        history
    }

    #[test]
    fn generated_histories_of_a_real_register_are_accepted() {
        for seed in 1..=20u64 {
            let h = generated(seed * 7919, 5, 400);
            let started = std::time::Instant::now();
            check(&h).unwrap_or_else(|v| panic!("seed {seed}: {v}"));
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "seed {seed}: checking {} ops took {:?}",
                h.len(),
                started.elapsed()
            );
        }
    }

    #[test]
    fn a_stale_read_planted_in_a_long_history_is_found() {
        let mut h = generated(4242, 5, 400);
        // The last completed write, then a read after everything that sees
        // the value before it: stale.
        let end = h.iter().map(|o| o.complete).max().unwrap();
        let mut writes: Vec<&Op> = h
            .iter()
            .filter(|o| matches!(o.call, Call::Write(_)) && o.ret == Ret::Ok)
            .collect();
        writes.sort_by_key(|o| o.complete);
        let Call::Write(old) = writes[writes.len() - 2].call.clone() else {
            unreachable!()
        };
        // Make the newest write unambiguous: it starts after everything.
        h.push(op(7, end + 10, end + 11, w("final"), Ret::Ok));
        h.push(op(8, end + 20, end + 21, Call::Read, Ret::Value(Some(old))));
        let v = search_only(&h).unwrap_err();
        assert!(!v.gave_up, "{v}");
        assert_eq!(v.stuck_at.client, 8, "{v}");
    }

    #[test]
    fn a_stale_read_in_the_middle_of_a_history_with_many_unknowns_is_found() {
        // One op in 5 of unknown outcome: the pruning must still prove the
        // violation instead of running out of steps.
        let mut h = generated(99, 5, 400);
        h.sort_by_key(|o| o.invoke);
        let mid = h[h.len() / 2].invoke;
        let end = h.iter().map(|o| o.complete).max().unwrap();
        // Quiet the middle: shift the later half far away, then write and
        // read back a stale value there.
        for o in h.iter_mut().filter(|o| o.invoke > mid) {
            o.invoke += 10 * end;
            if o.ret != Ret::Unknown {
                o.complete += 10 * end;
            }
        }
        let t = end + 1;
        h.push(op(7, t, t + 1, w("m1"), Ret::Ok));
        h.push(op(7, t + 2, t + 3, w("m2"), Ret::Ok));
        h.push(op(8, t + 4, t + 5, Call::Read, val("m1")));
        let started = std::time::Instant::now();
        let v = search_only(&h).unwrap_err();
        assert!(!v.gave_up, "{v}");
        assert_eq!(v.stuck_at.client, 8, "{v}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn many_unknown_outcomes_are_checked_quickly() {
        let mut rng = Rng(12345);
        for seed in 1..=10u64 {
            let mut h = generated(seed * 31, 6, 300);
            // Another 10% of the writes and swaps lose their answer.
            for o in h.iter_mut() {
                if o.call != Call::Read && rng.below(10) == 0 {
                    o.ret = Ret::Unknown;
                }
            }
            let started = std::time::Instant::now();
            check(&h).unwrap_or_else(|v| panic!("seed {seed}: {v}"));
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "seed {seed}: {:?}",
                started.elapsed()
            );
        }
    }

    /// The register model on strings, for the brute-force search.
    fn model(o: &Op, state: &Option<String>) -> Option<Option<String>> {
        match (&o.call, &o.ret) {
            (Call::Read, Ret::Value(v)) => (v == state).then(|| state.clone()),
            (Call::Write(v), _) => Some(Some(v.clone())),
            (Call::Delete, _) => Some(None),
            (Call::Cas { expect, new }, ret) => {
                let matches = state.as_deref() == Some(expect.as_str());
                match ret {
                    Ret::Ok => matches.then(|| Some(new.clone())),
                    Ret::CasFailed(CasFailure::NotFound) => state.is_none().then_some(None),
                    Ret::CasFailed(CasFailure::Mismatch) => {
                        (state.is_some() && !matches).then(|| state.clone())
                    }
                    Ret::CasFailedSaw(seen) => (seen == state && !matches).then(|| state.clone()),
                    _ => Some(if matches {
                        Some(new.clone())
                    } else {
                        state.clone()
                    }),
                }
            }
            _ => unreachable!(),
        }
    }

    /// Every order of the ops that respects real time, every subset of the
    /// unknown ones.
    fn brute_force(ops: &[Op]) -> bool {
        fn go(ops: &[&Op], done: &mut Vec<bool>, state: Option<String>) -> bool {
            let pending = |i: usize| !done[i] && ops[i].ret != Ret::Unknown;
            let Some(first_return) = (0..ops.len())
                .filter(|&i| pending(i))
                .map(|i| ops[i].complete)
                .min()
            else {
                return true;
            };
            for i in 0..ops.len() {
                if done[i] || ops[i].invoke > first_return {
                    continue;
                }
                if let Some(next) = model(ops[i], &state) {
                    done[i] = true;
                    if go(ops, done, next) {
                        return true;
                    }
                    done[i] = false;
                }
            }
            false
        }
        let ops: Vec<&Op> = ops
            .iter()
            .filter(|o| !(o.call == Call::Read && o.ret == Ret::Unknown))
            .collect();
        go(&ops, &mut vec![false; ops.len()], None)
    }

    #[test]
    fn the_search_agrees_with_brute_force_on_small_histories() {
        // Values from a tiny set (so they repeat), a real register's
        // answers, and half of the histories with one answer changed.
        let mut rng = Rng(777);
        let vals = ["a", "b", "c"];
        let (mut yes, mut no) = (0, 0);
        for round in 0..100_000 {
            let mut planned = Vec::new();
            for c in 0..4 {
                let mut t = rng.below(4);
                for _ in 0..1 + rng.below(3) {
                    let invoke = t + rng.below(4);
                    let effect = invoke + rng.below(4);
                    let complete = effect + rng.below(4);
                    let v = vals[rng.below(3) as usize].to_string();
                    let call = match rng.below(4) {
                        0 => Call::Read,
                        1 => Call::Write(v),
                        2 => Call::Cas {
                            expect: vals[rng.below(3) as usize].into(),
                            new: v,
                        },
                        _ => Call::Delete,
                    };
                    let unknown = rng.below(3) == 0;
                    let happens = !unknown || rng.below(2) == 0;
                    planned.push((effect, c, call, invoke, complete, unknown, happens));
                    t = complete + 1;
                }
            }
            planned.sort_by_key(|p| p.0);
            let mut state: Option<String> = None;
            let mut h = Vec::new();
            for (_, c, call, invoke, complete, unknown, happens) in planned {
                let mut ret = Ret::Unknown;
                // A refused swap says the value it saw (v3) half of the time.
                let saw = rng.below(2) == 0;
                if happens {
                    let probe = |r: Ret| {
                        model(&op(c, invoke, complete, call.clone(), r.clone()), &state)
                            .map(|s| (r, s))
                    };
                    let outcomes = [
                        Ret::Value(state.clone()),
                        Ret::Ok,
                        Ret::CasFailedSaw(state.clone()),
                        Ret::CasFailed(CasFailure::NotFound),
                        Ret::CasFailed(CasFailure::Mismatch),
                    ];
                    let (r, next) = outcomes
                        .into_iter()
                        .filter(|r| saw || !matches!(r, Ret::CasFailedSaw(_)))
                        .filter(|r| !(call == Call::Read) == !matches!(r, Ret::Value(_)))
                        .find_map(probe)
                        .expect("some outcome fits");
                    state = next;
                    ret = r;
                }
                if unknown {
                    ret = Ret::Unknown;
                }
                h.push(op(c, invoke, complete, call, ret));
            }
            if round % 2 == 1 {
                // Change one answer.
                let i = rng.below(h.len() as u64) as usize;
                h[i].ret = match &h[i].call {
                    Call::Read => Ret::Value(match rng.below(4) {
                        3 => None,
                        k => Some(vals[k as usize].into()),
                    }),
                    Call::Write(_) | Call::Delete => Ret::Ok,
                    Call::Cas { .. } => match rng.below(4) {
                        0 => Ret::Ok,
                        1 => Ret::CasFailed(CasFailure::NotFound),
                        2 => Ret::CasFailed(CasFailure::Mismatch),
                        _ => Ret::CasFailedSaw(match rng.below(4) {
                            3 => None,
                            k => Some(vals[k as usize].into()),
                        }),
                    },
                };
            }
            let expected = brute_force(&h);
            let got = check(&h);
            assert_eq!(
                got.is_ok(),
                expected,
                "round {round}: brute force says {expected}, the search {got:?}; history:\n{}",
                h.iter().map(|o| format!("  {o}\n")).collect::<String>()
            );
            if let Err(v) = got {
                assert!(!v.gave_up);
            }
            if expected {
                yes += 1;
            } else {
                no += 1;
            }
        }
        assert!(yes > 20_000 && no > 10_000, "{yes} linearizable, {no} not");
    }

    #[test]
    fn possible_final_values_are_the_writes_that_could_be_last() {
        assert_eq!(possible_final_values(&[], "k"), vec![None]);
        let h = [
            op(0, 0, 1, w("a"), Ret::Ok),
            op(1, 2, 10, w("b"), Ret::Ok),
            op(2, 3, 4, w("c"), Ret::Ok),
            op(3, 5, 0, w("d"), Ret::Unknown),
            op(4, 6, 7, Call::Read, val("c")),
        ];
        let v = possible_final_values(&h, "k");
        assert_eq!(
            v,
            vec![Some("b".into()), Some("c".into()), Some("d".into())]
        );
        assert_eq!(possible_final_values(&h, "other"), vec![None]);
    }
}
