//! Logging through a caller-supplied callback. Nothing is printed by default.
//!
//! Every firmware command is logged (at `DEBUG` on success, `WARN` on failure) with its
//! result. Messages never contain secret material (keys, TEK/TIK, secrets, plaintext).
//!
//! Re-entrancy: a sink is never called with a libsev lock held. Inside a C call
//! ([`Scope`], which the C boundary opens around every export) messages are queued on the
//! calling thread and delivered when the call is about to return, after every handle lock and
//! every lock of the firmware model has been released; the sink lock itself is released before
//! each delivery. A callback may therefore call any libsev function, including
//! `libsev_set_log_callback`. Messages caused by libsev calls made from inside a callback are
//! dropped (no recursion).
//!
//! Replacing or removing the sink waits until deliveries of the old sink on other threads have
//! returned (so the caller may free the old `user` data afterwards), except when it is called
//! from inside a callback: then it cannot wait (two callbacks replacing each other would wait
//! for each other) and returns at once.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ffi::{CString, c_char, c_void};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Log levels, from most to least severe.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[allow(non_camel_case_types)]
pub enum libsev_log_level {
    LIBSEV_LOG_ERROR = 1,
    LIBSEV_LOG_WARN = 2,
    LIBSEV_LOG_INFO = 3,
    LIBSEV_LOG_DEBUG = 4,
    LIBSEV_LOG_TRACE = 5,
}

pub use libsev_log_level as Level;

/// A log callback: level, a NUL-terminated message valid only during the call, and the
/// user data given to `libsev_set_log_callback`. It runs on the thread that made the libsev
/// call being logged, before that call returns, with no libsev lock held.
#[allow(non_camel_case_types)]
pub type libsev_log_callback = Option<
    unsafe extern "C" fn(level: libsev_log_level, message: *const c_char, user: *mut c_void),
>;

/// A Rust-side sink, for Rust users and tests.
pub type RustSink = Box<dyn Fn(Level, &str) + Send + Sync>;

type SharedSink = Arc<dyn Fn(Level, &str) + Send + Sync>;

#[derive(Clone)]
enum Target {
    C {
        cb: unsafe extern "C" fn(libsev_log_level, *const c_char, *mut c_void),
        user: usize,
    },
    Rust(SharedSink),
}

struct State {
    /// The sink, its maximum level and its generation (bumped on every change).
    sink: Option<(Target, Level)>,
    generation: u64,
    /// Deliveries in progress, per generation.
    inflight: BTreeMap<u64, usize>,
}

static STATE: Mutex<State> = Mutex::new(State {
    sink: None,
    generation: 0,
    inflight: BTreeMap::new(),
});
static DONE: Condvar = Condvar::new();
/// The sink's maximum level as a number, 0 when there is no sink: the lock-free fast path of
/// [`enabled`] (one relaxed load per command when nobody listens).
static MAX_LEVEL: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// How many [`Scope`]s are open on this thread.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Messages queued by the open scopes.
    static QUEUE: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    /// Generations of the deliveries running on this thread (a callback's own stack).
    static DELIVERING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn state() -> MutexGuard<'static, State> {
    // The state is consistent at every unlock: a panic cannot leave it half-written.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

fn in_callback() -> bool {
    DELIVERING.with(|d| !d.borrow().is_empty())
}

fn install(sink: Option<(Target, Level)>) {
    let mut st = state();
    MAX_LEVEL.store(sink.as_ref().map_or(0, |s| s.1 as u32), Ordering::Relaxed);
    st.sink = sink;
    st.generation += 1;
    let newest = st.generation;
    if in_callback() {
        return;
    }
    // Wait for other threads' deliveries of older sinks (this thread runs none).
    let _st = DONE
        .wait_while(st, |st| st.inflight.range(..newest).any(|(_, n)| *n > 0))
        .unwrap_or_else(|e| e.into_inner());
}

/// Install (or with `None`, remove) the C callback; messages above `max` are dropped.
pub fn set_c_callback(cb: libsev_log_callback, user: *mut c_void, max: Level) {
    install(cb.map(|cb| {
        (
            Target::C {
                cb,
                user: user as usize,
            },
            max,
        )
    }));
}

/// Install a Rust closure as the sink. It must not call back into libsev.
pub fn set_rust_sink(f: RustSink, max: Level) {
    install(Some((Target::Rust(Arc::from(f)), max)));
}

