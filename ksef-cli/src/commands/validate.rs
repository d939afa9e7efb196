//! `ksef validate FILES…`: pre-flight checks only, nothing is sent.

use serde_json::json;

use crate::cli::ValidateArgs;
use crate::connect::Ctx;
use crate::exit::{CliError, CliResult, Exit};

pub fn run(ctx: &Ctx, a: &ValidateArgs) -> CliResult {
    let mut rows = Vec::new();
    let mut failed = 0usize;
    for path in &a.files {
        let name = path.display().to_string();
        let result = std::fs::read(path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|bytes| ksef_flows::crypto::preflight(&bytes).map_err(|e| e.to_string()));
        match result {
            Ok(f) => {
                ctx.out.json_line(&json!({
                    "file": name,
                    "valid": true,
                    "form": f.form_code.system_code(),
                    "size": f.size,
                    "sha256": f.sha256_b64(),
                    "sellerNip": f.seller_nip,
                    "issueDate": f.issue_date,
                    "invoiceNumber": f.invoice_number,
                }));
                rows.push(vec![
                    name,
                    "ok".into(),
                    format!(
                        "{} {} {} bytes{}",
                        f.form_code.system_code(),
                        f.invoice_number.as_deref().unwrap_or("-"),
                        f.size,
                        if f.seller_nip_checksum_ok {
                            ""
                        } else {
                            " (seller NIP checksum is wrong: production rejects it)"
                        }
                    ),
                ]);
            }
            Err(e) => {
                failed += 1;
                ctx.out
                    .json_line(&json!({ "file": name, "valid": false, "error": e }));
                rows.push(vec![name, "INVALID".into(), e]);
            }
        }
    }
    ctx.out.table(&["FILE", "RESULT", "DETAILS"], &rows);
    if failed > 0 {
        return Err(CliError::new(
            Exit::Failure,
            anyhow::anyhow!("{failed} of {} files failed validation", a.files.len()),
        ));
    }
    Ok(())
}
