//! Certificate-chain parsing only (no signature is checked): the whole-chain, SEV-chain and
//! parts entry points, and the serialisation of what parsed. First byte selects the entry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::certs::chain::Chain;

const SEV: usize = 0x824;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let c = match sel % 3 {
        0 => Chain::from_full(rest),
        1 => {
            let (sev_part, amd) = rest.split_at(rest.len().min(4 * SEV));
            Chain::from_sev_chain(sev_part, amd)
        }
        _ => {
            let (pdh, more) = rest.split_at(rest.len().min(SEV));
            let (plat, amd) = more.split_at(more.len().min(3 * SEV));
            Chain::from_parts(pdh, plat, amd)
        }
    };
    if let Ok(c) = c {
        let again = Chain::from_full(&c.to_bytes());
        assert!(again.is_ok(), "a parsed chain serialises to a parsable one");
    }
});
