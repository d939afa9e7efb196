//! Results of a processed batch session mapped back to the inputs, and the session UPO checked
//! against them.

use std::collections::{HashMap, HashSet};

use futures::TryStreamExt as _;
use ksef_api::types;

use super::input::index_of_entry;
use super::manifest::InputRecord;
use crate::auth::AuthSession;
use crate::error::{BatchInvoiceResult, InvoiceOutcome, UnmatchedInvoice};
use crate::error::{FlowError, Result};
use crate::sessions::InvoiceSelection;
use crate::upo::Upo;

/// Maps KSeF's per-invoice statuses to the inputs.
pub(crate) struct Matcher<'r> {
    records: &'r [InputRecord],
    by_hash: HashMap<&'r str, Vec<usize>>,
    outcomes: Vec<Option<InvoiceOutcome>>,
    claimed_by: HashMap<usize, String>,
    seen: HashSet<String>,
    pub(crate) unmatched: Vec<UnmatchedInvoice>,
}

impl<'r> Matcher<'r> {
    pub(crate) fn new(records: &'r [InputRecord]) -> Self {
        let mut by_hash: HashMap<&str, Vec<usize>> = HashMap::new();
        for r in records {
            if let Some(h) = r.hash.as_deref() {
                by_hash.entry(h).or_default().push(r.index);
            }
        }
        Self {
            records,
            by_hash,
            outcomes: records.iter().map(|_| None).collect(),
            claimed_by: HashMap::new(),
            seen: HashSet::new(),
            unmatched: Vec::new(),
        }
    }

    /// The input a listed invoice belongs to: by its file name (which carries the input's
    /// position), else by its hash among the inputs not yet matched.
    fn find(&self, s: &types::SessionInvoiceStatusResponse) -> Option<usize> {
        if let Some(name) = s.invoice_file_name.as_deref()
            && let Some(i) = index_of_entry(name)
            && self
                .records
                .get(i)
                .is_some_and(|r| r.entry.as_deref() == Some(name))
        {
            return Some(i);
        }
        self.by_hash
            .get(s.invoice_hash.0.as_str())?
            .iter()
            .copied()
            .find(|i| !self.claimed_by.contains_key(i))
    }

    pub(crate) fn add(&mut self, s: &types::SessionInvoiceStatusResponse) {
        let reference = s.reference_number.0.clone();
        let Some(i) = self.find(s) else {
            if self.seen.insert(reference) {
                self.unmatched.push(UnmatchedInvoice {
                    file_name: s.invoice_file_name.clone(),
                    invoice_hash: s.invoice_hash.0.clone(),
                    code: s.status.code,
                    ksef_number: s.ksef_number.as_ref().map(|k| k.0.clone()),
                });
            }
            return;
        };
        self.seen.insert(reference.clone());
        let expected = self.records.get(i).and_then(|r| r.hash.as_deref());
        if expected != Some(s.invoice_hash.0.as_str()) {
            if let Some(slot) = self.outcomes.get_mut(i) {
                *slot = Some(InvoiceOutcome::Unknown {
                    why: format!(
                        "KSeF lists this file ({}) with invoice hash {}, not the input's {}",
                        s.invoice_file_name.as_deref().unwrap_or("no name"),
                        s.invoice_hash.0,
                        expected.unwrap_or("-")
                    ),
                });
            }
            return;
        }
        match self.claimed_by.get(&i) {
            // the same invoice again (listed by both lists): the later, final status wins
            Some(r) if *r == reference => {}
            Some(_) => {
                self.unmatched.push(UnmatchedInvoice {
                    file_name: s.invoice_file_name.clone(),
                    invoice_hash: s.invoice_hash.0.clone(),
                    code: s.status.code,
                    ksef_number: s.ksef_number.as_ref().map(|k| k.0.clone()),
                });
                return;
            }
            None => {
                self.claimed_by.insert(i, reference);
            }
        }
        if let Some(slot) = self.outcomes.get_mut(i) {
            *slot = Some(InvoiceOutcome::from_status(s));
        }
    }

    /// One result per input; `why_missing` explains packed inputs KSeF did not list.
    pub(crate) fn finish(
        self,
        why_missing: &str,
    ) -> (Vec<BatchInvoiceResult>, Vec<UnmatchedInvoice>) {
        let results = self
            .records
            .iter()
            .zip(self.outcomes)
            .map(|(r, o)| {
                let outcome = match (o, &r.stopped) {
                    (Some(o), _) => o,
                    (None, Some(stopped)) => InvoiceOutcome::NotSent(stopped.to_error(r.index)),
                    (None, None) => InvoiceOutcome::Unknown {
                        why: why_missing.to_string(),
                    },
                };
                BatchInvoiceResult {
                    index: r.index,
                    name: r.name.clone(),
                    file_name: r.entry.clone(),
                    invoice_hash: r.hash.clone(),
                    outcome,
                }
            })
            .collect();
        (results, self.unmatched)
    }
}

/// Pages through `GET /sessions/{ref}/invoices` (and `/invoices/failed` when KSeF counts
/// failures), feeding every listed invoice to the matcher.
pub(crate) async fn collect(
    auth: &AuthSession,
    reference: &str,
    matcher: &mut Matcher<'_>,
    failed: bool,
) -> Result<usize> {
    let which = if failed {
        InvoiceSelection::Failed
    } else {
        InvoiceSelection::All
    };
    let mut listed = 0usize;
    let mut invoices = auth.all_session_invoices(reference, which, Some(1000));
    while let Some(inv) = invoices.try_next().await? {
        listed += 1;
        matcher.add(&inv);
    }
    Ok(listed)
}

/// Checks a session UPO page against the results: every document is an accepted input with
/// the same KSeF number and invoice hash, listed once.
pub(crate) fn check_upo(
    upo: &Upo,
    accepted: &HashMap<&str, &str>,
    seen: &mut HashSet<String>,
) -> Result<()> {
    for d in &upo.documents {
        match accepted.get(d.ksef_number.as_str()) {
            Some(hash) if *hash == d.invoice_hash => {}
            Some(hash) => {
                return Err(FlowError::UpoMismatch {
                    detail: format!(
                        "the UPO gives {} the invoice hash {}, the input's is {hash}",
                        d.ksef_number, d.invoice_hash
                    ),
                });
            }
            None => {
                return Err(FlowError::UpoMismatch {
                    detail: format!(
                        "the UPO lists {}, which is not an accepted input of this batch",
                        d.ksef_number
                    ),
                });
            }
        }
        if !seen.insert(d.ksef_number.clone()) {
            return Err(FlowError::UpoMismatch {
                detail: format!("the UPO lists {} twice", d.ksef_number),
            });
        }
    }
    Ok(())
}
