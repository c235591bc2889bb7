//! `aio_sys::Errno`: the target's numbers (from linux-raw-sys, so MIPS and PowerPC differ), its
//! names and messages, and lossless conversions with `rustix::io::Errno`.

use aio_sys::Errno;
use linux_raw_sys::errno;

#[test]
fn constants_are_this_targets_numbers() {
    for (ours, kernel, name) in [
        (Errno::AGAIN, errno::EAGAIN, "EAGAIN"),
        (Errno::INVAL, errno::EINVAL, "EINVAL"),
        (Errno::NOSYS, errno::ENOSYS, "ENOSYS"),
        (Errno::CANCELED, errno::ECANCELED, "ECANCELED"),
        (Errno::INPROGRESS, errno::EINPROGRESS, "EINPROGRESS"),
        (Errno::OPNOTSUPP, errno::EOPNOTSUPP, "EOPNOTSUPP"),
        (Errno::DEADLOCK, errno::EDEADLOCK, "EDEADLOCK"),
    ] {
        assert_eq!(ours.raw_os_error(), kernel as i32, "{name}");
        // EDEADLOCK is EDEADLK's number outside MIPS and PowerPC; the first name is given.
        if name != "EDEADLOCK" || errno::EDEADLOCK != errno::EDEADLK {
            assert_eq!(ours.name(), Some(name));
        }
    }
    assert_eq!(Errno::WOULDBLOCK, Errno::AGAIN);
    assert_eq!(Errno::NOTSUP, Errno::OPNOTSUPP);
}

#[test]
fn only_1_to_4095_are_errors() {
    assert_eq!(Errno::from_raw_os_error(0), None);
    assert_eq!(Errno::from_raw_os_error(-1), None);
    assert_eq!(Errno::from_raw_os_error(4096), None);
    assert_eq!(Errno::from_raw_os_error(i32::MIN), None);
    assert_eq!(
        Errno::from_raw_os_error(4095).map(Errno::raw_os_error),
        Some(4095)
    );
}

#[test]
fn display_and_debug_name_the_error() {
    let text = Errno::BADF.to_string();
    assert_eq!(
        text,
        format!("Bad file descriptor (EBADF, os error {})", errno::EBADF)
    );
    assert_eq!(format!("{:?}", Errno::BADF), "Errno(EBADF)");
    let unnamed = Errno::from_raw_os_error(4000).unwrap();
    assert_eq!(unnamed.name(), None);
    assert_eq!(unnamed.to_string(), "unknown error (os error 4000)");
    assert_eq!(format!("{unnamed:?}"), "Errno(4000)");
}

#[cfg(feature = "rustix")]
#[test]
fn rustix_conversions_are_lossless() {
    for raw in 1..=Errno::MAX {
        let ours = Errno::from_raw_os_error(raw).unwrap();
        let theirs = rustix::io::Errno::from(ours);
        assert_eq!(theirs.raw_os_error(), raw);
        assert_eq!(Errno::from(theirs), ours);
    }
    assert_eq!(
        rustix::io::Errno::from(Errno::AGAIN),
        rustix::io::Errno::AGAIN
    );
}
