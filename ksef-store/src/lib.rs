//! The embedded store of `ksef-rs`: invoices synchronised from KSeF, kept in a directory with a
//! SQLite database (bundled, no server) and the invoices' XML files, exactly as KSeF delivered
//! them. [`SqliteStore`] implements [`ksef_flows::sync::SyncStore`], so an
//! [`IncrementalSync`](ksef_flows::sync::IncrementalSync) fills it crash-safely.
//!
//! ```no_run
//! # async fn demo(auth: ksef_flows::AuthSession) -> Result<(), Box<dyn std::error::Error>> {
//! use ksef_flows::sync::{IncrementalSync, StoreQuery, SyncOptions, SyncStore as _};
//! use ksef_store::SqliteStore;
//!
//! let store = SqliteStore::open("ksef-data")?;
//! let since = store.last_seq().await?;
//! let start = chrono::Utc::now() - chrono::Duration::days(30);
//! IncrementalSync::new(&auth, &store, SyncOptions::new(start)).run().await?;
//! for inv in store.query(&StoreQuery::all().stored_after(since)).await? {
//!     println!("new: {} from {}", inv.ksef_number, inv.metadata.seller.nip.0);
//! }
//! # Ok(()) }
//! ```
//!
//! Layout of the store's directory:
//! * `ksef.sqlite3`: invoices (metadata, file, hash), which synchronisation keys stored them,
//!   checkpoints per (context, subject type), a log of packages. WAL mode; versioned schema.
//! * `xml/YYYY-MM/{ksefNumber}.xml`: the invoices (month of the KSeF number's date).
//! * `staging/`: packages being committed (leftovers of crashed processes are removed on open).
//!
//! Every database call runs on one dedicated thread that owns the connection; async callers
//! await it without blocking their runtime.

mod error;
mod schema;
mod store;
mod worker;

pub use error::{Error, Result};
pub use schema::SCHEMA_VERSION;
pub use store::{Consistency, DATABASE_FILE, STAGING_DIR, SqliteStore, StoreOptions, XML_DIR};
