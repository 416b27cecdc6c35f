//! SEV-SNP attestation report and extended-report certificate table parsing with arbitrary
//! bytes. First byte: 0 = report, 1 = certificate table. Parsing only (no signatures).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::certs::snp::SnpGeneration;
use sev::owner::snp::certtable;
use sev::owner::snp::report::{REPORT_LEN, Report};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 0 {
        // Pad short inputs so that most runs reach the field checks.
        let mut b = rest.to_vec();
        if sel & 2 != 0 && b.len() < REPORT_LEN {
            b.resize(REPORT_LEN, 0);
        }
        if let Ok(r) = Report::parse(&b) {
            assert_eq!(r.as_bytes().as_slice(), b.as_slice());
            assert!((2..=5).contains(&r.version));
            let _ = r.generation();
            for g in SnpGeneration::ALL {
                let _ = Report::tcb(r.reported_tcb, g);
                assert_eq!(r.chip_id_for(g).len(), g.chip_id_len());
            }
        }
    } else if let Ok(entries) = certtable::parse(rest) {
        // Round trip: a parsed table rebuilt parses to the same entries.
        let refs: Vec<_> = entries.iter().map(|(k, b)| (*k, b.as_slice())).collect();
        let again = certtable::parse(&certtable::build(&refs)).expect("rebuilt table parses");
        assert_eq!(again, entries);
    }
});
