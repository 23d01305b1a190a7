//! Object storage (`s3://`, `gs://`, `az://`) as inputs, outputs and report targets, through
//! Apache Arrow's `object_store` crate (feature `object-store`).
//!
//! The batch machinery (selection, naming, collisions, shards, `--skip-existing`) works on
//! local paths, so a remote prefix is *mirrored* for planning: its listing becomes a staging
//! folder of sparse files of the listed sizes (no byte is downloaded), and the existing objects
//! under a remote output prefix become empty placeholder files. The plan made over the
//! staging folders is then rewritten to the remote names (`s3://bucket/key`), which the read
//! and write stages recognise through [`is_remote`]: a read is one GET, bounded by the size
//! the listing gave (checked again on the response's size before any body byte is taken); a
//! write is one PUT of the whole output, so an object is whole or absent.
//!
//! Credentials and endpoints come from the standard variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_SESSION_TOKEN`,
//! `GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, ...),
//! read by the `object_store` builders; a plain `http://` endpoint is allowed (a local
//! S3-compatible server). Transient errors are retried by `object_store` with exponential
//! backoff, bounded by [`RETRY_TIMEOUT`] per request.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload, RetryConfig};

/// The URL schemes read as object storage.
pub const SCHEMES: [&str; 3] = ["s3://", "gs://", "az://"];

/// How long one request may keep being retried (backoff from 100 ms, doubling) before its
/// file fails. `GRAYPIPE_RETRY_SECONDS` overrides it (0 to 600).
pub const RETRY_TIMEOUT: Duration = Duration::from_secs(20);

/// Most retries of one request.
const MAX_RETRIES: usize = 5;

/// Whether `p` names object storage (`s3://`, `gs://`, `az://`).
pub fn is_remote(p: &OsStr) -> bool {
    p.to_str()
        .is_some_and(|s| SCHEMES.iter().any(|scheme| s.starts_with(scheme)))
}

/// One bucket (container) and a key prefix in it.
#[derive(Clone)]
pub struct Location {
    /// The URL as given, without a trailing `/`.
    pub url: String,
    /// `scheme://bucket`.
    base: String,
    /// The client for the bucket.
    store: Arc<dyn ObjectStore>,
    /// The key (prefix) inside the bucket; empty for the whole bucket.
    key: ObjectPath,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("graypipe-storage")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the object storage client: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn retry_config() -> RetryConfig {
    let seconds = std::env::var("GRAYPIPE_RETRY_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|s| *s <= 600);
    RetryConfig {
        max_retries: MAX_RETRIES,
        retry_timeout: seconds.map_or(RETRY_TIMEOUT, Duration::from_secs),
        ..RetryConfig::default()
    }
}

fn client_options() -> object_store::ClientOptions {
    object_store::ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(60))
}

/// Stores already built, by `scheme://bucket`: one client (connection pool) per bucket.
fn stores() -> &'static RwLock<HashMap<String, Arc<dyn ObjectStore>>> {
    static STORES: OnceLock<RwLock<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    STORES.get_or_init(Default::default)
}

fn build_store(scheme: &str, base: &str) -> Result<Arc<dyn ObjectStore>, String> {
    let err = |e: object_store::Error| format!("{base}: {}", reason(&e));
    Ok(match scheme {
        "s3" => {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_url(base)
                .with_retry(retry_config())
                .with_client_options(client_options());
            // A local S3-compatible server is reached over plain HTTP.
            let endpoint = std::env::var("AWS_ENDPOINT_URL")
                .or_else(|_| std::env::var("AWS_ENDPOINT"))
                .unwrap_or_default();
            if endpoint.starts_with("http://") {
                b = b.with_allow_http(true);
            }
            Arc::new(b.build().map_err(err)?)
        }
        "gs" => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(base)
                .with_retry(retry_config())
                .with_client_options(client_options())
                .build()
                .map_err(err)?,
        ),
        _ => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(base)
                .with_retry(retry_config())
                .with_client_options(client_options())
                .build()
                .map_err(err)?,
        ),
    })
}

