//! `loadgen setup`: everything the broker and the load generator share, in
//! one directory: the IdP signing key and certificate, the IdP metadata the
//! broker pins, and a broker configuration that never calls AWS.

use anyhow::Context;
use base64::Engine;
use saml_broker::devidp::keys::idp_metadata;
use saml_broker::devidp::SigningKey;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const IDP_ENTITY: &str = "https://adfs.example.com/adfs/services/trust";
pub const IDP_SSO: &str = "https://adfs.example.com/adfs/ls/";

#[derive(clap::Args)]
pub struct SetupArgs {
    /// Directory to write into (created if missing; must not hold a previous setup).
    #[arg(long)]
    pub dir: PathBuf,
    /// storage.url of the broker: sqlite://FILE (relative to DIR) or postgres://USER@HOST/DB.
    #[arg(long, default_value = "sqlite://broker.db")]
    pub storage_url: String,
    /// Where the broker listens; its public URL is http://LISTEN.
    #[arg(long, default_value = "127.0.0.1:18080")]
    pub listen: String,
}

/// What `run` and `check` read back from DIR/loadgen.json.
pub struct Settings {
    pub public_url: String,
    pub acs_url: String,
    pub sp_entity_id: String,
    pub idp_entity_id: String,
    pub storage_url: String,
}

impl Settings {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = crate::settings_path(dir);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {} (run `loadgen setup` first)", path.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let field = |name: &str| -> anyhow::Result<String> {
            v.get(name)
                .and_then(|x| x.as_str())
                .map(str::to_string)
                .with_context(|| format!("{}: no string field {name:?}", path.display()))
        };
        Ok(Self {
            public_url: field("public_url")?,
            acs_url: field("acs_url")?,
            sp_entity_id: field("sp_entity_id")?,
            idp_entity_id: field("idp_entity_id")?,
            storage_url: field("storage_url")?,
        })
    }
}

pub fn setup(a: &SetupArgs) -> anyhow::Result<()> {
    let listen: std::net::SocketAddr = a.listen.parse().with_context(|| {
        format!(
            "--listen {:?} is not an address like 127.0.0.1:18080",
            a.listen
        )
    })?;
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let dir = a
        .dir
        .canonicalize()
        .with_context(|| format!("resolving {}", a.dir.display()))?;
    let key_path = dir.join(crate::KEY_FILE);
    anyhow::ensure!(
        !key_path.exists(),
        "{} already exists: use a fresh directory, so that the audit trail holds only this setup's logins",
        key_path.display()
    );
    let key = SigningKey::generate("loadgen idp").context("generating the IdP key")?;
    write_private(&key_path, key.key_pem()?.as_bytes())?;
    std::fs::write(dir.join(crate::CERT_FILE), key.cert_pem()?)?;
    std::fs::write(
        dir.join(crate::METADATA_FILE),
        idp_metadata(IDP_ENTITY, IDP_SSO, &[key.cert_base64()?]),
    )?;

    let public_url = format!("http://{listen}");
    let config = broker_toml(
        &listen.to_string(),
        &public_url,
        &a.storage_url,
        &session_key()?,
    );
    write_private(&dir.join(crate::CONFIG_FILE), config.as_bytes())?;
    let settings = serde_json::json!({
        "public_url": public_url,
        "acs_url": format!("{public_url}/saml/acs"),
        "sp_entity_id": format!("{public_url}/saml/metadata"),
        "idp_entity_id": IDP_ENTITY,
        "storage_url": a.storage_url,
    });
    std::fs::write(
        crate::settings_path(&dir),
        serde_json::to_string_pretty(&settings)? + "\n",
    )?;

    let config_path = dir.join(crate::CONFIG_FILE);
    println!("wrote {}", dir.display());
    println!(
        "  {}, {}: the IdP signing key (RSA 2048) and its certificate",
        crate::KEY_FILE,
        crate::CERT_FILE
    );
    println!(
        "  {}: the IdP metadata the broker pins",
        crate::METADATA_FILE
    );
    println!(
        "  {}: the broker configuration (storage {})",
        crate::CONFIG_FILE,
        a.storage_url
    );
    println!("start the broker (pinned to core 0) with:");
    println!(
        "  taskset -c 0 {} serve --config {}",
        crate::check::default_broker_bin().display(),
        config_path.display()
    );
    Ok(())
}

/// A broker configuration for the storm:
///
/// - IdP-initiated responses are accepted (the generator has no AuthnRequest
///   to answer);
/// - every login carries three roles, so the ACS answers 303 to the role
///   picker and never calls AWS. The AWS endpoint is a closed loopback port
///   anyway, so a stray exchange fails locally instead of reaching AWS;
/// - the per-address rate limit is lifted: all the load comes from 127.0.0.1.
fn broker_toml(listen: &str, public_url: &str, storage_url: &str, session_key: &str) -> String {
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    format!(
        r#"# Written by `loadgen setup`: a benchmark broker, not a deployment.
[server]
listen = {listen}
public_url = {public_url}

[idp]
metadata_file = "{metadata}"
allow_idp_initiated = true

[aws]
mode = "sts-saml"
endpoint_url = "http://127.0.0.1:9"
timeout_seconds = 2
max_attempts = 1

[storage]
url = {storage_url}

[session]
key = {session_key}

[limits]
requests_per_minute = 1000000000
"#,
        listen = q(listen),
        public_url = q(public_url),
        metadata = crate::METADATA_FILE,
        storage_url = q(storage_url),
        session_key = q(session_key),
    )
}

/// A fresh 32-byte session key, base64 (what `openssl rand -base64 32` gives).
fn session_key() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for the session key")?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}
