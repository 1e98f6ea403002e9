//! The one executor thread (00-overview.md, runtime model).
//!
//! Everything async runs on a `LocalExecutor` driven by `smol::block_on` on the main thread, so
//! gateway state can live in `Rc`/`RefCell` without locks. Long network waits run on their own
//! threads (platform polls, model streams) and talk to it through channels; short blocking calls
//! go to smol's blocking pool, capped by `BLOCKING_MAX_THREADS` (set in `main` before any thread
//! starts, because the pool never shrinks).

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use smol::future::FutureExt;
use smol::{LocalExecutor, Task};

thread_local! {
    static EXECUTOR: Cell<Option<&'static LocalExecutor<'static>>> = const { Cell::new(None) };
}

/// Default cap of the blocking pool when `BLOCKING_MAX_THREADS` is not set.
pub const BLOCKING_THREADS: usize = 4;

/// Runs `main` (and everything it spawns) on this thread until `main` completes.
pub fn block_on<T>(main: impl Future<Output = T>) -> T {
    let executor = EXECUTOR.with(|cell| match cell.get() {
        Some(ex) => ex,
        None => {
            // One executor per thread for the life of the process.
            let ex: &'static LocalExecutor<'static> = Box::leak(Box::new(LocalExecutor::new()));
            cell.set(Some(ex));
            ex
        }
    });
    smol::block_on(executor.run(main))
}

/// Spawns a task on this thread's executor. Must be called from inside [`block_on`].
pub fn spawn<T: 'static>(future: impl Future<Output = T> + 'static) -> Task<T> {
    EXECUTOR.with(|cell| match cell.get() {
        Some(ex) => ex.spawn(future),
        None => panic!("runtime::spawn called outside runtime::block_on"),
    })
}

/// Spawns a detached task whose panic is caught and logged with `what`, never reaching the
/// executor (the boundary the reliability spec asks for around turns and platforms).
pub fn spawn_guarded(what: String, future: impl Future<Output = ()> + 'static) {
    spawn_boxed(what, Box::pin(future));
}

/// The one task type behind [`spawn_guarded`]: boxing the future keeps one copy of the task
/// machinery in the binary instead of one per call site.
fn spawn_boxed(what: String, future: Pin<Box<dyn Future<Output = ()>>>) {
    spawn(async move {
        if AssertUnwindSafe(future).catch_unwind().await.is_err() {
            log::error!("{what}: panicked; the gateway keeps running");
        }
    })
    .detach();
}

/// Runs a blocking closure on the blocking pool.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let value = unblock_boxed(Box::new(move || Box::new(f()) as Box<dyn Any + Send>)).await;
    *value.downcast::<T>().expect("a blocking call returns the type it was given")
}

/// The one blocking-pool task type behind [`blocking`] (as [`spawn_boxed`]).
async fn unblock_boxed(f: Box<dyn FnOnce() -> Box<dyn Any + Send> + Send>) -> Box<dyn Any + Send> {
    smol::unblock(f).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawned_tasks_run_and_panics_stay_inside() {
        let out = block_on(async {
            let t = spawn(async { 21 * 2 });
            spawn_guarded("test task".into(), async { panic!("boom") });
            let ok = spawn(async { 1 });
            t.await + ok.await - 1
        });
        assert_eq!(out, 42);
    }
}