impl Location {
    /// Parses `scheme://bucket/prefix` and finds (or builds) the bucket's client.
    pub fn parse(url: &str) -> Result<Location, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url}: not an object storage URL"))?;
        if !matches!(scheme, "s3" | "gs" | "az") {
            return Err(format!("{url}: unknown scheme (s3://, gs:// or az://)"));
        }
        let rest = rest.trim_end_matches('/');
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{url}: no bucket named"));
        }
        let key = ObjectPath::parse(key).map_err(|e| format!("{url}: {e}"))?;
        let base = format!("{scheme}://{bucket}");
        let cached = stores()
            .read()
            .ok()
            .and_then(|s| s.get(&base).map(Arc::clone));
        let store = match cached {
            Some(s) => s,
            None => {
                let s = build_store(scheme, &base)?;
                if let Ok(mut all) = stores().write() {
                    all.insert(base.clone(), Arc::clone(&s));
                }
                s
            }
        };
        let url = if key.as_ref().is_empty() {
            base.clone()
        } else {
            format!("{base}/{key}")
        };
        Ok(Location {
            url,
            base,
            store,
            key,
        })
    }

    /// Every object below this prefix: (key relative to the prefix, size). Folder markers
    /// (keys ending in `/`) are left out.
    pub fn list(&self) -> Result<Vec<(String, u64)>, String> {
        use futures_util::TryStreamExt;
        let rt = runtime()?;
        let prefix = (!self.key.as_ref().is_empty()).then_some(&self.key);
        let metas: Vec<object_store::ObjectMeta> = guarded(&self.base, || {
            rt.block_on(self.store.list(prefix).try_collect())
        })?;
        let mut out: Vec<(String, u64)> = metas
            .into_iter()
            .filter_map(|m| {
                let rel = match prefix {
                    Some(p) => m
                        .location
                        .prefix_match(p)?
                        .map(|part| part.as_ref().to_string())
                        .collect::<Vec<_>>()
                        .join("/"),
                    None => m.location.as_ref().to_string(),
                };
                (!rel.is_empty() && !rel.ends_with('/')).then_some((rel, m.size))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// The size of the object at exactly this key, if there is one.
    pub fn head(&self) -> Result<Option<u64>, String> {
        let rt = runtime()?;
        let found = guarded(&self.base, || {
            match rt.block_on(self.store.head(&self.key)) {
                Ok(m) => Ok(Some(m.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        Ok(found)
    }

    /// Writes `bytes` as the object at this key: one PUT (the object is whole or absent).
    pub fn put(&self, bytes: &[u8]) -> Result<(), String> {
        let rt = runtime()?;
        let payload = PutPayload::from(bytes.to_vec());
        guarded(&self.base, || {
            rt.block_on(self.store.put(&self.key, payload))
        })
        .map(|_| ())
    }

    /// Reads the object at this key: one GET, refused (before any body byte is taken) when the
    /// object is larger than `max_bytes`; `admit` is asked for the size first and may refuse
    /// (`Ok(None)`).
    pub fn get(
        &self,
        max_bytes: u64,
        admit: &mut dyn FnMut(u64) -> bool,
        listed_size: Option<u64>,
    ) -> Result<Option<Vec<u8>>, RemoteReadError> {
        let rt = runtime().map_err(RemoteReadError::Failed)?;
        if let Some(size) = listed_size {
            if size > max_bytes {
                return Err(RemoteReadError::TooLarge { size });
            }
            if !admit(size) {
                return Ok(None);
            }
        }
        let result = guarded(&self.base, || rt.block_on(self.store.get(&self.key)))
            .map_err(RemoteReadError::Failed)?;
        let size = result.meta.size;
        if size > max_bytes {
            return Err(RemoteReadError::TooLarge { size });
        }
        if listed_size.is_none() && !admit(size) {
            return Ok(None);
        }
        let bytes =
            guarded(&self.base, || rt.block_on(result.bytes())).map_err(RemoteReadError::Failed)?;
        if bytes.len() as u64 > max_bytes {
            return Err(RemoteReadError::TooLarge {
                size: bytes.len() as u64,
            });
        }
        Ok(Some(bytes.to_vec()))
    }

    /// This location with `rel` (`/`-separated) appended.
    pub fn join(&self, rel: &str) -> Result<Location, String> {
        if self.key.as_ref().is_empty() {
            Location::parse(&format!("{}/{rel}", self.base))
        } else {
            Location::parse(&format!("{}/{}/{rel}", self.base, self.key))
        }
    }
}

/// Why a remote read failed.
#[derive(Debug)]
pub enum RemoteReadError {
    /// The object is larger than the read limit.
    TooLarge {
        /// Its size.
        size: u64,
    },
    /// The request failed (after retries): the words say why.
    Failed(String),
}

/// One line for an `object_store` error: what failed and why, without the request dump
/// (an S3 error document is cut down to its code and message).
fn reason(e: &object_store::Error) -> String {
    use std::error::Error;
    match e {
        object_store::Error::NotFound { .. } => return "no such object or bucket".into(),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => return DENIED.into(),
        _ => {}
    }
    let text = e.to_string().replace('\n', " ");
    let between = |open: &str, close: &str| {
        let start = text.find(open)? + open.len();
        let len = text[start..].find(close)?;
        Some(text[start..start + len].to_string())
    };
    if let Some(code) = between("<Code>", "</Code>") {
        let message = between("<Message>", "</Message>").unwrap_or_default();
        return match code.as_str() {
            "NoSuchBucket" => format!("no such bucket ({message})"),
            "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
                format!("{DENIED} ({code}: {message})")
            }
            _ => format!("{code}: {message}"),
        };
    }
    // The innermost cause says what really happened (connection refused, DNS, timeout).
    let mut source = e.source();
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    let retried = between("after ", " retries").map(|n| format!(" after {n} retries"));
    match last {
        Some(cause) => format!(
            "request failed{}: {}",
            retried.unwrap_or_default(),
            cause.replace('\n', " ")
        ),
        None => text,
    }
}

const DENIED: &str = "access denied (check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the GCS/Azure equivalents)";

/// Whether an error means the server could not be reached at all (as opposed to an answer).
fn unreachable(e: &object_store::Error) -> bool {
    let text = format!("{e:?}").to_ascii_lowercase();
    [
        "connection refused",
        "error sending request",
        "timed out",
        "dns error",
        "connection reset",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// How long a server found unreachable is not asked again: the files meanwhile fail at once,
/// instead of each waiting out its own retries (a lost server fails the rest of the batch in
/// seconds; a resume finishes it).
const UNREACHABLE_FOR: Duration = Duration::from_secs(10);

/// Buckets (`scheme://bucket`) whose server was unreachable, when and why.
fn down() -> &'static RwLock<HashMap<String, (std::time::Instant, String)>> {
    static DOWN: OnceLock<RwLock<HashMap<String, (std::time::Instant, String)>>> = OnceLock::new();
    DOWN.get_or_init(Default::default)
}

/// Runs one request against `base`, unless its server was found unreachable moments ago.
fn guarded<T>(
    base: &str,
    request: impl FnOnce() -> Result<T, object_store::Error>,
) -> Result<T, String> {
    if let Some((when, why)) = down().read().ok().and_then(|d| d.get(base).cloned()) {
        if when.elapsed() < UNREACHABLE_FOR {
            return Err(format!(
                "not tried: the server of {base} was unreachable moments ago ({why})"
            ));
        }
    }
    match request() {
        Ok(v) => {
            if let Ok(mut d) = down().write() {
                d.remove(base);
            }
            Ok(v)
        }
        Err(e) => {
            let why = reason(&e);
            if unreachable(&e) {
                if let Ok(mut d) = down().write() {
                    d.insert(base.to_string(), (std::time::Instant::now(), why.clone()));
                }
            }
            Err(why)
        }
    }
}

/// Sizes of the objects this process listed, by URL: a read knows its size before the GET.
fn listed_sizes() -> &'static RwLock<HashMap<String, u64>> {
    static SIZES: OnceLock<RwLock<HashMap<String, u64>>> = OnceLock::new();
    SIZES.get_or_init(Default::default)
}

/// Reads the object `url` names (see [`Location::get`]).
pub fn read(
    url: &OsStr,
    max_bytes: u64,
    admit: &mut dyn FnMut(u64) -> bool,
) -> Result<Option<Vec<u8>>, RemoteReadError> {
    let url = url
        .to_str()
        .ok_or_else(|| RemoteReadError::Failed("URL is not UTF-8".into()))?;
    let loc = Location::parse(url).map_err(RemoteReadError::Failed)?;
    let listed = listed_sizes()
        .read()
        .ok()
        .and_then(|m| m.get(&loc.url).copied());
    loc.get(max_bytes, admit, listed)
}

/// Writes `bytes` as the object `url` names: one PUT.
pub fn write(url: &OsStr, bytes: &[u8]) -> Result<u64, String> {
    let url = url.to_str().ok_or("URL is not UTF-8")?;
    Location::parse(url)?.put(bytes)?;
    Ok(bytes.len() as u64)
}

/// A remote input or output mirrored into a local staging folder for planning.
#[derive(Debug)]
struct Mirror {
    /// The staging folder (or file) standing for it.
    local: PathBuf,
    /// The URL it stands for.
    url: String,
}

/// The staging folders of one run's remote inputs and output; removed when dropped.
#[derive(Debug)]
pub struct Staging {
    dir: tempfile::TempDir,
    mirrors: Vec<Mirror>,
    /// The inputs to plan with: local ones as given, remote ones as their staging folders.
    pub inputs: Vec<PathBuf>,
    /// The output folder to plan with.
    pub output: PathBuf,
    /// Remote inputs that could not be listed: (URL, reason).
    pub errors: Vec<(PathBuf, String)>,
}

/// Whether any input or the output is remote.
pub fn any_remote(inputs: &[PathBuf], output: &Path) -> bool {
    is_remote(output.as_os_str()) || inputs.iter().any(|p| is_remote(p.as_os_str()))
}

fn sparse_file(path: &Path, size: u64) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::File::create(path)?.set_len(size)
}

/// A relative object key as a safe relative path (no `..`, no absolute part).
fn safe_relative(rel: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return None;
        }
        out.push(part);
    }
    Some(out)
}

impl Staging {
    /// Lists every remote input (and, when `list_output`, the remote output's existing
    /// objects) into a fresh staging folder.
    pub fn prepare(
        inputs: &[PathBuf],
        output: &Path,
        list_output: bool,
    ) -> Result<Staging, String> {
        let dir = tempfile::Builder::new()
            .prefix("graypipe-remote-")
            .tempdir()
            .map_err(|e| format!("cannot make a staging folder: {e}"))?;
        let mut staging = Staging {
            output: output.to_path_buf(),
            inputs: Vec::with_capacity(inputs.len()),
            mirrors: Vec::new(),
            errors: Vec::new(),
            dir,
        };
        let io = |e: std::io::Error| format!("cannot write the staging folder: {e}");
        for (n, input) in inputs.iter().enumerate() {
            if !is_remote(input.as_os_str()) {
                staging.inputs.push(input.clone());
                continue;
            }
            let url = input.to_string_lossy().into_owned();
            let root = staging.dir.path().join(format!("in{n}"));
            let listed = Location::parse(&url).and_then(|loc| {
                let objects = loc.list()?;
                Ok((loc, objects))
            });
            match listed {
                Err(e) => {
                    staging.errors.push((input.clone(), e));
                }
                Ok((loc, objects)) if objects.is_empty() => match loc.head() {
                    // A single object: staged as a file of its name.
                    Ok(Some(size)) => {
                        let name = loc.url.rsplit('/').next().unwrap_or("object");
                        let file = root.join(name);
                        sparse_file(&file, size).map_err(io)?;
                        remember_size(&loc.url, size);
                        staging.mirrors.push(Mirror {
                            local: file.clone(),
                            url: loc.url.clone(),
                        });
                        staging.inputs.push(file);
                    }
                    Ok(None) => staging
                        .errors
                        .push((input.clone(), "no objects under this prefix".into())),
                    Err(e) => staging.errors.push((input.clone(), e)),
                },
                Ok((loc, objects)) => {
                    std::fs::create_dir_all(&root).map_err(io)?;
                    for (rel, size) in objects {
                        let Some(path) = safe_relative(&rel) else {
                            continue;
                        };
                        // A key that is also a "folder" of other keys cannot be mirrored;
                        // it fails later as unreadable rather than stopping the listing.
                        if sparse_file(&root.join(path), size).is_ok() {
                            remember_size(&format!("{}/{rel}", loc.url), size);
                        }
                    }
                    staging.mirrors.push(Mirror {
                        local: root.clone(),
                        url: loc.url.clone(),
                    });
                    staging.inputs.push(root);
                }
            }
        }
        if is_remote(output.as_os_str()) {
            let url = output.to_string_lossy().into_owned();
            let loc = Location::parse(&url)?;
            let root = staging.dir.path().join("out");
            std::fs::create_dir_all(&root).map_err(io)?;
            if list_output {
                // Existing outputs as empty placeholders: --skip-existing sees them.
                for (rel, _) in loc.list()? {
                    if let Some(path) = safe_relative(&rel) {
                        let _ = sparse_file(&root.join(path), 0);
                    }
                }
            }
            staging.mirrors.push(Mirror {
                local: root.clone(),
                url: loc.url.clone(),
            });
            staging.output = root;
        }
        Ok(staging)
    }

    /// `path` (in a staging folder) as the remote name it stands for; other paths unchanged.
    pub fn remote_name(&self, path: &Path) -> PathBuf {
        for m in &self.mirrors {
            if let Ok(rel) = path.strip_prefix(&m.local) {
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if rel.is_empty() {
                    return PathBuf::from(&m.url);
                }
                return PathBuf::from(format!("{}/{}", m.url, rel.join("/")));
            }
        }
        path.to_path_buf()
    }

    /// The staging folder itself.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn remember_size(url: &str, size: u64) {
    if let Ok(mut m) = listed_sizes().write() {
        m.insert(url.to_string(), size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_recognised() {
        assert!(is_remote(OsStr::new("s3://b/k")));
        assert!(is_remote(OsStr::new("gs://b")));
        assert!(is_remote(OsStr::new("az://c/p")));
        assert!(!is_remote(OsStr::new("s3:/b")));
        assert!(!is_remote(OsStr::new("photos/s3://x")));
    }

    #[test]
    fn unsafe_keys_are_not_mirrored() {
        assert!(safe_relative("a/../b").is_none());
        assert!(safe_relative("a//b").is_none());
        assert!(safe_relative("dir/").is_none());
        assert_eq!(safe_relative("a/b.jpg"), Some(PathBuf::from("a/b.jpg")));
    }

    #[test]
    fn urls_are_parsed_without_a_network() {
        std::env::set_var("AWS_REGION", "us-east-1");
        let l = Location::parse("s3://bucket/some/prefix/").unwrap();
        assert_eq!(l.url, "s3://bucket/some/prefix");
        assert_eq!(
            l.join("x.png").unwrap().url,
            "s3://bucket/some/prefix/x.png"
        );
        assert!(Location::parse("s3:///x").is_err());
        assert!(Location::parse("ftp://x/y").is_err());
    }
}
