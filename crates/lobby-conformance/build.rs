//! Generates the list of conformance cases from `src/cases/*.rs`, so the macro that turns them
//! into tests cannot drift from the cases: every `pub fn` there is a case, and must have the
//! case signature `pub fn name<S: Store…>(make: MakeStore<S>)`.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new("src/cases");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut modules: Vec<_> = std::fs::read_dir(dir)
        .expect("src/cases exists")
        .map(|entry| entry.expect("readable src/cases").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs") && !path.ends_with("mod.rs"))
        .collect();
    modules.sort();
    let mut cases = Vec::new();
    for path in &modules {
        println!("cargo:rerun-if-changed={}", path.display());
        let module = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(path).expect("readable case file");
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("pub fn ") else { continue };
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !rest.contains("(make: MakeStore<S>)") {
                panic!(
                    "src/cases/{module}.rs: `pub fn {name}` is not a conformance case; every pub fn there is one \
                     and must read `pub fn {name}<S: Store…>(make: MakeStore<S>)` on one line (make helpers private)"
                );
            }
            cases.push((module.clone(), name));
        }
    }
    let mut out = String::new();
    out.push_str(
        "/// Calls this crate's macro `$callback!` with every case as `module::function`, in file and source order.\n",
    );
    out.push_str("#[doc(hidden)]\n#[macro_export]\nmacro_rules! __for_each_case {\n");
    out.push_str("    ($callback:ident; $($args:tt)*) => {\n        $crate::$callback! { $($args)*;");
    for (module, name) in &cases {
        write!(out, " {module}::{name},").unwrap();
    }
    out.push_str(" }\n    };\n}\n");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out_dir).join("cases.rs"), out).expect("write the case list");
}
