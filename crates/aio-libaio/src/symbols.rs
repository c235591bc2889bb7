//! The exported symbols, with libaio 0.3.113's versions: each function of `calls` gets a
//! global alias, and `.symver` names it `symbol@@VERSION` (the default a program links
//! against today) or `symbol@VERSION` (a compatibility version, for programs linked against
//! libaio 0.1). `libaio.map` declares the version nodes; the aliases themselves stay local.
//!
//! | symbol | default | compatibility |
//! | --- | --- | --- |
//! | `io_setup`, `io_destroy` | `LIBAIO_0.4` | |
//! | `io_getevents` | `LIBAIO_0.4` | `LIBAIO_0.1`: `(ctx, nr, events, timeout)`, at least one event |
//! | `io_cancel` | `LIBAIO_0.4` | `LIBAIO_0.1`: `(ctx, iocb)` |
//! | `io_queue_wait` | `LIBAIO_0.4` | `LIBAIO_0.1` |
//! | `io_submit`, `io_queue_init`, `io_queue_release`, `io_queue_run` | `LIBAIO_0.1` | |
//! | `io_pgetevents` | `LIBAIO_0.5` | |

use crate::calls;

/// `export!(function => "alias", "symbol@@VERSION")`.
macro_rules! export {
    ($($function:path => $alias:literal, $versioned:literal;)*) => {
        $(
            core::arch::global_asm!(
                concat!(".globl ", $alias),
                concat!(".type ", $alias, ", %function"),
                concat!(".set ", $alias, ", {function}"),
                concat!(".symver ", $alias, ", ", $versioned),
                function = sym $function,
            );
        )*
    };
}

export! {
    calls::io_setup => "__aio_libaio_io_setup", "io_setup@@LIBAIO_0.4";
    calls::io_destroy => "__aio_libaio_io_destroy", "io_destroy@@LIBAIO_0.4";
    calls::io_getevents => "__aio_libaio_io_getevents", "io_getevents@@LIBAIO_0.4";
    calls::io_getevents_0_1 => "__aio_libaio_io_getevents_0_1", "io_getevents@LIBAIO_0.1";
    calls::io_cancel => "__aio_libaio_io_cancel", "io_cancel@@LIBAIO_0.4";
    calls::io_cancel_0_1 => "__aio_libaio_io_cancel_0_1", "io_cancel@LIBAIO_0.1";
    calls::io_queue_wait => "__aio_libaio_io_queue_wait", "io_queue_wait@@LIBAIO_0.4";
    calls::io_queue_wait => "__aio_libaio_io_queue_wait_0_1", "io_queue_wait@LIBAIO_0.1";
    calls::io_submit => "__aio_libaio_io_submit", "io_submit@@LIBAIO_0.1";
    calls::io_queue_init => "__aio_libaio_io_queue_init", "io_queue_init@@LIBAIO_0.1";
    calls::io_queue_release => "__aio_libaio_io_queue_release", "io_queue_release@@LIBAIO_0.1";
    calls::io_queue_run => "__aio_libaio_io_queue_run", "io_queue_run@@LIBAIO_0.1";
    calls::io_pgetevents => "__aio_libaio_io_pgetevents", "io_pgetevents@@LIBAIO_0.5";
}
