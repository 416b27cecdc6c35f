//! Tests of the boundary's own helpers.

use super::*;

#[test]
fn two_buffers_short_writes_both_sizes_and_nothing_else() {
    let a = [1u8; 10];
    let b = [2u8; 20];
    let mut ba = [0u8; 10];
    let mut bb = [0u8; 19];
    let (mut na, mut nb) = (0usize, 0usize);
    let out = |buf: &mut [u8], n: &mut usize, name| {
        // SAFETY: live local buffers.
        unsafe { Out::new(buf.as_mut_ptr(), buf.len(), n, (name, "n")) }.unwrap()
    };
    let e = put_two(
        out(&mut ba, &mut na, "a"),
        &a,
        out(&mut bb, &mut nb, "b"),
        &b,
    )
    .unwrap_err();
    assert_eq!(e.status, Status::LIBSEV_STATUS_BUFFER_TOO_SMALL);
    assert_eq!((na, nb), (10, 20));
    assert_eq!(ba, [0; 10], "the long-enough buffer is not written either");
    assert!(
        e.message.contains("b needs 20 bytes, 19 given"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("a needs"), "{}", e.message);
    let mut bb = [0u8; 20];
    put_two(
        out(&mut ba, &mut na, "a"),
        &a,
        out(&mut bb, &mut nb, "b"),
        &b,
    )
    .unwrap();
    assert_eq!((ba, bb), (a, b));
}

#[test]
fn null_and_impossible_inputs() {
    // SAFETY: NULL and impossible lengths are refused before any access.
    unsafe {
        assert!(input(std::ptr::null(), 0, "x").unwrap().is_empty());
        let e = input(std::ptr::null(), 5, "x").unwrap_err();
        assert_eq!(e.status, Status::LIBSEV_STATUS_NULL_ARGUMENT);
        let e = input(8 as *const u8, usize::MAX, "x").unwrap_err();
        assert_eq!(e.status, Status::LIBSEV_STATUS_INVALID_LENGTH);
        let e = required_input(std::ptr::null(), 0, "y").unwrap_err();
        assert_eq!(e.status, Status::LIBSEV_STATUS_NULL_ARGUMENT);
        assert_eq!(optional_input(std::ptr::null(), 0, "z").unwrap(), None);
        let mut n = 7usize;
        let e = Out::new(std::ptr::null_mut(), 0, &mut n, ("buf", "out_len"))
            .unwrap()
            .put(&[1, 2, 3])
            .unwrap_err();
        assert_eq!(n, 3);
        assert!(
            e.message.contains("buf needs 3 bytes, NULL given"),
            "{}",
            e.message
        );
        assert!(Out::new(std::ptr::null_mut(), 0, std::ptr::null_mut(), ("b", "n")).is_err());
    }
}

#[test]
fn last_error_text_lives_per_reading_thread() {
    let l = Arc::new(LastError::default());
    assert_eq!(l.ptr_for_this_thread(), c"".as_ptr());
    l.set("first");
    let p = l.ptr_for_this_thread();
    // Failures on another thread replace the message but not this thread's copy.
    let l2 = l.clone();
    std::thread::spawn(move || {
        for i in 0..100 {
            l2.set(&format!("failure {i}"));
            let _ = l2.ptr_for_this_thread();
        }
    })
    .join()
    .unwrap();
    // SAFETY: the copy this thread holds is alive until it asks again.
    assert_eq!(unsafe { CStr::from_ptr(p) }, c"first");
    let q = l.ptr_for_this_thread();
    // SAFETY: as above, for the new copy.
    assert_eq!(unsafe { CStr::from_ptr(q) }, c"failure 99");
}
