//! The firmware model's state-file parser: raw bytes, and the input framed with a correct
//! header and checksum so the records behind the checksum are reached (a parsed file
//! re-encodes to one that parses).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sev::model::fuzzing::state_file(data, data);
});
