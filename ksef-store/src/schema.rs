//! The database schema and its versioned migrations (`PRAGMA user_version`).
//!
//! Each migration runs in its own transaction together with the version bump, so a database is
//! always at exactly one known version. A database newer than this code is refused.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Migrations, in order; migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: invoices, the keys that stored them, checkpoints, the packages log.
    "
    CREATE TABLE invoices (
        seq                    INTEGER PRIMARY KEY AUTOINCREMENT,
        ksef_number            TEXT    NOT NULL UNIQUE,
        seller_nip             TEXT    NOT NULL,
        buyer_id_type          TEXT    NOT NULL,
        buyer_id               TEXT,
        invoice_number         TEXT    NOT NULL,
        issue_date             TEXT    NOT NULL,  -- YYYY-MM-DD
        invoicing_date         INTEGER NOT NULL,  -- ns since the epoch, UTC
        acquisition_date       INTEGER NOT NULL,
        permanent_storage_date INTEGER NOT NULL,
        invoice_hash           TEXT    NOT NULL,  -- Base64 SHA-256 of the XML
        file                   TEXT    NOT NULL,  -- relative to the store's root
        size                   INTEGER NOT NULL,
        metadata               TEXT    NOT NULL,  -- InvoiceMetadata as JSON
        stored_at              INTEGER NOT NULL
    );
    CREATE INDEX invoices_seller ON invoices (seller_nip);
    CREATE INDEX invoices_buyer ON invoices (buyer_id_type, buyer_id);
    CREATE INDEX invoices_issue ON invoices (issue_date);
    CREATE INDEX invoices_invoicing ON invoices (invoicing_date);
    CREATE INDEX invoices_acquisition ON invoices (acquisition_date);
    CREATE INDEX invoices_storage ON invoices (permanent_storage_date);

    CREATE TABLE invoice_keys (
        context TEXT    NOT NULL,
        subject TEXT    NOT NULL,
        seq     INTEGER NOT NULL REFERENCES invoices (seq),
        PRIMARY KEY (context, subject, seq)
    ) WITHOUT ROWID;
    CREATE INDEX invoice_keys_seq ON invoice_keys (seq);

    CREATE TABLE checkpoints (
        context    TEXT    NOT NULL,
        subject    TEXT    NOT NULL,
        next_from  INTEGER NOT NULL,
        hwm        INTEGER,
        updated_at INTEGER NOT NULL,
        packages   INTEGER NOT NULL,
        PRIMARY KEY (context, subject)
    ) WITHOUT ROWID;

    CREATE TABLE packages (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        context          TEXT    NOT NULL,
        subject          TEXT    NOT NULL,
        export_reference TEXT    NOT NULL,
        window_from      INTEGER NOT NULL,
        window_to        INTEGER,
        truncated        INTEGER NOT NULL,
        invoices         INTEGER NOT NULL,
        new_invoices     INTEGER NOT NULL,
        next_from        INTEGER NOT NULL,
        stored_at        INTEGER NOT NULL
    );
    ",
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(crate::error::sql("reading the schema version"))?;
    if current > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let version = i as i64 + 1;
        let fail = |source| Error::Migrate { version, source };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(version, "store schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        migrate(&mut c).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(migrate(&mut c), Err(Error::SchemaTooNew { .. })));
    }
}
