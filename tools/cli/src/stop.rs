//! A stopped tool still tells the truth. SIGINT, SIGTERM and SIGHUP (Ctrl-C, `systemctl stop`,
//! a closed terminal) end a tool with its record written: the record it read, plus its own
//! section failed by an `interrupted` check, so the composer and the next tool in a pipeline
//! see that this step did not finish, rather than an empty stdout that looks like "start a
//! new record". Children it started get the same signal. The exit code is 128 + the signal's
//! number, as shells report a process a signal ended (130, 143, 129).
//!
//! A tool that must finish something itself before it can say what happened (schema-swap's
//! transaction: rolled back, or committed) calls [`defer_signals`] and watches
//! [`signal_received`] and its own handlers from then on.

use crate::output::write_record_unlocked;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use record::{Check, Record, SectionBuilder};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

/// What the signal watcher needs to write the record of a stopped tool.
struct StopState {
    /// The tool's section name and a builder for it, with the keys it must always have.
    section: Option<(String, SectionBuilder)>,
    /// The record read on stdin: what the stopped tool passes on. A copy is cheap: the keys
    /// it does not parse are shared, not copied.
    input: Option<Record>,
    /// The record went to stdout already: never write a second one.
    written: bool,
    /// Processes this tool started and waits for.
    children: Vec<u32>,
}

static STATE: Mutex<StopState> = Mutex::new(StopState {
    section: None,
    input: None,
    written: false,
    children: Vec::new(),
});
static DEFERRED: AtomicBool = AtomicBool::new(false);
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// Set by the signal handler itself, at once: a group kill that also ends a child of this tool
/// reaches this flag before the tool can see the child's end and report that instead.
static STOPPING: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn stopping() -> bool {
    !DEFERRED.load(Ordering::SeqCst)
        && STOPPING
            .get()
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// When a stop is under way, the main thread leaves the record and the exit to it (bounded:
/// if the watcher never acts, the tool goes on as if no signal had come).
pub(crate) fn yield_to_stop() {
    if stopping() {
        std::thread::sleep(std::time::Duration::from_secs(10));
    }
}

fn state() -> MutexGuard<'static, StopState> {
    // A panic elsewhere must not keep a stopped tool from writing its record.
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Names the section a stop writes, with the keys its schema requires (filled by `fill` when
/// the stop comes). Call it first in `run`, before anything that can take long.
pub fn on_stop(
    section_name: &str,
    mut section: SectionBuilder,
    fill: impl FnOnce(&mut SectionBuilder),
) {
    fill(&mut section);
    state().section = Some((section_name.to_owned(), section));
}

/// From now on a signal does not stop the tool: it is only noted ([`signal_received`]) and
/// the tool's own handling decides. For work whose outcome must be known before exiting.
pub fn defer_signals() {
    DEFERRED.store(true, Ordering::SeqCst);
}

/// The signal that arrived since [`defer_signals`], if any: "SIGTERM".
pub fn signal_received() -> Option<&'static str> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(signal_name(n)),
    }
}

/// Runs `command` to completion as [`Command::output`] does, known to the signal watcher so
/// that a stop reaches it too: no child outlives a stopped tool.
pub fn output_of(command: &mut Command) -> std::io::Result<Output> {
    let child: Child = {
        let mut state = state();
        let child = command.spawn()?;
        state.children.push(child.id());
        child
    };
    let id = child.id();
    let result = child.wait_with_output();
    state().children.retain(|&pid| pid != id);
    result
}

pub(crate) fn remember_input(record: Record) {
    state().input = Some(record);
}

/// Writes through `write` unless a stop wrote the record already; no stop can write while
/// `write` runs.
pub(crate) fn write_once(write: impl FnOnce() -> std::io::Result<()>) -> std::io::Result<()> {
    yield_to_stop();
    let mut state = state();
    if state.written {
        return Ok(());
    }
    state.written = true;
    write()
}

/// Starts the thread that turns a signal into the stopped tool's record and exit. If the
/// handlers cannot be installed the default action stays: the tool ends without a record.
pub(crate) fn watch(tool: &str) {
    let flag = STOPPING.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        let _ = signal_hook::flag::register(signal, Arc::clone(flag));
    }
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let tool = tool.to_owned();
    let spawned = std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            for signal in signals.forever() {
                if DEFERRED.load(Ordering::SeqCst) {
                    let _ =
                        RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
                    continue;
                }
                stop(&tool, signal);
            }
        });
    drop(spawned);
}

fn stop(tool: &str, signal: i32) -> ! {
    let name = signal_name(signal);
    // The main thread holds the lock while it writes the record; if that write is stuck (a
    // reader that stopped reading), the stop must not wait for it without end.
    let Some(mut state) = lock_within(std::time::Duration::from_secs(2)) else {
        eprintln!("{tool}: stopped by {name} while writing its record");
        std::process::exit(128 + signal)
    };
    for &pid in &state.children {
        if let (Ok(pid), Ok(sig)) = (i32::try_from(pid), Signal::try_from(signal)) {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }
    if !state.written {
        if let Some((section_name, mut section)) = state.section.take() {
            let detail = format!(
                "stopped by {name} before it finished: this step has no result, and what it was doing was abandoned"
            );
            eprintln!("[FAIL ] interrupted: {detail}");
            section.push_check(Check::fail("interrupted", detail));
            let mut record = state.input.take().unwrap_or_default();
            record.put_section(&section_name, &section.finish());
            state.written = true;
            let _ = write_record_unlocked(&record);
        }
    }
    eprintln!("{tool}: stopped by {name}");
    std::process::exit(128 + signal)
}

fn lock_within(limit: std::time::Duration) -> Option<MutexGuard<'static, StopState>> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match STATE.try_lock() {
            Ok(guard) => return Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::sync::TryLockError::WouldBlock) => return None,
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