/// Remove any sink.
pub fn clear() {
    install(None);
}

/// Whether a message at `level` would reach a sink (so callers can skip formatting).
pub fn enabled(level: Level) -> bool {
    (level as u32) <= MAX_LEVEL.load(Ordering::Relaxed) && !in_callback()
}

/// Emit one message: queued while a [`Scope`] is open on this thread, delivered at once
/// otherwise; dropped when it comes from inside a callback.
pub fn emit(level: Level, message: &str) {
    if in_callback() {
        return;
    }
    if DEPTH.with(Cell::get) > 0 {
        QUEUE.with(|q| q.borrow_mut().push((level, message.to_owned())));
        return;
    }
    deliver(level, message);
}

/// Call the sink for one message with no lock held.
fn deliver(level: Level, message: &str) {
    let (target, generation) = {
        let mut st = state();
        let Some((target, max)) = st.sink.clone() else {
            return;
        };
        if level > max {
            return;
        }
        let g = st.generation;
        *st.inflight.entry(g).or_insert(0) += 1;
        (target, g)
    };
    DELIVERING.with(|d| d.borrow_mut().push(generation));
    let call = || match &target {
        Target::C { cb, user } => {
            let c = CString::new(message.replace('\0', "?")).unwrap_or_default();
            // SAFETY: the callback was registered by the caller with this contract: it
            // receives a NUL-terminated string valid for the call and its own user pointer.
            unsafe { cb(level, c.as_ptr(), *user as *mut c_void) };
        }
        Target::Rust(f) => f(level, message),
    };
    // A Rust sink that panics loses its message, not the caller's call.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    DELIVERING.with(|d| d.borrow_mut().pop());
    let mut st = state();
    if let Some(n) = st.inflight.get_mut(&generation) {
        *n -= 1;
        if *n == 0 {
            st.inflight.remove(&generation);
            DONE.notify_all();
        }
    }
}

/// A C call in progress on this thread: messages are queued until the outermost scope ends,
/// then delivered (after the call's locks were released, since they are released before the
/// scope ends).
pub(crate) struct Scope(());

impl Scope {
    pub(crate) fn enter() -> Scope {
        DEPTH.with(|d| d.set(d.get() + 1));
        Scope(())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let depth = DEPTH.with(|d| {
            d.set(d.get() - 1);
            d.get()
        });
        if depth != 0 {
            return;
        }
        let queued = QUEUE.with(|q| std::mem::take(&mut *q.borrow_mut()));
        for (level, message) in queued {
            deliver(level, &message);
        }
    }
}

/// Log with `format!` arguments, formatting only when a sink wants the level.
#[macro_export]
macro_rules! sev_log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::emit($level, &format!($($arg)*));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    // One test owns the process-wide sink (tests run in parallel threads).
    #[test]
    fn queued_in_a_scope_delivered_after_it_and_never_recursive() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let s = seen.clone();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        // Other tests log from their own threads meanwhile: only this thread's count.
        let me = std::thread::current().id();
        set_rust_sink(
            Box::new(move |_, m| {
                if std::thread::current().id() != me {
                    return;
                }
                c.fetch_add(1, Ordering::SeqCst);
                s.lock().unwrap().push(m.to_owned());
                // A message from inside the sink is dropped, not delivered recursively.
                emit(Level::LIBSEV_LOG_ERROR, "from inside");
            }),
            Level::LIBSEV_LOG_DEBUG,
        );
        {
            let _outer = Scope::enter();
            emit(Level::LIBSEV_LOG_DEBUG, "one");
            {
                let _inner = Scope::enter();
                emit(Level::LIBSEV_LOG_WARN, "two");
            }
            assert!(
                seen.lock().unwrap().is_empty(),
                "queued until the scope ends"
            );
            emit(Level::LIBSEV_LOG_TRACE, "too verbose");
        }
        assert_eq!(*seen.lock().unwrap(), ["one", "two"]);
        emit(Level::LIBSEV_LOG_INFO, "direct");
        assert_eq!(seen.lock().unwrap().len(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        clear();
        assert!(!enabled(Level::LIBSEV_LOG_ERROR));
        emit(Level::LIBSEV_LOG_ERROR, "nobody listens");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
