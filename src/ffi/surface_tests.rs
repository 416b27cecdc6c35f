//! No function of the crate's public safe API takes a raw pointer it could dereference: every
//! `pub` (unrestricted) function with a raw-pointer parameter, or a parameter of a C struct
//! holding raw pointers, is `unsafe`, except the few listed here with the reason they never
//! dereference it. The helpers that turn a C caller's pointers into references live in the
//! crate-private `ffi::boundary` and are `pub(crate)` (an unrestricted `pub fn` there would
//! be caught here too). Clippy's `not_unsafe_ptr_arg_deref` (not allowed anywhere) guards the
//! same rule from the other side.

use std::path::{Path, PathBuf};

/// Safe public functions that take a pointer without ever dereferencing it.
const NEVER_DEREFERENCED: &[(&str, &str)] = &[
    (
        "libsev_set_log_callback",
        "`user` is only handed back to the caller's own callback",
    ),
    (
        "set_c_callback",
        "`user` is only handed back to the caller's own callback",
    ),
    (
        "unregister_region",
        "the address is only compared with registered regions (by KVM or the model)",
    ),
];

/// Parameter types that carry raw pointers inside.
const POINTER_STRUCTS: &[&str] = &["libsev_model_config"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            // Test programs, benchmarks and fuzz targets are not part of the library.
            if !matches!(name.as_str(), "tests" | "benches" | "fuzz" | "testroot") {
                sources(&p, out);
            }
        } else if name.ends_with(".rs") && !name.ends_with("tests.rs") {
            out.push(p);
        }
    }
}

/// `(name, is_unsafe, parameters)` of every unrestricted `pub fn` in `text`.
fn public_fns(text: &str) -> Vec<(String, bool, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("pub ") {
        let at_line_start = rest[..i]
            .rsplit('\n')
            .next()
            .is_some_and(|l| l.trim().is_empty());
        let item = &rest[i + 4..];
        rest = item;
        if !at_line_start {
            continue;
        }
        let Some(fn_at) = item.find("fn ") else { break };
        let quals = &item[..fn_at];
        // Only qualifiers may sit between `pub` and `fn` (`const`, `unsafe`, `extern "C"`).
        if !quals
            .split_whitespace()
            .all(|w| matches!(w, "const" | "unsafe" | "extern" | "\"C\""))
        {
            continue;
        }
        let sig = &item[fn_at + 3..];
        let name: String = sig
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let end = sig.find(['{', ';']).unwrap_or(sig.len());
        let params = match (sig.find('('), sig[..end].rfind(')')) {
            (Some(a), Some(b)) if a < b => sig[a..=b].to_owned(),
            _ => String::new(),
        };
        out.push((name, quals.contains("unsafe"), params));
    }
    out
}

#[test]
fn no_public_safe_function_takes_a_pointer_it_could_dereference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 20, "found only {} source files", files.len());
    let mut seen_exports = 0;
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (name, is_unsafe, params) in public_fns(&text) {
            seen_exports += name.starts_with("libsev_") as usize;
            let pointer = params.contains("*const ")
                || params.contains("*mut ")
                || POINTER_STRUCTS.iter().any(|t| params.contains(t));
            let allowed = NEVER_DEREFERENCED.iter().any(|(n, _)| *n == name);
            if pointer && !is_unsafe && !allowed {
                bad.push(format!("{}: pub fn {name}{params}", f.display()));
            }
        }
    }
    assert!(
        seen_exports > 50,
        "the scan found only {seen_exports} exports"
    );
    assert!(
        bad.is_empty(),
        "public safe functions taking raw pointers (make them `unsafe`, or `pub(crate)` and \
         `unsafe` in ffi::boundary):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_scan_sees_what_it_must_refuse() {
    let text = "pub fn bad(p: *const u8) {}\n    pub unsafe fn ok(p: *mut u8) {}\n\
                pub(crate) fn private(p: *const u8) {}\n\
                pub extern \"C\" fn libsev_x(c: *const libsev_model_config) -> u32 { 0 }\n";
    let fns = public_fns(text);
    let names: Vec<_> = fns.iter().map(|f| (f.0.as_str(), f.1)).collect();
    assert_eq!(names, [("bad", false), ("ok", true), ("libsev_x", false)]);
    assert!(fns[2].2.contains("libsev_model_config"));
}
