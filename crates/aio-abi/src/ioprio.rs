//! I/O priority values for [`iocb::aio_reqprio`](crate::iocb::aio_reqprio)
//! (`include/uapi/linux/ioprio.h`), applied when `IOCB_FLAG_IOPRIO` is set.

/// Bit position of the class in a priority value (`IOPRIO_CLASS_SHIFT`).
pub const IOPRIO_CLASS_SHIFT: u32 = 13;
/// Mask of the level and hint bits below the class (`IOPRIO_PRIO_MASK`).
pub const IOPRIO_PRIO_MASK: u16 = (1 << IOPRIO_CLASS_SHIFT) - 1;
/// Number of levels in the real-time and best-effort classes (`IOPRIO_BE_NR`): 0 (highest)
/// through 7.
pub const IOPRIO_BE_NR: u8 = 8;

/// An I/O scheduling class (`IOPRIO_CLASS_*`).
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoprioClass {
    /// `IOPRIO_CLASS_NONE`: derived from the CPU nice value.
    None = 0,
    /// `IOPRIO_CLASS_RT`: real time (needs `CAP_SYS_ADMIN` or `CAP_SYS_NICE`, else `EPERM`).
    Rt = 1,
    /// `IOPRIO_CLASS_BE`: best effort, the default.
    Be = 2,
    /// `IOPRIO_CLASS_IDLE`: only when nobody else uses the disk; the level is ignored.
    Idle = 3,
}

/// `IOPRIO_PRIO_VALUE(class, level)` for `aio_reqprio`, or `None` if `level` is not below
/// [`IOPRIO_BE_NR`].
pub const fn ioprio_value(class: IoprioClass, level: u8) -> Option<i16> {
    if level >= IOPRIO_BE_NR {
        return None;
    }
    Some((((class as u16) << IOPRIO_CLASS_SHIFT) | level as u16) as i16)
}

/// The class bits of a priority value (`IOPRIO_PRIO_CLASS`), as a raw number (0..=7).
pub const fn ioprio_class(prio: i16) -> u16 {
    (prio as u16) >> IOPRIO_CLASS_SHIFT
}

/// The level bits of a priority value (`IOPRIO_PRIO_LEVEL`, the low 3 bits).
pub const fn ioprio_level(prio: i16) -> u16 {
    (prio as u16) & 0x7
}
