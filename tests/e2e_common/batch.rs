//! Helpers of the batch tests: invoice sets with known expected outcomes, and the server's view
//! of a context (its batch sessions, the invoices each one accepted).

use std::collections::HashMap;

use ksef_flows::api::types::SessionType;
use ksef_flows::batch::BatchInput;
use ksef_flows::crypto::Nip;
use ksef_flows::sample::SampleInvoice;
use ksef_flows::{AuthSession, Ksef};

/// What an input is expected to become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Accepted,
    /// Rejected by KSeF with this code.
    Rejected(i32),
    /// Stopped by pre-flight.
    Stopped,
}

/// `n` inputs of `nip`: every `reject_every`-th is issued tomorrow (KSeF rejects it with 450),
/// the positions in `broken` are not well-formed XML (pre-flight stops them), the rest valid.
/// Invoice numbers carry `tag` so that batches of one context do not collide.
pub fn invoice_set(
    ksef: &Ksef,
    nip: &Nip,
    tag: &str,
    n: usize,
    reject_every: usize,
    broken: &[usize],
) -> (Vec<(String, Vec<u8>)>, Vec<Expect>) {
    let now = ksef.now();
    let tomorrow = ksef.today().succ_opt().unwrap();
    let mut inputs = Vec::with_capacity(n);
    let mut expect = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("{tag}/FV-{i}.xml");
        if broken.contains(&i) {
            inputs.push((name, format!("<Faktura><P_2>{i}</Faktura>").into_bytes()));
            expect.push(Expect::Stopped);
            continue;
        }
        let mut inv =
            SampleInvoice::new_at(nip.as_str(), &format!("{tag}/{i}"), now).net(1000 + i as u64);
        let e = if reject_every > 0 && i % reject_every == reject_every - 1 {
            inv = inv.issued(tomorrow);
            Expect::Rejected(450)
        } else {
            Expect::Accepted
        };
        inputs.push((name, inv.to_xml()));
        expect.push(e);
    }
    (inputs, expect)
}

pub fn as_inputs(set: &[(String, Vec<u8>)]) -> Vec<BatchInput> {
    set.iter()
        .map(|(n, b)| BatchInput::bytes(n.clone(), b.clone()))
        .collect()
}

/// A batch session of the context as KSeF lists it.
#[derive(Debug, Clone)]
pub struct ServerSession {
    pub reference_number: String,
    pub code: i32,
    pub total: i32,
}

/// A read-only call of the raw client, tried up to three times: the raw client has no retries,
/// and a pooled connection the server closed (after answering a part upload early, before its
/// body was read) fails the next request sent on it.
async fn safe_get<T, E, F, Fut>(mut call: F) -> T
where
    E: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<ksef_flows::api::ResponseValue<T>, E>>,
{
    for _ in 1..3 {
        if let Ok(r) = call().await {
            return r.into_inner();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    call().await.unwrap().into_inner()
}

/// Every batch session of the authenticated context (`GET /sessions`, raw client).
pub async fn batch_sessions(auth: &AuthSession) -> Vec<ServerSession> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = safe_get(|| {
            let mut b = auth
                .api()
                .sessions_list()
                .session_type(SessionType::Batch)
                .page_size(100);
            if let Some(t) = &token {
                b = b.x_continuation_token(t.clone());
            }
            b.send()
        })
        .await;
        for s in page.sessions {
            out.push(ServerSession {
                reference_number: s.reference_number.0,
                code: s.status.code,
                total: s.total_invoice_count,
            });
        }
        match page.continuation_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return out,
        }
    }
}

/// How many times each invoice hash was accepted (status 200) in the context's batch sessions.
pub async fn accepted_hashes(auth: &AuthSession) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for s in batch_sessions(auth).await {
        let mut token: Option<String> = None;
        loop {
            let page = safe_get(|| {
                let mut b = auth
                    .api()
                    .session_invoices()
                    .reference_number(s.reference_number.clone())
                    .page_size(1000);
                if let Some(t) = &token {
                    b = b.x_continuation_token(t.clone());
                }
                b.send()
            })
            .await;
            for inv in page.invoices {
                if inv.status.code == 200 {
                    *counts.entry(inv.invoice_hash.0).or_insert(0) += 1;
                }
            }
            match page.continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
    }
    counts
}
