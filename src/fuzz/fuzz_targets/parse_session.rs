//! The firmware model's session-blob parser (LAUNCH_START / RECEIVE_START) under fixed session
//! keys, without the ECDH in front of it: arbitrary blobs, and sealed blobs with one changed
//! byte (accepted exactly when unchanged).
//! Input: policy u32 ‖ tek ‖ tik (32) ‖ flip offset u8 ‖ flip xor u8 ‖ blob.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 38 {
        return;
    }
    let policy = u32::from_le_bytes(data[..4].try_into().unwrap());
    let tk: [u8; 32] = data[4..36].try_into().unwrap();
    let flip = Some((data[36] as usize, data[37]));
    sev::model::fuzzing::session_blob(&data[38..], &tk, policy, flip);
});
