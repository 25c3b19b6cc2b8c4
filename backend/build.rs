//! Embeds the browser app (frontend/dist, built by `npm run build` in
//! frontend/) with content-hashed asset names for cache busting. When the app
//! has not been built, the broker still builds and says so at /app/.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("frontend_assets.rs");
    let mut code = String::new();
    let files = ["index.html", "app.js", "app.css"];
    let present = files.iter().all(|f| dist.join(f).is_file());
    for f in files {
        println!("cargo:rerun-if-changed={}", dist.join(f).display());
    }
    if !present {
        code.push_str("pub const AVAILABLE: bool = false;\npub const INDEX_HTML: &str = \"\";\npub const ASSETS: &[(&str, &str, &[u8])] = &[];\n");
    } else {
        let mut index = std::fs::read_to_string(dist.join("index.html")).unwrap_or_default();
        let mut assets = String::new();
        for (file, ctype) in [
            ("app.js", "text/javascript; charset=utf-8"),
            ("app.css", "text/css; charset=utf-8"),
        ] {
            let bytes = std::fs::read(dist.join(file)).unwrap_or_default();
            let hash = hex(&Sha256::digest(&bytes)[..8]);
            let (stem, ext) = file.split_once('.').unwrap_or((file, ""));
            let hashed = format!("{stem}-{hash}.{ext}");
            index = index.replace(
                &format!("/app/assets/{file}"),
                &format!("/app/assets/{hashed}"),
            );
            let _ = writeln!(
                assets,
                "    ({hashed:?}, {ctype:?}, include_bytes!({:?})),",
                dist.join(file)
                    .canonicalize()
                    .unwrap_or_default()
                    .display()
                    .to_string()
            );
        }
        let _ = write!(
            code,
            "pub const AVAILABLE: bool = true;\npub const INDEX_HTML: &str = {index:?};\npub const ASSETS: &[(&str, &str, &[u8])] = &[\n{assets}];\n"
        );
    }
    if let Err(e) = std::fs::write(&out, code) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
