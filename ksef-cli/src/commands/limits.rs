//! `ksef limits` and `ksef rate-limits`.

use crate::connect::{Ctx, with_session};
use crate::exit::CliResult;

fn flatten(prefix: &str, v: &serde_json::Value, rows: &mut Vec<Vec<String>>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, rows);
            }
        }
        serde_json::Value::Null => {}
        other => rows.push(vec![prefix.to_string(), other.to_string()]),
    }
}

pub async fn limits(ctx: &Ctx) -> CliResult {
    with_session(ctx, |_, _, auth| async move {
        let l = auth.limits().await?;
        ctx.out.json(&l);
        let mut rows = Vec::new();
        flatten("", &serde_json::to_value(&l).unwrap_or_default(), &mut rows);
        ctx.out.table(&["LIMIT", "VALUE"], &rows);
        Ok(())
    })
    .await
}

pub async fn rate_limits(ctx: &Ctx) -> CliResult {
    with_session(ctx, |_, _, auth| async move {
        let r = auth.rate_limits().await?;
        ctx.out.json(&r);
        let v = serde_json::to_value(&r).unwrap_or_default();
        let cell = |g: &serde_json::Value, k: &str| match g.get(k).and_then(|n| n.as_i64()) {
            Some(n) if n < 0 => "unlimited".to_string(),
            Some(n) => n.to_string(),
            None => "-".to_string(),
        };
        let rows: Vec<Vec<String>> = v
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(group, g)| {
                        vec![
                            group.clone(),
                            cell(g, "perSecond"),
                            cell(g, "perMinute"),
                            cell(g, "perHour"),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default();
        ctx.out
            .table(&["GROUP", "PER SECOND", "PER MINUTE", "PER HOUR"], &rows);
        Ok(())
    })
    .await
}
